/**
 * Read routes for the viewer's panels (every human role): one intersection's current plan, its
 * controller as last reported, its approaches' detector and camera readings and its recent queue
 * and delay; the active alerts; controller health against the control-loop latency target.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { ALERT_KINDS, type AlertMonitor } from '../../AlertMonitor.ts';
import type { ControllerRegistry } from '../../ControllerRegistry.ts';
import type { IntersectionHistory } from '../../IntersectionHistory.ts';
import type { PlanStore } from '../../PlanStore.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { errorBody, guard } from '../http.ts';
import { ErrorSchema } from '../schemas.ts';
import { EDGE_MODES } from '../../../signal-controllers/edge/EdgeController.ts';

const READERS = ['engineer', 'planner', 'viewer', 'dispatcher'] as const;

const FaultSchema = z.object({ reason: z.string(), detail: z.string(), since: z.number() }).nullable();

const PlanPhaseSchema = z.object({ id: z.number(), movements: z.array(z.number()), minGreen: z.number(), maxGreen: z.number(), green: z.number(), yellow: z.number(), allRed: z.number() });

export const IntersectionDetailSchema = z
  .object({
    id: z.string(),
    /** Simulation time of the readings (s). */
    time: z.number(),
    plan: z
      .object({
        version: z.number(),
        publishedAt: z.string(),
        createdBy: z.string(),
        control: z.string(),
        cycle: z.number(),
        offset: z.number(),
        validFrom: z.number(),
        validUntil: z.number().nullable(),
        sequence: z.array(z.number()),
        phases: z.array(PlanPhaseSchema),
      })
      .nullable(),
    controller: z
      .object({
        id: z.string(),
        online: z.boolean(),
        mode: z.enum(EDGE_MODES).nullable(),
        lastHeartbeatMs: z.number().nullable(),
        lastLoopLatencyMs: z.number().nullable(),
        phase: z.number().nullable(),
        interval: z.enum(['green', 'change']).nullable(),
        timeToChange: z.number().nullable(),
        planVersion: z.number().nullable(),
      })
      .nullable(),
    detectors: z.array(
      z.object({
        id: z.string(),
        kind: z.string(),
        lane: z.string(),
        road: z.string(),
        count: z.number().nullable(),
        window: z.number(),
        occupancy: z.number(),
        age: z.number().nullable(),
        trusted: z.boolean(),
        fault: FaultSchema,
      }),
    ),
    cameras: z.array(
      z.object({
        id: z.string(),
        road: z.string(),
        lanes: z.array(z.object({ lane: z.string(), inView: z.number(), queue: z.number() })),
        age: z.number().nullable(),
        trusted: z.boolean(),
        fault: FaultSchema,
      }),
    ),
  })
  .openapi('IntersectionDetail');

export const IntersectionHistorySchema = z
  .object({ id: z.string(), every: z.number(), time: z.array(z.number()), queue: z.array(z.number()), delay: z.array(z.number().nullable()) })
  .openapi('IntersectionHistory');

export const AlertSchema = z.object({
  id: z.string(),
  kind: z.enum(ALERT_KINDS),
  severity: z.enum(['warning', 'critical']),
  message: z.string(),
  since: z.number(),
  place: z.object({ x: z.number(), y: z.number(), intersection: z.string().optional(), lane: z.string().optional() }),
});

export const ControllerHealthSchema = z
  .object({
    slaMs: z.number(),
    controllers: z.array(
      z.object({
        id: z.string(),
        intersections: z.array(z.string()),
        online: z.boolean(),
        mode: z.enum(EDGE_MODES).nullable(),
        lastHeartbeatMs: z.number().nullable(),
        lastLoopLatencyMs: z.number().nullable(),
        /** null when no latency was reported yet. */
        withinSla: z.boolean().nullable(),
      }),
    ),
  })
  .openapi('ControllerHealth');

export interface IntersectionRouteDeps {
  plans: PlanStore;
  controllers: ControllerRegistry;
  history: IntersectionHistory;
  alerts: AlertMonitor;
  simTime(): number;
  /** Control-loop latency target (sensor reading → plan applied at the edge), ms. */
  loopLatencySlaMs: number;
}

