/**
 * Live streams over WebSocket at /ws. A client subscribes to topics; it gets a snapshot of each
 * topic at once, then deltas at the rate it asked for (at most the service's tick rate).
 * A client that cannot keep up is thinned (updates skipped while its send buffer is above a soft
 * limit) and dropped above a hard limit, so no client can make the service buffer without bound.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import type { AuthService, AuthUser } from '../auth/AuthService.ts';
import type { Metrics } from '../Metrics.ts';

export const TOPICS = ['signals', 'lanes', 'vehicles', 'forecasts', 'controllers', 'alerts', 'whatif', 'emergency'] as const;
export type Topic = (typeof TOPICS)[number];

export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('subscribe'),
    topics: z.array(z.enum(TOPICS)).min(1),
    /** Updates per second wanted (default 2). */
    rate: z.number().positive().max(20).optional(),
  }),
  z.object({ type: z.literal('unsubscribe'), topics: z.array(z.enum(TOPICS)).min(1) }),
  z.object({ type: z.literal('ping'), id: z.number().optional() }),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/** What a topic provides: its current full state, and the change since a previous state. */
export interface TopicSource<S = unknown> {
  snapshot(): S;
  /** The part of `next` that differs from `prev`, or null if nothing changed. */
  delta?(prev: S, next: S): unknown | null;
}

interface Client {
  ws: WebSocket;
  user: AuthUser;
  topics: Map<Topic, { last: unknown; lastSentAt: number }>;
  intervalMs: number;
}

export interface StreamLimits {
  /** Above this many buffered bytes a client's updates are skipped. */
  thinBytes: number;
  /** Above this many buffered bytes a client is disconnected. */
  dropBytes: number;
}

export class StreamHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly clients = new Set<Client>();
  private readonly sources = new Map<Topic, TopicSource>();

  constructor(
    private readonly auth: AuthService,
    private readonly metrics: Metrics,
    private readonly limits: StreamLimits = { thinBytes: 256 * 1024, dropBytes: 4 * 1024 * 1024 },
  ) {}

  register<S>(topic: Topic, source: TopicSource<S>): void {
    this.sources.set(topic, source as TopicSource);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Handles an HTTP upgrade for /ws?token=…; other paths are refused. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    const header = req.headers.authorization;
    const token = url.searchParams.get('token') ?? (header?.startsWith('Bearer ') ? header.slice(7) : null);
    const user = token ? await this.auth.authenticate(token) : null;
    if (!user) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, user));
  }

  private accept(ws: WebSocket, user: AuthUser): void {
    const client: Client = { ws, user, topics: new Map(), intervalMs: 500 };
    this.clients.add(client);
    this.metrics.wsClients.set(this.clients.size);
    ws.on('message', (data) => this.onMessage(client, data.toString()));
    ws.on('close', () => {
      this.clients.delete(client);
      this.metrics.wsClients.set(this.clients.size);
    });
    ws.on('error', () => ws.terminate());
    this.send(client, { type: 'hello', user: user.name, role: user.role, topics: TOPICS });
  }

  private onMessage(client: Client, text: string): void {
    let parsed: ClientMessage;
    try {
      const r = ClientMessageSchema.safeParse(JSON.parse(text));
      if (!r.success) {
        this.send(client, { type: 'error', message: 'invalid message', fields: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
        return;
      }
      parsed = r.data;
    } catch {
      this.send(client, { type: 'error', message: 'message is not JSON' });
      return;
    }
    if (parsed.type === 'ping') {
      this.send(client, { type: 'pong', id: parsed.id });
      return;
    }
    if (parsed.type === 'unsubscribe') {
      for (const t of parsed.topics) client.topics.delete(t);
      return;
    }
    if (parsed.rate) client.intervalMs = 1000 / parsed.rate;
    for (const t of parsed.topics) {
      const src = this.sources.get(t);
      const snap = src ? src.snapshot() : null;
      client.topics.set(t, { last: snap, lastSentAt: performance.now() });
      this.send(client, { type: 'snapshot', topic: t, data: snap });
    }
  }

  /** Pushes the current state of every topic to the clients that are due (call once per tick). */
  publish(now = performance.now()): void {
    if (this.clients.size === 0) return;
    const snaps = new Map<Topic, unknown>();
    for (const client of this.clients) {
      const buffered = client.ws.bufferedAmount;
      if (buffered > this.limits.dropBytes) {
        this.metrics.wsDropped.inc();
        client.ws.terminate();
        this.clients.delete(client);
        this.metrics.wsClients.set(this.clients.size);
        continue;
      }
      for (const [topic, state] of client.topics) {
        if (now - state.lastSentAt < client.intervalMs - 1) continue;
        if (buffered > this.limits.thinBytes) {
          this.metrics.wsThinned.inc();
          continue;
        }
        const src = this.sources.get(topic);
        if (!src) continue;
        let snap = snaps.get(topic);
        if (snap === undefined) snaps.set(topic, (snap = src.snapshot()));
        const delta = src.delta ? src.delta(state.last, snap) : snap;
        state.lastSentAt = now;
        if (delta === null) continue;
        state.last = snap;
        this.send(client, { type: src.delta ? 'delta' : 'snapshot', topic, data: delta });
      }
    }
  }

  /** Sends an event to every client subscribed to `topic` (alerts, what-if progress). */
  broadcast(topic: Topic, data: unknown): void {
    for (const client of this.clients) if (client.topics.has(topic)) this.send(client, { type: 'event', topic, data });
  }

  private send(client: Client, msg: unknown): void {
    if (client.ws.readyState === client.ws.OPEN) client.ws.send(JSON.stringify(msg));
  }

  close(): void {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    this.wss.close();
  }
}
