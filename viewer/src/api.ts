/**
 * The viewer's HTTP side: the network it draws (validated, since a malformed network would
 * otherwise fail deep inside geometry building) and a cheap probe that tells "token refused"
 * from "server gone" after a dropped connection.
 */
import { z } from 'zod';

const Line = z.array(z.number()).refine((l) => l.length >= 4 && l.length % 2 === 0, 'a line needs at least two x,y points');

export const NetworkViewSchema = z.object({
  name: z.string(),
  bounds: z.object({ minX: z.number(), minY: z.number(), maxX: z.number(), maxY: z.number() }),
  intersections: z.array(
    z.object({
      id: z.string(),
      x: z.number(),
      y: z.number(),
      virtual: z.boolean(),
      width: z.number(),
      movements: z.array(z.number().int()),
      phases: z.array(z.array(z.number().int())),
    }),
  ),
  roads: z.array(z.object({ id: z.string(), from: z.string(), to: z.string(), lanes: z.array(z.number().int()) })),
  lanes: z.array(
    z.object({ id: z.string(), road: z.number().int(), index: z.number().int(), width: z.number(), maxSpeed: z.number(), length: z.number(), line: Line }),
  ),
  movements: z.array(
    z.object({ id: z.string(), intersection: z.number().int(), type: z.string(), fromRoad: z.number().int(), toRoad: z.number().int(), laneLinks: z.array(z.number().int()) }),
  ),
  laneLinks: z.array(
    z.object({ id: z.string(), movement: z.number().int(), fromLane: z.number().int(), toLane: z.number().int(), length: z.number(), line: Line }),
  ),
});
export type NetworkView = z.infer<typeof NetworkViewSchema>;
export type IntersectionView = NetworkView['intersections'][number];

/** The server answered 401: the token is unknown or revoked. */
export class TokenRefusedError extends Error {
  constructor() {
    super('The server refused this token (unknown or revoked).');
  }
}

/** No answer at all: the service is down or the network is gone. */
export class ServerUnreachableError extends Error {
  constructor(cause: unknown) {
    super(`The server cannot be reached (${cause instanceof Error ? cause.message : String(cause)}).`);
  }
}

async function request(path: string, token: string | null, method = 'GET'): Promise<Response> {
  try {
    return await fetch(path, { method, headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
  } catch (e) {
    throw new ServerUnreachableError(e);
  }
}

export async function fetchNetwork(token: string): Promise<NetworkView> {
  const res = await request('api/network', token);
  if (res.status === 401) throw new TokenRefusedError();
  if (!res.ok) throw new Error(`GET /api/network answered ${res.status}`);
  const parsed = NetworkViewSchema.safeParse(await res.json());
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`the network from the server is not valid: ${first ? `${first.path.join('.')}: ${first.message}` : 'unknown problem'}`);
  }
  return parsed.data;
}

export type ServerProbe = 'ok' | 'token-refused' | 'unreachable';

/**
 * Why a WebSocket failed: a browser hides the HTTP status of a refused upgrade, so ask over
 * HTTP. HEAD keeps the network body off the wire (Hono answers HEAD with the GET route).
 */
export async function probeServer(token: string): Promise<ServerProbe> {
  try {
    const res = await request('api/network', token, 'HEAD');
    if (res.status === 401) return 'token-refused';
    return 'ok';
  } catch {
    return 'unreachable';
  }
}
