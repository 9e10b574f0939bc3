/** Edge controllers: registration and state reports (controller role, own intersections only), and the list. */
import { createRoute, z } from '@hono/zod-openapi';
import { ControllerStateSchema, type ControllerRegistry } from '../../ControllerRegistry.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { errorBody, guard, mayActOn, rateLimit } from '../http.ts';

const RegisterSchema = z.object({ id: z.string().min(1).max(100), intersections: z.array(z.string().min(1)).min(1) }).openapi('RegisterController');

export function controllerRoutes(registry: ControllerRegistry, knownIntersection: (id: string) => boolean): RouteModule {
  return (app) => {
    app.openapi(
      createRoute(guard(['controller'], {
        method: 'post',
        path: '/api/controllers',
        summary: 'Register an edge controller for intersections it is bound to',
        request: { body: { required: true, content: { 'application/json': { schema: RegisterSchema } } } },
        responses: { 200: { description: 'Registered', content: { 'application/json': { schema: z.object({ id: z.string() }) } } }, ...errorResponses },
      })),
      async (c) => {
        const { id, intersections } = c.req.valid('json');
        const user = c.get('user');
        const unknown = intersections.filter((i) => !knownIntersection(i));
        if (unknown.length) return c.json(errorBody('unknown intersections', unknown.map((u) => ({ path: 'intersections', message: `no signalised intersection "${u}"` }))), 400);
        const foreign = intersections.filter((i) => !mayActOn(user, i));
        if (foreign.length) return c.json(errorBody(`not bound to ${foreign.join(', ')}`), 403);
        await registry.register(id, intersections);
        return c.json({ id }, 200);
      },
    );

    const StateBody = ControllerStateSchema.openapi('ControllerState');
    app.use('/api/controllers/:id/state', rateLimit('state reports', 50, 100));
    app.openapi(
      createRoute(guard(['controller'], {
        method: 'post',
        path: '/api/controllers/{id}/state',
        summary: "Heartbeat with the controller's signal state (SPaT) and mode",
        request: { params: z.object({ id: z.string().min(1) }), body: { required: true, content: { 'application/json': { schema: StateBody } } } },
        responses: {
          204: { description: 'Recorded' },
          404: { description: 'Not registered', content: { 'application/json': { schema: z.object({ error: z.object({ message: z.string() }) }) } } },
          ...errorResponses,
        },
      })),
      async (c) => {
        const { id } = c.req.valid('param');
        const state = c.req.valid('json');
        const user = c.get('user');
        if (!registry.isRegistered(id)) return c.json(errorBody(`controller ${id} is not registered`), 404);
        const foreign = state.intersections.map((s) => s.intersection).filter((i) => !mayActOn(user, i));
        if (foreign.length) return c.json(errorBody(`not bound to ${foreign.join(', ')}`), 403);
        await registry.heartbeat(id, state);
        return c.body(null, 204);
      },
    );

    app.openapi(
      createRoute(guard(['engineer', 'planner', 'viewer', 'dispatcher'], {
        method: 'get',
        path: '/api/controllers',
        summary: 'Edge controllers with their state and whether they are online',
        responses: { 200: { description: 'Controllers', content: { 'application/json': { schema: z.object({ controllers: z.array(z.object({}).passthrough()) }) } } }, ...errorResponses },
      })),
      (c) => c.json({ controllers: registry.list() }, 200),
    );
  };
}

