/**
 * The live connection: one WebSocket to /ws, re-opened with exponential backoff (and jitter, so a
 * restarted server is not hit by every viewer at once) and re-subscribed after each reconnect.
 * Each message is validated with the topic's zod schema before a handler sees it.
 */
import { probeServer } from './api.ts';
import type { z } from 'zod';
import { EnvelopeSchema, TopicSchemas, type KindOf, type MessageKind, type TopicData, type TopicName } from './streamSchemas.ts';

export type ConnectionStatus =
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'reconnecting'; attempt: number; retryAt: number }
  | { kind: 'server-gone'; attempt: number; retryAt: number }
  | { kind: 'token-refused' };

type Handler = (data: never) => void;

/** The schema table seen by topic name, for messages whose topic is only known at run time. */
const schemaTable: Record<string, Partial<Record<MessageKind, z.ZodType>>> = TopicSchemas;

export interface StreamClientOptions {
  token: string;
  /** Updates per second asked of the server (it sends at most one per simulation tick). */
  rate?: number;
  /** Silence after which the connection is checked with a ping, and then dropped (ms). */
  silenceMs?: number;
}

export class StreamClient {
  private ws: WebSocket | null = null;
  private readonly handlers = new Map<string, Handler[]>();
  private readonly statusListeners: ((s: ConnectionStatus) => void)[] = [];
  private current: ConnectionStatus = { kind: 'connecting' };
  private attempt = 0;
  private retryTimer: number | null = null;
  private watchdog: number | null = null;
  private lastMessageAt = 0;
  private pinged = false;
  private closed = false;
  /** Messages received per topic, and those refused by validation (for the test hooks). */
  readonly received: Record<string, number> = {};
  invalid = 0;

  constructor(private readonly options: StreamClientOptions) {}

  get status(): ConnectionStatus {
    return this.current;
  }

  /** Registers a handler for one kind of message of a topic; call before start(). */
  on<T extends TopicName, K extends KindOf<T>>(topic: T, kind: K, handler: (data: TopicData<T, K>) => void): void {
    const key = `${topic}/${kind}`;
    const list = this.handlers.get(key) ?? [];
    list.push(handler as Handler);
    this.handlers.set(key, list);
  }

  onStatus(listener: (s: ConnectionStatus) => void): void {
    this.statusListeners.push(listener);
    listener(this.current);
  }

  start(): void {
    this.closed = false;
    this.open();
    this.watchdog = window.setInterval(() => this.checkSilence(), 1000);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    if (this.watchdog !== null) window.clearInterval(this.watchdog);
    this.ws?.close();
    this.ws = null;
  }

  private topics(): TopicName[] {
    const names = new Set<TopicName>();
    for (const key of this.handlers.keys()) names.add(key.split('/')[0] as TopicName);
    return [...names];
  }

  private setStatus(s: ConnectionStatus): void {
    this.current = s;
    for (const l of this.statusListeners) l(s);
  }

  private open(): void {
    const url = new URL('ws', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', this.options.token);
    const ws = new WebSocket(url);
    this.ws = ws;
    this.pinged = false;
    this.lastMessageAt = performance.now();
    ws.addEventListener('message', (ev) => {
      if (ws !== this.ws) return;
      this.lastMessageAt = performance.now();
      this.pinged = false;
      if (typeof ev.data === 'string') this.dispatch(ev.data);
    });
    ws.addEventListener('close', () => {
      if (ws !== this.ws || this.closed) return;
      this.ws = null;
      void this.scheduleReconnect();
    });
  }

  private dispatch(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.invalid++;
      return;
    }
    const env = EnvelopeSchema.safeParse(raw);
    if (!env.success) {
      this.invalid++;
      return;
    }
    const msg = env.data;
    switch (msg.type) {
      case 'hello':
        // The server is ready for a subscription; a reconnect lands here too, so this resubscribes.
        this.attempt = 0;
        this.setStatus({ kind: 'connected' });
        {
          // Ask only for topics this server offers: it refuses a subscription naming any other.
          const offered = msg.topics;
          const topics = this.topics().filter((t) => !offered || offered.includes(t));
          if (topics.length > 0) this.send({ type: 'subscribe', topics, rate: this.options.rate ?? 5 });
        }
        return;
      case 'snapshot':
      case 'delta':
      case 'event':
        this.deliver(msg.topic, msg.type, msg.data);
        return;
      case 'error':
        console.warn(`stream: server refused a message: ${msg.message}`);
        return;
      case 'pong':
        return;
    }
  }

  private deliver(topic: string, kind: MessageKind, data: unknown): void {
    const list = this.handlers.get(`${topic}/${kind}`);
    if (!list) return;
    // A snapshot of null means the server has no source for the topic yet: nothing to show.
    if (data === null) return;
    const schema = schemaTable[topic]?.[kind];
    if (!schema) return;
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      this.invalid++;
      const first = parsed.error.issues[0];
      console.warn(`stream: ${topic} ${kind} refused: ${first ? `${first.path.join('.')}: ${first.message}` : 'invalid'}`);
      return;
    }
    this.received[topic] = (this.received[topic] ?? 0) + 1;
    for (const h of list) (h as (d: unknown) => void)(parsed.data);
  }

  private send(msg: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** A connection that went quiet (server stalled, network half-open) is pinged, then dropped. */
  private checkSilence(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const silent = performance.now() - this.lastMessageAt;
    const limit = this.options.silenceMs ?? 10_000;
    if (silent > limit && !this.pinged) {
      this.pinged = true;
      this.send({ type: 'ping', id: Date.now() });
    } else if (silent > limit * 1.5 && this.pinged) {
      ws.close();
    }
  }

  private async scheduleReconnect(): Promise<void> {
    this.attempt++;
    // 0.5 s, 0.85 s, 1.4 s, 2.5 s … capped at 10 s, each scaled by 0.5–1 at random.
    const delay = Math.min(10_000, 500 * 1.7 ** (this.attempt - 1)) * (0.5 + Math.random() * 0.5);
    const retryAt = Date.now() + delay;
    this.setStatus({ kind: 'reconnecting', attempt: this.attempt, retryAt });
    const probe = await probeServer(this.options.token);
    if (this.closed) return;
    if (probe === 'token-refused') {
      this.setStatus({ kind: 'token-refused' });
      return;
    }
    if (probe === 'unreachable') this.setStatus({ kind: 'server-gone', attempt: this.attempt, retryAt });
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) this.open();
    }, Math.max(0, retryAt - Date.now()));
  }
}
