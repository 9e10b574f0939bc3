/** The controllers' event log and the retention policy on PGlite (PostgreSQL: postgres.test.ts). */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { openDatabase, type Database } from '../../server/db/Database.ts';
import { checkHeartbeatLog, checkRetention } from './storageChecks.ts';

describe('storage over time on PGlite', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://' });
  });
  afterAll(async () => {
    await database?.close();
  });

  it('logs controller heartbeats only when the signals change, a plan was applied or a minute passed, and stores a fleet reporting at once', async () => {
    await checkHeartbeatLog(database.db);
  });

  it('prunes heartbeats, forecasts and sensor readings older than their retention, in chunks, keeping the newest row (of each sensor too)', async () => {
    await checkRetention(database.db);
  });
});
