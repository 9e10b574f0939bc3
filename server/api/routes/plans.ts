/**
 * Timing plans: engineers publish through the validator; controllers poll their own
 * intersections' plans with If-None-Match and may long-poll (`wait` seconds) for the next one.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Metrics } from '../../Metrics.ts';
import type { CurrentPlan, PlanStore } from '../../PlanStore.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { errorBody, guard, mayActOn, rateLimit, validationHook } from '../http.ts';

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

    /**
     * The headers of a plan's answers, built once per plan version. Given to the Response as a
     * plain object with its length, the Node adapter writes them as they are; through
     * `c.body(…, headers)` Hono would build a Headers object on every poll and the adapter convert it back.
     */
    const answered = new WeakMap<CurrentPlan, { ok: Record<string, string>; notModified: Record<string, string> }>();
    const answers = (p: CurrentPlan) => {
      let a = answered.get(p);
      if (!a) {
        a = { ok: { etag: p.etag, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(p.json)) }, notModified: { etag: p.etag } };
        answered.set(p, a);
      }
      return a;
    };
    const Params = z.object({ intersection: z.string().min(1) });
    app.use('/api/plans/:intersection', rateLimit('plan polling', pollRate, 2 * pollRate));
    // The hot path of every controller: counters resolved once, not per poll by label lookup.
    const polled = { plan: metrics.planPolls.labels('plan'), notModified: metrics.planPolls.labels('not-modified'), none: metrics.planPolls.labels('none') };
    const PollQuery = z.object({ wait: z.coerce.number().min(0).max(60).default(0) });
    /** What a poll without a query string parses to (the common case), parsed once. */
    const noQuery = PollQuery.parse({});
    // Every role may read plans; a controller only those of its own intersections (checked below).
    const pollRoute = createRoute(guard('any', {
      method: 'get',
      path: '/api/plans/{intersection}',
      summary: "The intersection's current plan; 304 if unchanged; ?wait=S long-polls for a new one",
      request: { params: Params, query: PollQuery },
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
    }));
    // The hottest route: documented from its schemas as every route is, but its parameter and
    // query are validated here with the same schemas, synchronously, instead of by the two
    // asynchronous validator middlewares `app.openapi` would add (a third of the route's cost).
    app.openAPIRegistry.registerPath(pollRoute);
    for (const roleCheck of pollRoute.middleware) app.on('GET', '/api/plans/:intersection', roleCheck);
    app.get('/api/plans/:intersection', async (c) => {
      const param = Params.safeParse(c.req.param());
      if (!param.success) return validationHook({ success: false, error: param.error, target: 'param' }, c)!;
      const query = c.req.url.includes('?') ? PollQuery.safeParse(c.req.query()) : { success: true as const, data: noQuery };
      if (!query.success) return validationHook({ success: false, error: query.error, target: 'query' }, c)!;
      const { intersection } = param.data;
      const { wait } = query.data;
      const user = c.get('user');
      if (!mayActOn(user, intersection)) return c.json(errorBody(`controller ${user.name} is not bound to ${intersection}`), 403);
      if (!plans.safetyOf(intersection)) return c.json(errorBody(`no signalised intersection "${intersection}"`), 404);
      const etag = c.req.header('if-none-match');
      // ETag compared before anything else; the body is the plan serialised once at publish.
      const now = plans.get(intersection);
      const cur = now && now.etag !== etag ? now : wait > 0 ? await plans.waitForChange(intersection, etag, wait * 1000) : null;
      if (!cur) {
        const latest = plans.get(intersection);
        if (etag && latest?.etag === etag) {
          polled.notModified.inc();
          return new Response(null, { status: 304, headers: answers(latest).notModified });
        }
        polled.none.inc();
        return c.json(errorBody(`no plan published for ${intersection} yet`), 404);
      }
      polled.plan.inc();
      return new Response(cur.json, { status: 200, headers: answers(cur).ok });
    });

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
