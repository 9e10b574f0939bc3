/**
 * What-if runs: planners ask (and cancel), every operator role reads. A run is accepted at once
 * (202) and goes on in a worker thread; progress is on the 'whatif' WebSocket topic and in
 * GET /api/whatif/{id}, the result there once done, the replay apart (it is large).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KPI_NAMES, StatSchema } from '../../../twin/whatif/Kpis.ts';
import { WHATIF_STATUSES, WhatIfRequestError, WhatIfRequestSchema, type WhatIfService } from '../../WhatIfService.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { ErrorSchema } from '../schemas.ts';
import { errorBody, guard } from '../http.ts';

const READERS = ['viewer', 'engineer', 'planner', 'dispatcher'] as const;
const PLANNERS = ['planner'] as const;

const StatusSchema = z.enum(WHATIF_STATUSES);
const RunSummarySchema = z
  .object({ id: z.string(), status: StatusSchema, progress: z.number().min(0).max(1), createdAt: z.string(), createdBy: z.string(), name: z.string().nullable() })
  .openapi('WhatIfRunSummary');

/** NaN (a statistic over no runs) is stored as null. */
const NullableStat = z.object({ mean: z.number().nullable(), min: z.number().nullable(), max: z.number().nullable(), std: z.number().nullable(), n: StatSchema.shape.n });
const ComparisonSchema = z.object({ baseline: NullableStat, scenario: NullableStat, difference: NullableStat.describe('scenario − baseline, per seed') });
const LaneQueueSchema = z.object({ lane: z.string(), road: z.string(), maxQueue: NullableStat });
const ResultSchema = z
  .object({
    name: z.string(),
    horizon: z.number(),
    seeds: z.array(z.number()),
    startTime: z.number(),
    kpis: z.record(z.enum(KPI_NAMES), ComparisonSchema).describe('att, attCompleted (s), stoppedDelay (veh·s), tripDelay (s), throughput, stopsPerVehicle, droppedTrips, reroutedVehicles, strandedVehicles'),
    worstQueues: z.object({ baseline: z.array(LaneQueueSchema), scenario: z.array(LaneQueueSchema) }),
    intersections: z.array(z.object({ intersection: z.string(), delay: ComparisonSchema, meanQueue: ComparisonSchema, maxQueue: ComparisonSchema })),
    perSeed: z.array(z.object({ seed: z.number() }).passthrough()),
    simulatedSeconds: z.number(),
    wallSeconds: z.number(),
    realTimeFactor: z.number(),
  })
  .passthrough()
  .openapi('WhatIfResult');
const RunSchema = RunSummarySchema.extend({
  updatedAt: z.string(),
  scenario: z.object({}).passthrough(),
  result: ResultSchema.nullable(),
  error: z.string().nullable(),
  hasReplay: z.boolean(),
}).openapi('WhatIfRun');
const ReplaySchema = z
  .object({
    run: z.enum(['scenario', 'baseline']),
    seed: z.number(),
    everySteps: z.number(),
    stepSeconds: z.number(),
    thinned: z.boolean(),
    frames: z.array(z.object({ time: z.number(), ids: z.array(z.number()), poses: z.array(z.number()).describe('x, y (m), heading (rad) per vehicle') })),
  })
  .openapi('WhatIfReplay');

const Params = z.object({ id: z.string().min(1).max(100) });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export function whatifRoutes(whatif: WhatIfService): RouteModule {
  return (app) => {
    // Reading is open to every operator role; asking and cancelling to planners (and admins).

    app.openapi(
      createRoute(guard(PLANNERS, {
        method: 'post',
        path: '/api/whatif',
        summary: "Run a what-if scenario against its baseline (planner); start defaults to the twin's current estimate",
        request: { body: { required: true, content: { 'application/json': { schema: WhatIfRequestSchema } } } },
        responses: {
          202: json(z.object({ id: z.string(), status: StatusSchema }), 'Accepted and queued'),
          ...errorResponses,
        },
      })),
      async (c) => {
        try {
          const run = await whatif.submit(c.req.valid('json'), c.get('user').name);
          return c.json({ id: run.id, status: run.status }, 202);
        } catch (e) {
          if (e instanceof WhatIfRequestError) return c.json(errorBody(e.message, e.fields), 400);
          throw e;
        }
      },
    );

    app.openapi(
      createRoute(guard(READERS, {
        method: 'get',
        path: '/api/whatif',
        summary: 'What-if runs, newest first',
        request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }) },
        responses: { 200: json(z.object({ runs: z.array(RunSummarySchema) }), 'Runs'), ...errorResponses },
      })),
      async (c) => c.json({ runs: await whatif.list(c.req.valid('query').limit) }, 200),
    );

    app.openapi(
      createRoute(guard(READERS, {
        method: 'get',
        path: '/api/whatif/{id}',
        summary: 'A run: status, progress, the scenario as run, and once done the comparison with the baseline',
        request: { params: Params },
        responses: { 200: json(RunSchema, 'The run'), 404: json(ErrorSchema, 'No such run'), ...errorResponses },
      })),
      async (c) => {
        const run = await whatif.get(c.req.valid('param').id);
        if (!run) return c.json(errorBody(`no what-if run ${c.req.valid('param').id}`), 404);
        return c.json(run as z.infer<typeof RunSchema>, 200);
      },
    );

    app.openapi(
      createRoute(guard(PLANNERS, {
        method: 'delete',
        path: '/api/whatif/{id}',
        summary: 'Cancel a queued or running run (planner); 409 once it has finished',
        request: { params: Params, query: z.object({ reason: z.string().min(3).max(500).optional() }) },
        responses: {
          200: json(z.object({ id: z.string(), status: z.literal('cancelled') }), 'Cancelled'),
          404: json(ErrorSchema, 'No such run'),
          409: json(ErrorSchema.extend({ status: StatusSchema }), 'Already finished'),
          ...errorResponses,
        },
      })),
      async (c) => {
        const { id } = c.req.valid('param');
        const r = await whatif.cancel(id, c.get('user').name, c.req.valid('query').reason);
        if (!r) return c.json(errorBody(`no what-if run ${id}`), 404);
        if (!r.ok) return c.json({ ...errorBody(`run ${id} has already finished (${r.status})`), status: r.status }, 409);
        return c.json({ id, status: 'cancelled' as const }, 200);
      },
    );

    app.openapi(
      createRoute(guard(READERS, {
        method: 'get',
        path: '/api/whatif/{id}/replay',
        summary: 'The replay of a finished run (vehicle poses every few steps), if its scenario asked for one',
        request: { params: Params },
        responses: {
          200: json(ReplaySchema, 'The replay'),
          404: json(ErrorSchema, 'No such run, or it recorded no replay'),
          409: json(ErrorSchema.extend({ status: StatusSchema }), 'Not finished yet'),
          ...errorResponses,
        },
      })),
      async (c) => {
        const { id } = c.req.valid('param');
        const r = await whatif.replay(id);
        if (!r) return c.json(errorBody(`no what-if run ${id}`), 404);
        if (r.status !== 'done') return c.json({ ...errorBody(`run ${id} is ${r.status}: a replay exists once it is done`), status: r.status }, 409);
        if (!r.replay) return c.json(errorBody(`run ${id} recorded no replay (scenario replay.enabled was false)`), 404);
        return c.json(r.replay, 200);
      },
    );
  };
}
