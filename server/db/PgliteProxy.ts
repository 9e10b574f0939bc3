/**
 * Main-thread side of the PGlite worker (pgliteWorker.ts): the part of PGlite's client that
 * drizzle's PGlite driver calls (`query`, `transaction`), plus `copyFrom` for bulk loads, each
 * forwarded to the worker as one message. A query's result is what PGlite gives in-process
 * (rows are structured-cloned, so dates, JSON values and bigints arrive as they left).
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../twin/workerThread.ts';

export interface QueryResult<T = Record<string, unknown>> {
  rows: T[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
  txId?: number;
}

export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; params: unknown[]; rowMode?: 'array' | 'object'; rawTypes?: number[]; tx?: number }
  | { id: number; op: 'copy'; sql: string; text: string }
  | { id: number; op: 'begin' }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'close' };
type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export type WorkerReply =
  | { id: number; ok: true; result: QueryResult<unknown> }
  | { id: number; ok: false; error: { name: string; message: string; fields: Record<string, string> } };

/** Query options as drizzle passes them: a row mode and parsers (drizzle's are identity for date types). */
export interface QueryOptions {
  rowMode?: 'array' | 'object';
  parsers?: Record<number, unknown>;
}

export interface ProxyTransaction {
  query<T>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<T>>;
}

/** An error from the database with Postgres's fields (`code`, `constraint`, …) as PGlite gives them. */
export class DatabaseError extends Error {
  code?: string;
  detail?: string;
  constraint?: string;
}

export class PgliteProxy {
  private readonly pending = new Map<number, { resolve: (r: QueryResult<unknown>) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private dead: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(Object.assign(new DatabaseError(m.error.message), m.error.fields));
      // An idle worker does not keep the process alive; one with requests in flight does.
      if (this.pending.size === 0) {
        worker.unref();
        this.drained?.();
        this.drained = null;
      }
    });
    const fail = (e: Error) => {
      this.dead ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.drained?.();
      this.drained = null;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`PGlite worker exited (code ${code})`)));
  }

  /** Starts the worker on `dataDir`, applies the migrations there, and resolves once it answers. */
  static async start(dataDir: string, migrationsFolder: string): Promise<PgliteProxy> {
    const worker = startWorker(import.meta.url, 'pgliteWorker', { dataDir, migrationsFolder });
    const proxy = new PgliteProxy(worker);
    // Request 0 is the worker's "ready" (or its failure to open the database).
    await new Promise<QueryResult<unknown>>((resolve, reject) => proxy.pending.set(0, { resolve, reject }));
    return proxy;
  }

  private call(req: Request): Promise<QueryResult<unknown>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  private request<T>(sql: string, params: unknown[] = [], opts: QueryOptions = {}, tx?: number): Promise<QueryResult<T>> {
    const rawTypes = opts.parsers ? Object.keys(opts.parsers).map(Number) : undefined;
    return this.call({ op: 'query', sql, params, rowMode: opts.rowMode, rawTypes, tx }) as Promise<QueryResult<T>>;
  }

  query<T>(sql: string, params: unknown[] = [], opts: QueryOptions = {}): Promise<QueryResult<T>> {
    return this.request<T>(sql, params, opts);
  }

  /**
   * Runs `fn` in a transaction on the worker: PGlite holds its lock meanwhile, so other queries
   * wait as they would in-process. Committed if `fn` resolves, rolled back if it throws.
   */
  async transaction<T>(fn: (tx: ProxyTransaction) => Promise<T>): Promise<T> {
    const { txId } = await this.call({ op: 'begin' });
    const tx: ProxyTransaction = { query: (sql, params, opts) => this.request(sql, params, opts, txId) };
    let result: T;
    try {
      result = await fn(tx);
    } catch (e) {
      await this.call({ op: 'end', tx: txId!, commit: false });
      throw e;
    }
    await this.call({ op: 'end', tx: txId!, commit: true });
    return result;
  }

  /** `COPY … FROM '/dev/blob'` with `text` as its input; resolves with the rows loaded. */
  async copyFrom(sql: string, text: string): Promise<number> {
    return (await this.call({ op: 'copy', sql, text })).affectedRows ?? 0;
  }

  /**
   * Waits for the database to go idle (requests in flight, and those their answers lead to, for
   * at most 2 s: a handler's second query follows its first), then closes it and ends the worker.
   * Requests made after that are refused.
   */
  async close(): Promise<void> {
    if (this.dead) return;
    const until = performance.now() + 2000;
    while (performance.now() < until) {
      if (this.pending.size > 0) await new Promise<void>((r) => (this.drained = r));
      await new Promise((r) => setImmediate(r));
      if (this.pending.size === 0) break;
    }
    this.dead ??= new Error('database closed');
    const exited = new Promise((r) => this.worker.once('exit', r));
    const id = this.nextId++;
    await new Promise<QueryResult<unknown>>((resolve, reject) => {
      this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ op: 'close', id } satisfies WorkerRequest);
    });
    // The worker ends by itself once closed; should anything keep it alive, it is stopped.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
  /** Called when the last request in flight settles while closing. */
  private drained: (() => void) | null = null;
}

