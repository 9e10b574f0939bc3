/**
 * Emergency routing: dispatchers request and cancel routes with signal pre-emption, viewer-level
 * roles read them; edge controllers long-poll the pre-emption windows of their own
 * intersections the way they poll plans (ETag / If-None-Match, `wait` seconds).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { CreateEmergencySchema, EmergencyRequestError, EmergencyViewSchema, type EmergencyService } from '../../EmergencyService.ts';
import type { PreemptionBoard } from '../../PreemptionBoard.ts';
import { ErrorSchema, errorResponses } from '../schemas.ts';
import type { RouteModule } from '../app.ts';
import { errorBody, guard, mayActOn, rateLimit } from '../http.ts';
import { PreemptionFeedSchema } from '../../../signal-controllers/edge/Preemption.ts';

const DISPATCH = ['dispatcher'] as const;
const READ = ['dispatcher', 'engineer', 'planner', 'viewer'] as const;

export function emergencyRoutes(emergency: EmergencyService, board: PreemptionBoard, isSignalised: (intersection: string) => boolean, pollRate = 50): RouteModule {
  return (app) => {
    app.openapi(
      createRoute(
        guard(DISPATCH, {
          method: 'post',
          path: '/api/emergency/routes',
          summary: 'Route an emergency vehicle (dispatcher): fastest route, alternatives, pre-emption windows; the vehicle is sent into the field',
          request: { body: { required: true, content: { 'application/json': { schema: CreateEmergencySchema } } } },
          responses: {
            201: { description: 'Routed and dispatched', content: { 'application/json': { schema: EmergencyViewSchema } } },
            422: { description: 'No route between the two places', content: { 'application/json': { schema: ErrorSchema } } },
            ...errorResponses,
          },
        }),
      ),
      async (c) => {
        try {
          return c.json(await emergency.create(c.req.valid('json'), c.get('user').name), 201);
        } catch (e) {
          if (!(e instanceof EmergencyRequestError)) throw e;
          if (e.field) return c.json(errorBody('invalid request', [{ path: e.field, message: e.message }]), 400);
          return c.json(errorBody(e.message), 422);
        }
      },
    );

    app.openapi(
      createRoute(
        guard(READ, {
          method: 'get',
          path: '/api/emergency/routes',
          summary: 'Emergency requests, newest first, with live ETA, position and pre-emption states',
          responses: { 200: { description: 'Requests', content: { 'application/json': { schema: z.object({ requests: z.array(EmergencyViewSchema) }) } } }, ...errorResponses },
        }),
      ),
      (c) => c.json({ requests: emergency.list() }, 200),
    );

    const Id = z.object({ id: z.string().min(1) });
    app.openapi(
      createRoute(
        guard(READ, {
          method: 'get',
          path: '/api/emergency/routes/{id}',
          summary: 'One emergency request with its live state',
          request: { params: Id },
          responses: {
            200: { description: 'The request', content: { 'application/json': { schema: EmergencyViewSchema } } },
            404: { description: 'No such request', content: { 'application/json': { schema: ErrorSchema } } },
            ...errorResponses,
          },
        }),
      ),
      (c) => {
        const v = emergency.get(c.req.valid('param').id);
        return v ? c.json(v, 200) : c.json(errorBody(`no emergency request ${c.req.valid('param').id}`), 404);
      },
    );

    app.openapi(
      createRoute(
        guard(DISPATCH, {
          method: 'delete',
          path: '/api/emergency/routes/{id}',
          summary: 'Cancel an emergency request (dispatcher): every pre-emption is released, the signals return to their plans through clearance',
          request: { params: Id },
          responses: {
            200: { description: 'Cancelled (or already finished)', content: { 'application/json': { schema: EmergencyViewSchema } } },
            404: { description: 'No such request', content: { 'application/json': { schema: ErrorSchema } } },
            ...errorResponses,
          },
        }),
      ),
      async (c) => {
        const v = await emergency.cancel(c.req.valid('param').id, c.get('user').name);
        return v ? c.json(v, 200) : c.json(errorBody(`no emergency request ${c.req.valid('param').id}`), 404);
      },
    );

    app.use('/api/emergency/preemptions/:intersection', rateLimit('pre-emption polling', pollRate, 2 * pollRate));
    app.openapi(
      createRoute(
        guard(['controller', 'dispatcher', 'engineer', 'viewer'], {
          method: 'get',
          path: '/api/emergency/preemptions/{intersection}',
          summary: "The intersection's current pre-emption windows (controllers: their own); 304 if unchanged; ?wait=S long-polls",
          request: {
            params: z.object({ intersection: z.string().min(1) }),
            query: z.object({ wait: z.coerce.number().min(0).max(60).default(0) }),
            headers: z.object({ 'if-none-match': z.string().optional() }),
          },
          responses: {
            200: { description: 'The windows (ETag header)', content: { 'application/json': { schema: PreemptionFeedSchema } } },
            304: { description: 'Not modified' },
            404: { description: 'Unknown or unsignalised intersection', content: { 'application/json': { schema: ErrorSchema } } },
            429: { description: 'Rate limited', content: { 'application/json': { schema: ErrorSchema } } },
            ...errorResponses,
          },
        }),
      ),
      async (c) => {
        const { intersection } = c.req.valid('param');
        const user = c.get('user');
        if (!mayActOn(user, intersection)) return c.json(errorBody(`controller ${user.name} is not bound to ${intersection}`), 403);
        if (!isSignalised(intersection)) return c.json(errorBody(`no signalised intersection "${intersection}"`), 404);
        const etag = c.req.header('if-none-match');
        const feed = await board.waitForChange(intersection, etag, c.req.valid('query').wait * 1000);
        if (!feed) return c.body(null, 304, { etag: etag ?? '' });
        const { etag: tag, ...body } = feed;
        return c.json(body, 200, { etag: tag });
      },
    );
  };
}
