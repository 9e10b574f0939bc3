/** Response schemas shared by the routes. */
import { z } from '@hono/zod-openapi';

export const ErrorSchema = z
  .object({ error: z.object({ message: z.string(), fields: z.array(z.object({ path: z.string(), message: z.string() })).optional() }) })
  .openapi('Error');

export const errorResponses = {
  400: { description: 'Invalid request', content: { 'application/json': { schema: ErrorSchema } } },
  401: { description: 'Missing or invalid token', content: { 'application/json': { schema: ErrorSchema } } },
  403: { description: 'Role not allowed', content: { 'application/json': { schema: ErrorSchema } } },
};

