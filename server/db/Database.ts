/**
 * Opens the database: PGlite in a data directory by default (embedded, nothing to install),
 * PostgreSQL when a URL is given. Both run the same drizzle schema and migrations, applied on open.
 * PGlite runs in a worker thread by default (PgliteProxy.ts): Postgres in WebAssembly computes on
 * the thread that calls it, and there it would compete with HTTP, validation and the tick.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { PgliteProxy } from './PgliteProxy.ts';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Where the data lives: a directory for PGlite, the URL (without password) for PostgreSQL. */
  location: string;
  /** A trivial query, for /health. */
  ping(): Promise<boolean>;
  /**
   * PGlite only: `COPY … FROM '/dev/blob'` (`sql`) reading `text` (COPY's text format), one
   * statement, committed when it resolves (with the rows loaded). PostgreSQL has no /dev/blob.
   */
  copyFrom?(sql: string, text: string): Promise<number>;
  close(): Promise<void>;
}

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface OpenOptions {
  /** PostgreSQL connection string; when absent, PGlite in `dataDir`. */
  url?: string;
  /** PGlite data directory; `memory://` keeps it in memory (tests that need no durability). */
  dataDir?: string;
  /**
   * PGlite in a worker thread (default), so its writes run beside the service's thread on
   * another core; `false` runs it on the calling thread.
   */
  worker?: boolean;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.url) {
    const pool = new pg.Pool({ connectionString: opts.url, max: 8 });
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    await migratePg(drizzlePg(pool, { schema }), { migrationsFolder });
    const u = new URL(opts.url);
    u.password = '';
    return {
      db,
      kind: 'postgres',
      location: u.toString(),
      ping: async () => (await pool.query('select 1 as ok')).rows[0]?.ok === 1,
      close: () => pool.end(),
    };
  }
  const dataDir = opts.dataDir ?? join(process.cwd(), '.data', 'pglite');
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  if (opts.worker !== false) {
    const proxy = await PgliteProxy.start(dataDir, migrationsFolder);
    // drizzle's PGlite driver calls only `query` and `transaction`, which the proxy forwards.
    const d = drizzlePglite(proxy as unknown as PGlite, { schema });
    return {
      db: d as unknown as Db,
      kind: 'pglite',
      location: dataDir,
      ping: async () => (await proxy.query<{ ok: number }>('select 1 as ok')).rows[0]?.ok === 1,
      copyFrom: (sql, text) => proxy.copyFrom(sql, text),
      close: () => proxy.close(),
    };
  }
  const client = await PGlite.create(dataDir);
  const d = drizzlePglite(client, { schema });
  await migratePglite(d, { migrationsFolder });
  return {
    db: d as unknown as Db,
    kind: 'pglite',
    location: dataDir,
    ping: async () => (await client.query<{ ok: number }>('select 1 as ok')).rows[0]?.ok === 1,
    copyFrom: async (sql, text) => (await client.query(sql, [], { blob: new Blob([text]) })).affectedRows ?? 0,
    close: () => client.close(),
  };
}

/** The rows of a raw `db.execute` result (node-postgres and PGlite shape them alike, `{ rows }`). */
export function rowsOf<T>(res: unknown): T[] {
  return ((res as { rows?: unknown[] }).rows ?? (res as unknown[])) as T[];
}