export function intersectionRoutes(d: IntersectionRouteDeps): RouteModule {
  return (app) => {
    const Params = z.object({ id: z.string().min(1).max(200) });
    const notFound = { 404: { description: 'No such signalised intersection', content: { 'application/json': { schema: ErrorSchema } } } };
    app.openapi(
      createRoute(guard(READERS, {
        method: 'get',
        path: '/api/intersections/{id}',
        summary: "A signalised intersection now: its plan, its controller's last report, its detector and camera readings",
        request: { params: Params },
        responses: { 200: { description: 'The intersection', content: { 'application/json': { schema: IntersectionDetailSchema } } }, ...notFound, ...errorResponses },
      })),
      (c) => {
        const { id } = c.req.valid('param');
        const time = d.simTime();
        const readings = d.history.readings(id, time);
        if (!readings) return c.json(errorBody(`no signalised intersection "${id}"`), 404);
        const cur = d.plans.get(id);
        const ctl = d.controllers.list().find((x) => x.intersections.includes(id));
        const mine = ctl?.state?.intersections.find((s) => s.intersection === id);
        return c.json(
          {
            id,
            time,
            plan: cur
              ? {
                  version: cur.version,
                  publishedAt: new Date(cur.publishedAt).toISOString(),
                  createdBy: cur.createdBy,
                  control: cur.plan.control,
                  cycle: cur.plan.cycle,
                  offset: cur.plan.offset,
                  validFrom: cur.plan.validFrom,
                  validUntil: cur.plan.validUntil,
                  sequence: cur.plan.sequence,
                  phases: cur.plan.phases.map((p) => ({ id: p.id, movements: p.movements, minGreen: p.minGreen, maxGreen: p.maxGreen, green: p.green, yellow: p.yellow, allRed: p.allRed })),
                }
              : null,
            controller: ctl
              ? {
                  id: ctl.id,
                  online: ctl.online,
                  mode: ctl.state?.mode ?? null,
                  lastHeartbeatMs: ctl.lastHeartbeatMs,
                  lastLoopLatencyMs: ctl.state?.lastLoopLatencyMs ?? null,
                  phase: mine?.phase ?? null,
                  interval: mine?.interval ?? null,
                  timeToChange: mine?.timeToChange ?? null,
                  planVersion: mine?.planVersion ?? null,
                }
              : null,
            ...readings,
          },
          200,
        );
      },
    );

    app.openapi(
      createRoute(guard(READERS, {
        method: 'get',
        path: '/api/intersections/{id}/history',
        summary: 'Queue and control delay per vehicle on the approaches, sampled each simulated minute (twin estimate)',
        request: { params: Params, query: z.object({ minutes: z.coerce.number().int().min(1).max(60).default(60) }) },
        responses: { 200: { description: 'Samples, oldest first', content: { 'application/json': { schema: IntersectionHistorySchema } } }, ...notFound, ...errorResponses },
      })),
      (c) => {
        const { id } = c.req.valid('param');
        const { minutes } = c.req.valid('query');
        const s = d.history.series(id, minutes * 60);
        if (!s) return c.json(errorBody(`no signalised intersection "${id}"`), 404);
        return c.json({ id, ...s }, 200);
      },
    );

    app.openapi(
      createRoute(guard(READERS, {
        method: 'get',
        path: '/api/alerts',
        summary: 'Active alerts: faulty sensors, spill-back, controllers offline or in fallback (also the alerts stream topic)',
        responses: {
          200: { description: 'Alerts', content: { 'application/json': { schema: z.object({ time: z.number(), version: z.number(), alerts: z.array(AlertSchema) }) } } },
          ...errorResponses,
        },
      })),
      (c) => c.json(d.alerts.state(), 200),
    );

    app.openapi(
      createRoute(guard(READERS, {
        method: 'get',
        path: '/api/control-health',
        summary: 'Each edge controller: online, mode, last heartbeat, control-loop latency against the target',
        responses: { 200: { description: 'Controller health', content: { 'application/json': { schema: ControllerHealthSchema } } }, ...errorResponses },
      })),
      (c) =>
        c.json(
          {
            slaMs: d.loopLatencySlaMs,
            controllers: d.controllers.list().map((x) => {
              const lat = x.state?.lastLoopLatencyMs ?? null;
              return {
                id: x.id,
                intersections: x.intersections,
                online: x.online,
                mode: x.state?.mode ?? null,
                lastHeartbeatMs: x.lastHeartbeatMs,
                lastLoopLatencyMs: lat,
                withinSla: lat === null ? null : lat <= d.loopLatencySlaMs,
              };
            }),
          },
          200,
        ),
    );
  };
}
