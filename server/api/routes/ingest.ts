/** Sensor ingest over HTTP: a batch in, a verdict per message out, acknowledged once stored. */
import { createRoute, z } from '@hono/zod-openapi';
import type { IngestService } from '../../IngestService.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { ErrorSchema } from '../schemas.ts';
import { errorBody, guard, rateLimit } from '../http.ts';

const VerdictSchema = z.object({
  index: z.number(),
  sensorId: z.string().optional(),
  seq: z.number().optional(),
  status: z.enum(['accepted', 'duplicate', 'rejected']),
  reason: z.string().optional(),
});

export function ingestRoutes(ingest: IngestService, perSecond = 200): RouteModule {
  return (app) => {
    app.use('/api/ingest', rateLimit('ingest', perSecond, 2 * perSecond));
    app.openapi(
      createRoute(guard(['integrator'], {
        method: 'post',
        path: '/api/ingest',
        summary: 'Sensor readings in a batch (integrator): each accepted, duplicate or rejected with a reason',
        request: {
          body: {
            required: true,
            content: {
              'application/json': {
                // Each message is validated on its own by the twin's ingest, so one bad reading does not sink the batch.
                schema: z.object({ messages: z.array(z.unknown()).max(100_000) }).openapi('SensorBatch'),
              },
            },
          },
        },
        responses: {
          200: {
            description: 'Verdicts; accepted readings are durably stored',
            content: {
              'application/json': {
                schema: z.object({ accepted: z.number(), duplicates: z.number(), rejected: z.number(), results: z.array(VerdictSchema) }).openapi('IngestResult'),
              },
            },
          },
          ...errorResponses,
          503: { description: 'Not stored (the database failed); nothing of the batch is acknowledged: send it again', content: { 'application/json': { schema: ErrorSchema } } },
        },
      })),
      async (c) => {
        let r;
        try {
          r = await ingest.accept(c.req.valid('json'));
        } catch (err) {
          // Not stored, so not acknowledged: the sender keeps the batch and sends it again.
          c.header('retry-after', '1');
          return c.json(errorBody(`not stored: ${err instanceof Error ? err.message : String(err)}; send the batch again`), 503);
        }
        if (r.error) return c.json(errorBody(r.error), 400);
        return c.json({ accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected, results: r.results }, 200);
      },
    );
  };
}
