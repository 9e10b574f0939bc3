/**
 * Timing plans: engineers publish through the validator; controllers poll their own
 * intersections' plans with If-None-Match and may long-poll (`wait` seconds) for the next one.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Metrics } from '../../Metrics.ts';
import type { PlanStore } from '../../PlanStore.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { errorBody, guard, mayActOn, rateLimit } from '../http.ts';

const PublishSchema = z
  .object({
    /** A TimingPlan (signal-controllers/TimingPlan.ts); its version is assigned by the service. */
    plan: z.object({ intersection: z.string().min(1) }).passthrough(),
    reason: z.string().min(3).max(500),
  })
  .openapi('PublishPlan');

const ReasonSchema = z.object({ code: z.string(), message: z.string() });

export function planRoutes(plans: PlanStore, metrics: Metrics, pollRate = 50): RouteModule {
  return (app) => {
    app.openapi(
      createRoute(guard(['engineer'], {
        method: 'post',
        path: '/api/plans',
        summary: 'Publish a timing plan (engineer); unsafe plans are refused with the reasons',
        request: { body: { required: true, content: { 'application/json': { schema: PublishSchema } } } },
        responses: {
          201: { description: 'Published', content: { 'application/json': { schema: z.object({ intersection: z.string(), version: z.number() }) } } },
          404: { description: 'Unknown intersection', content: { 'application/json': { schema: z.object({ error: z.object({ message: z.string() }), reasons: z.array(ReasonSchema) }) } } },
          422: { description: 'Unsafe or malformed plan', content: { 'application/json': { schema: z.object({ error: z.object({ message: z.string() }), reasons: z.array(ReasonSchema) }) } } },
          ...errorResponses,
        },
      })),
      async (c) => {
        const { plan, reason } = c.req.valid('json');
        const r = await plans.publish(plan, c.get('user').name, reason);
        metrics.planPublishes.inc({ outcome: r.ok ? 'published' : 'refused' });
        if (!r.ok) return c.json({ error: { message: r.status === 404 ? 'unknown intersection' : 'plan refused by the safety validator' }, reasons: r.reasons }, r.status);
        return c.json({ intersection: r.current.plan.intersection, version: r.current.version }, 201);
      },
    );

    const Params = z.object({ intersection: z.string().min(1) });
    app.use('/api/plans/:intersection', rateLimit('plan polling', pollRate, 2 * pollRate));
    // The hot path of every controller: counters resolved once, not per poll by label lookup.
    const polled = { plan: metrics.planPolls.labels('plan'), notModified: metrics.planPolls.labels('not-modified'), none: metrics.planPolls.labels('none') };
    app.openapi(
      // Every role may read plans; a controller only those of its own intersections (checked below).
      createRoute(guard('any', {
        method: 'get',
        path: '/api/plans/{intersection}',
        summary: "The intersection's current plan; 304 if unchanged; ?wait=S long-polls for a new one",
        request: {
          params: Params,
          query: z.object({ wait: z.coerce.number().min(0).max(60).default(0) }),
        },
        // Documented, not run through a validator: it is only compared with the current ETag, and
        // a header validator would copy every request header on the hottest route.
        parameters: [{ in: 'header', name: 'if-none-match', required: false, schema: { type: 'string' }, description: 'ETag of the plan the controller has' }],
        responses: {
          200: { description: 'The current plan (ETag header)', content: { 'application/json': { schema: z.object({}).passthrough() } } },
          304: { description: 'Not modified' },
          404: { description: 'No plan yet or unknown intersection', content: { 'application/json': { schema: z.object({ error: z.object({ message: z.string() }) }) } } },
          429: { description: 'Rate limited', content: { 'application/json': { schema: z.object({ error: z.object({ message: z.string() }) }) } } },
          ...errorResponses,
        },
      })),
      async (c) => {
        const { intersection } = c.req.valid('param');
        const { wait } = c.req.valid('query');
        const user = c.get('user');
        if (!mayActOn(user, intersection)) return c.json(errorBody(`controller ${user.name} is not bound to ${intersection}`), 403);
        if (!plans.safetyOf(intersection)) return c.json(errorBody(`no signalised intersection "${intersection}"`), 404);
        const etag = c.req.header('if-none-match');
        // ETag compared before anything else; the body is the plan serialised once at publish.
        const now = plans.get(intersection);
        const cur = now && now.etag !== etag ? now : wait > 0 ? await plans.waitForChange(intersection, etag, wait * 1000) : null;
        if (!cur) {
          if (etag && plans.get(intersection)?.etag === etag) {
            polled.notModified.inc();
            return c.body(null, 304, { etag });
          }
          polled.none.inc();
          return c.json(errorBody(`no plan published for ${intersection} yet`), 404);
        }
        polled.plan.inc();
        return c.body(cur.json, 200, { etag: cur.etag, 'content-type': 'application/json' });
      },
    );

    app.openapi(
      createRoute(guard(['engineer', 'planner', 'viewer'], {
        method: 'get',
        path: '/api/plans/{intersection}/history',
        summary: 'Every published version of the intersection plan, newest first',
        request: { params: Params, query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) },
        responses: { 200: { description: 'Versions', content: { 'application/json': { schema: z.object({ versions: z.array(z.object({}).passthrough()) }) } } }, ...errorResponses },
      })),
      async (c) => {
        const { intersection } = c.req.valid('param');
        return c.json({ versions: await plans.history(intersection, c.req.valid('query').limit) }, 200);
      },
    );
  };
}
