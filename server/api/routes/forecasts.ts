/**
 * Congestion forecasts over HTTP, for systems that poll rather than hold a WebSocket: the latest
 * refresh (every road, or the ones asked for) with the model's status and each method's running
 * accuracy, and one road's stored forecasts (one row every 5 simulated minutes) so they can be
 * laid against what followed. Any authenticated role may read them.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { ForecastsStateSchema, StoredRoadForecastSchema, type ForecastService } from '../../ForecastService.ts';
import { errorResponses, type RouteModule } from '../app.ts';
import { errorBody, guard } from '../http.ts';
import { ErrorSchema } from '../schemas.ts';

const errorContent = { 'application/json': { schema: ErrorSchema } };
const OFF = 'forecasting is off (FORECAST=0)';

export function forecastRoutes(forecasts: ForecastService | null): RouteModule {
  return (app) => {
    app.openapi(
      createRoute(
        guard('any', {
          method: 'get',
          path: '/api/forecasts',
          summary: 'The latest forecasts (refreshed each simulated minute): speed now, forecast speed and congestion level per horizon for every road or the roads asked for, with the running accuracy of each method',
          request: {
            query: z.object({
              roads: z
                .string()
                .regex(/^[^,]+(,[^,]+)*$/, 'comma-separated road ids')
                .optional()
                .openapi({ description: 'Only these roads (comma-separated ids); all when absent' }),
            }),
          },
          responses: {
            200: { description: 'The latest refresh', content: { 'application/json': { schema: ForecastsStateSchema } } },
            404: { description: 'Forecasting is off, or a road asked for does not exist', content: errorContent },
            503: { description: 'No forecast yet (the first simulated minute has not closed)', content: errorContent },
            ...errorResponses,
          },
        }),
      ),
      (c) => {
        if (!forecasts) return c.json(errorBody(OFF), 404);
        const state = forecasts.state;
        if (!state) return c.json(errorBody('no forecast yet: the first simulated minute has not closed'), 503);
        const { roads } = c.req.valid('query');
        if (roads === undefined) return c.json(state, 200);
        const asked = roads.split(',').map((id) => ({ id, index: forecasts.roadIndex(id) }));
        const unknown = asked.filter((r) => r.index < 0).map((r) => r.id);
        if (unknown.length) return c.json(errorBody(`no road ${unknown.map((r) => `"${r}"`).join(', ')}`, [{ path: 'roads', message: `unknown: ${unknown.join(', ')}` }]), 404);
        return c.json({ ...state, roads: asked.map((r) => state.roads[r.index]) }, 200);
      },
    );

    app.openapi(
      createRoute(
        guard('any', {
          method: 'get',
          path: '/api/forecasts/roads/{road}/history',
          summary: "One road's stored forecasts, newest first (one row every 5 simulated minutes): the speed then and the served forecast per horizon; page back with `before`",
          request: {
            params: z.object({ road: z.string().min(1) }),
            query: z.object({
              limit: z.coerce.number().int().min(1).max(2016).default(288).openapi({ description: 'Rows (default 288: a day)' }),
              before: z.coerce.number().int().positive().optional().openapi({ description: 'Only rows older than this row id' }),
            }),
          },
          responses: {
            200: {
              description: 'Stored forecasts, newest first',
              content: {
                'application/json': {
                  schema: z.object({ road: z.string(), horizonsMinutes: z.array(z.number().int()), unit: z.literal('km/h'), rows: z.array(StoredRoadForecastSchema) }).openapi('RoadForecastHistory'),
                },
              },
            },
            404: { description: 'Forecasting is off, or no such road', content: errorContent },
            ...errorResponses,
          },
        }),
      ),
      async (c) => {
        if (!forecasts) return c.json(errorBody(OFF), 404);
        const { road } = c.req.valid('param');
        const rows = await forecasts.storedHistory(road, c.req.valid('query'));
        if (rows === null) return c.json(errorBody(`no road "${road}"`), 404);
        return c.json({ road, horizonsMinutes: [...forecasts.horizonsMinutes], unit: 'km/h' as const, rows }, 200);
      },
    );
  };
}
