/**
 * RTAS: where each task is placed and the terms that decided it (engineers, viewers), and the
 * job channel of the edge agents that compute (controller role): long-poll for jobs, post results.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { PlanResultSchema } from '../../../signal-controllers/rtas/planJob.ts';
import type { ControllerRegistry } from '../../ControllerRegistry.ts';
import type { RtasScheduler } from '../../RtasScheduler.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { errorBody, guard, rateLimit } from '../http.ts';

const TermsSchema = z.object({ node: z.string(), latencyMs: z.number(), reliability: z.number(), alpha: z.number(), beta: z.number(), cost: z.number() });
const PlacementSchema = z
  .object({
    task: z.string(),
    cls: z.enum(['preemption', 'plan', 'forecast']),
    node: z.string(),
    chosen: TermsSchema,
    candidates: z.array(TermsSchema),
    reason: z.enum(['new', 'kept', 'cheaper', 'node-failed', 'over-share']),
    at: z.number(),
    from: z.string().optional(),
  })
  .openapi('RtasPlacement');

export function rtasRoutes(rtas: RtasScheduler, registry: ControllerRegistry): RouteModule {
  return (app) => {
    app.openapi(
      createRoute(
        guard(['engineer', 'viewer'], {
          method: 'get',
          path: '/api/rtas/placements',
          summary: 'Where each RTAS task runs and why: per placement the chosen node’s α·L and β·(1−R) terms and the runners-up; nodes with their measurements; recent moves',
          responses: {
            200: {
              description: 'Placements',
              content: {
                'application/json': {
                  schema: z.object({ time: z.number(), slaMs: z.number(), nodes: z.array(z.object({}).passthrough()), placements: z.array(PlacementSchema), moves: z.array(PlacementSchema) }),
                },
              },
            },
            ...errorResponses,
          },
        }),
      ),
      (c) => c.json(rtas.view(), 200),
    );

    app.use('/api/rtas/jobs', rateLimit('job polling', 20, 40));
    app.openapi(
      createRoute(
        guard(['controller'], {
          method: 'get',
          path: '/api/rtas/jobs',
          summary: 'Jobs placed on this edge node (long-poll up to `wait` seconds)',
          request: { query: z.object({ node: z.string().min(1).max(100), wait: z.coerce.number().min(0).max(30).default(0) }) },
          responses: {
            200: { description: 'Jobs', content: { 'application/json': { schema: z.object({ jobs: z.array(z.object({}).passthrough()) }) } } },
            404: { description: 'Not a registered controller', content: { 'application/json': { schema: z.object({ error: z.object({ message: z.string() }) }) } } },
            ...errorResponses,
          },
        }),
      ),
      async (c) => {
        const { node, wait } = c.req.valid('query');
        if (!registry.isRegistered(node)) return c.json(errorBody(`controller ${node} is not registered`), 404);
        return c.json({ jobs: await rtas.poll(node, wait * 1000) }, 200);
      },
    );

    app.openapi(
      createRoute(
        guard(['controller'], {
          method: 'post',
          path: '/api/rtas/jobs/{id}/result',
          summary: "An edge node's result for a job it was given",
          request: { params: z.object({ id: z.string().min(1) }), body: { required: true, content: { 'application/json': { schema: PlanResultSchema.openapi('PlanResult') } } } },
          responses: {
            204: { description: 'Accepted' },
            404: { description: 'No such job outstanding (done elsewhere or expired)', content: { 'application/json': { schema: z.object({ error: z.object({ message: z.string() }) }) } } },
            409: { description: 'The job is placed on another node', content: { 'application/json': { schema: z.object({ error: z.object({ message: z.string() }) }) } } },
            ...errorResponses,
          },
        }),
      ),
      (c) => {
        const { id } = c.req.valid('param');
        const r = rtas.result(id, c.req.valid('json'));
        if (r === 'unknown') return c.json(errorBody(`no job ${id} outstanding`), 404);
        if (r === 'wrong-node') return c.json(errorBody(`job ${id} is placed on another node now`), 409);
        return c.body(null, 204);
      },
    );
  };
}
