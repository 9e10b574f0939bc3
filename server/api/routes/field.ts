/**
 * The field's wire to the edge processes: the roadnet they build their safety models and local
 * plans from, the head states they drive (controller role, own intersections only) and the
 * cabinets' status (who drives each intersection, holds, dark seconds).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { HeadReportSchema, type FieldCabinets } from '../../FieldCabinets.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { errorBody, guard, mayActOn, rateLimit } from '../http.ts';
import { serveStaticJson } from '../StaticJson.ts';

export function fieldRoutes(cabinets: FieldCabinets, roadnet: () => unknown, averageTravelTime: () => { averageTravelTime: number; finished: number }): RouteModule {
  return (app) => {
    serveStaticJson(
      app,
      guard('any', {
        method: 'get',
        path: '/api/field/roadnet',
        summary: "The field's roadnet (CityFlow format): what an edge process derives its safety models and local plans from (gzip when accepted; ETag)",
        responses: { 200: { description: 'Roadnet', content: { 'application/json': { schema: z.object({}).passthrough() } } }, 304: { description: 'Unchanged since the ETag given' }, ...errorResponses },
      }),
      roadnet,
    );

    app.openapi(
      createRoute(
        guard('any', {
          method: 'get',
          path: '/api/field/clock',
          summary: "The field's clock (s) and speed (field seconds per wall second): edge processes run their signals on it",
          responses: { 200: { description: 'Clock', content: { 'application/json': { schema: z.object({ time: z.number(), speed: z.number() }) } } }, ...errorResponses },
        }),
      ),
      (c) => c.json(cabinets.clock(), 200),
    );

    app.use('/api/field/heads', rateLimit('head reports', 100, 200));
    app.openapi(
      createRoute(
        guard(['controller'], {
          method: 'post',
          path: '/api/field/heads',
          summary: "An edge process's signal head states (changes since the last acknowledgement); answers the field clock",
          request: { body: { required: true, content: { 'application/json': { schema: HeadReportSchema.openapi('HeadReport') } } } },
          responses: {
            200: {
              description: 'Applied at the next field step',
              content: { 'application/json': { schema: z.object({ time: z.number(), speed: z.number(), acked: z.record(z.string(), z.number()), detectors: z.record(z.string(), z.object({}).passthrough()) }) } },
            },
            ...errorResponses,
          },
        }),
      ),
      (c) => {
        const body = c.req.valid('json');
        const foreign = body.intersections.map((i) => i.intersection).filter((i) => !mayActOn(c.get('user'), i));
        if (foreign.length) return c.json(errorBody(`not bound to ${foreign.join(', ')}`), 403);
        const r = cabinets.report(body);
        if ('error' in r) return c.json(errorBody(r.error, [{ path: r.path, message: r.error }]), 400);
        return c.json(r, 200);
      },
    );

    app.openapi(
      createRoute(
        guard(['engineer', 'viewer', 'planner'], {
          method: 'get',
          path: '/api/field/status',
          summary: "The field's cabinets: who drives each intersection, holds, unsafe commands, dark seconds; the field's ATT",
          responses: { 200: { description: 'Status', content: { 'application/json': { schema: z.object({}).passthrough() } } }, ...errorResponses },
        }),
      ),
      (c) => c.json({ ...cabinets.status(), ...averageTravelTime() }, 200),
    );
  };
}
