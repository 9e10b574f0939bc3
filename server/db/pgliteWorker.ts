/**
 * The PGlite database in its own worker thread (started by Database.ts). PGlite runs Postgres
 * compiled to WebAssembly synchronously on the thread that calls it, so on the service's thread
 * every write would stop HTTP, validation and the tick; here it runs beside them on another core.
 * The worker owns the one PGlite instance of the data directory, applies the migrations, and then
 * answers requests from the main thread one message each, in the order PGlite runs them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import type { WorkerReply, WorkerRequest } from './PgliteProxy.ts';

/** Thrown into PGlite's transaction callback to make it roll back. */
class RollbackRequested extends Error {}

const { dataDir, migrationsFolder } = workerData as { dataDir: string; migrationsFolder: string };
const port = parentPort!;

/** PGlite's parsers for the given type OIDs replaced by identity (drizzle reads dates as text). */
const identity = (v: string) => v;
const rawParsers = (oids: number[] | undefined) => (oids ? Object.fromEntries(oids.map((o) => [o, identity])) : undefined);

const reply = (m: WorkerReply) => port.postMessage(m);
const failure = (id: number, e: unknown): WorkerReply => {
  const err = e as Error & Record<string, unknown>;
  // Postgres error fields (code, detail, constraint, …) travel with the message so callers can tell a unique violation.
  const fields: Record<string, string> = {};
  for (const k of ['code', 'detail', 'constraint', 'table', 'column', 'severity', 'hint']) if (typeof err?.[k] === 'string') fields[k] = err[k] as string;
  return { id, ok: false, error: { name: err?.name ?? 'Error', message: err?.message ?? String(e), fields } };
};

try {
  const client = await PGlite.create(dataDir);
  await migrate(drizzle(client), { migrationsFolder });

  /** Open transactions by id: the callback PGlite runs holds its lock until the main thread ends it. */
  const txs = new Map<number, { tx: Transaction; end: (commit: boolean) => void; done: Promise<void> }>();
  let nextTx = 1;

  port.on('message', (m: WorkerRequest) => {
    void (async () => {
      try {
        switch (m.op) {
          case 'query': {
            const on = m.tx ? txs.get(m.tx)?.tx : client;
            if (!on) throw new Error(`no open transaction ${m.tx}`);
            const r = await on.query(m.sql, m.params, { rowMode: m.rowMode, parsers: rawParsers(m.rawTypes) });
            reply({ id: m.id, ok: true, result: { rows: r.rows, fields: r.fields, affectedRows: r.affectedRows } });
            break;
          }
          case 'copy': {
            // COPY … FROM '/dev/blob': PGlite reads the blob as the statement's input.
            const r = await client.query(m.sql, [], { blob: new Blob([m.text]) });
            reply({ id: m.id, ok: true, result: { rows: [], fields: [], affectedRows: r.affectedRows } });
            break;
          }
          case 'begin': {
            const txId = nextTx++;
            let opened!: () => void;
            const ready = new Promise<void>((r) => (opened = r));
            let end!: (commit: boolean) => void;
            const done = client.transaction(
              (tx) =>
                new Promise<void>((resolve, reject) => {
                  end = (commit) => (commit ? resolve() : reject(new RollbackRequested()));
                  txs.set(txId, { tx, end, done });
                  opened();
                }),
            );
            await Promise.race([ready, done]);
            reply({ id: m.id, ok: true, result: { rows: [], fields: [], txId } });
            break;
          }
          case 'end': {
            const t = txs.get(m.tx);
            if (!t) throw new Error(`no open transaction ${m.tx}`);
            txs.delete(m.tx);
            t.end(m.commit);
            try {
              await t.done;
            } catch (e) {
              if (!(e instanceof RollbackRequested)) throw e;
            }
            reply({ id: m.id, ok: true, result: { rows: [], fields: [] } });
            break;
          }
          case 'close': {
            await client.close();
            reply({ id: m.id, ok: true, result: { rows: [], fields: [] } });
            port.close();
            break;
          }
        }
      } catch (e) {
        reply(failure(m.id, e));
      }
    })();
  });
  reply({ id: 0, ok: true, result: { rows: [], fields: [] } });
} catch (e) {
  reply(failure(0, e));
}
