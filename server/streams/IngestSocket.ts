/**
 * Sensor ingest over WebSocket at /ws/ingest, for integrators that keep a connection open
 * instead of posting each batch. Same batch as `POST /api/ingest` (`{messages: [...]}`, plus an
 * `id` the client chooses), same one ingest function (IngestService.accept), so the same
 * verdicts: each reading accepted, duplicate (by sensor and sequence) or rejected with a reason.
 * The `ack` for a batch is sent only once its accepted readings are durably stored; batches of
 * one connection are judged in the order sent, and acked in that order too.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { SensorBatchSchema } from '../../twin/sensors/messages.ts';
import type { AuthService, AuthUser } from '../auth/AuthService.ts';
import { allowedRoles, TokenBuckets, zodFields, type Access } from '../api/http.ts';
import type { IngestService } from '../IngestService.ts';

export const INGEST_SOCKET_PATH = '/ws/ingest';
/** Who may open the ingest socket (admin always may). */
export const INGEST_SOCKET_ACCESS: Access = ['integrator'];

export const IngestFrameSchema = z.discriminatedUnion('type', [
  SensorBatchSchema.extend({
    type: z.literal('batch'),
    /** Chosen by the client; echoed in the batch's ack or error. */
    id: z.union([z.string().min(1).max(200), z.number()]),
  }),
  z.object({ type: z.literal('ping'), id: z.number().optional() }),
]);
export type IngestFrame = z.infer<typeof IngestFrameSchema>;

export interface IngestSocketLimits {
  /** Batches accepted per second per user (bursts of twice that), as on the HTTP route. */
  perSecond: number;
  /** Batches of one connection waiting to be stored; more are refused until acks come back. */
  maxInFlight: number;
  /** Largest frame (bytes). */
  maxPayload: number;
}

/** Answers an upgrade with a JSON error and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: 401 | 403 | 404, message: string): void {
  const body = JSON.stringify({ error: { message } });
  const text = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status];
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** The bearer token of an upgrade request: `?token=` (browsers cannot set headers) or the header. */
export function upgradeToken(req: IncomingMessage): string | null {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const header = req.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return url.searchParams.get('token') ?? m?.[1] ?? null;
}

export class IngestSocket {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  private readonly buckets: TokenBuckets;
  private readonly allowed = new Set(allowedRoles(INGEST_SOCKET_ACCESS));

  constructor(
    private readonly auth: AuthService,
    private readonly ingest: IngestService,
    private readonly limits: IngestSocketLimits = { perSecond: 200, maxInFlight: 64, maxPayload: 64 << 20 },
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayload });
    this.buckets = new TokenBuckets(limits.perSecond, 2 * limits.perSecond);
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const token = upgradeToken(req);
    if (!token) return refuseUpgrade(socket, 401, 'missing bearer token');
    const user = await this.auth.authenticate(token);
    if (!user) return refuseUpgrade(socket, 401, 'invalid or revoked token');
    if (!this.allowed.has(user.role)) return refuseUpgrade(socket, 403, `role ${user.role} may not ingest (needs ${[...this.allowed].join(' or ')})`);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, user));
  }

  private accept(ws: WebSocket, user: AuthUser): void {
    this.sockets.add(ws);
    let chain: Promise<void> = Promise.resolve();
    let inFlight = 0;
    const send = (msg: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data) => {
      let frame: IngestFrame;
      try {
        const r = IngestFrameSchema.safeParse(JSON.parse(data.toString()));
        if (!r.success) {
          const raw = safeId(data.toString());
          send({ type: 'error', id: raw, message: 'invalid frame', fields: zodFields(r.error) });
          return;
        }
        frame = r.data;
      } catch {
        send({ type: 'error', message: 'frame is not JSON' });
        return;
      }
      if (frame.type === 'ping') {
        send({ type: 'pong', id: frame.id });
        return;
      }
      const { id, messages } = frame;
      const wait = this.buckets.take(user.id);
      if (wait > 0) {
        send({ type: 'error', id, message: `rate limit on ingest: ${this.limits.perSecond} batches/s`, retryAfterSeconds: Math.ceil(wait) });
        return;
      }
      if (inFlight >= this.limits.maxInFlight) {
        send({ type: 'error', id, message: `too many batches in flight (at most ${this.limits.maxInFlight}); wait for acks` });
        return;
      }
      inFlight++;
      // Judged at once, in the order sent (the twin's ingest runs before this handler returns), so
      // the next batch is validated while this one is being written and concurrent batches share a
      // commit; the answers wait their turn so acks leave in that order too.
      const stored = this.ingest.accept({ messages });
      // Handled below in turn; marked handled now so a failure before its turn is not "unhandled".
      stored.catch(() => undefined);
      chain = chain.then(async () => {
        try {
          const r = await stored;
          if (r.error) send({ type: 'error', id, message: r.error });
          else send({ type: 'ack', id, accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected, results: r.results });
        } catch (err) {
          // Not stored, so not acknowledged: the client keeps the batch and sends it again.
          send({ type: 'error', id, message: `not stored: ${err instanceof Error ? err.message : String(err)}` });
        } finally {
          inFlight--;
        }
      });
    });
    send({ type: 'hello', user: user.name, role: user.role, maxInFlight: this.limits.maxInFlight });
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    this.wss.close();
  }
}

/** The id of a frame that failed validation, if it has a usable one, so the client can match the error. */
function safeId(text: string): string | number | undefined {
  try {
    const id = (JSON.parse(text) as { id?: unknown } | null)?.id;
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}
