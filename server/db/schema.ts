/**
 * The database schema, defined once for both PGlite (embedded default) and PostgreSQL.
 * Migrations in server/db/migrations are generated from it with drizzle-kit.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const ROLES = ['admin', 'engineer', 'planner', 'dispatcher', 'viewer', 'controller', 'integrator'] as const;
export type Role = (typeof ROLES)[number];

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  role: text('role').$type<Role>().notNull(),
  /** SHA-256 of the bearer token; the token itself is never stored. */
  tokenHash: text('token_hash').notNull().unique(),
  /** For controllers: the intersections they are bound to. */
  intersections: jsonb('intersections').$type<string[]>().notNull().default([]),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  revoked: boolean('revoked').notNull().default(false),
});

/** The network the twin runs on, as CityFlow roadnet JSON (one row per network). */
export const networks = pgTable('networks', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  roadnet: jsonb('roadnet').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const sensors = pgTable('sensors', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  config: jsonb('config').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Every accepted sensor reading, idempotent by (sensor, sequence). The hottest table: a lean row
 * (the key and capture time as columns, the rest of the message once in `payload`, stored as
 * json text rather than parsed jsonb) and no index besides the key, because every index is paid
 * on every reading. Recovery finds a sensor's newest readings through the key (seq rises with
 * time per sensor), so capture time needs no index of its own.
 */
export const sensorReadings = pgTable(
  'sensor_readings',
  {
    sensorId: text('sensor_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    /** Source time (simulation or wall clock, ms) from the reading's hybrid logical clock. */
    tsMs: doublePrecision('ts_ms').notNull(),
    /** The message without `sensorId` and `seq` (those are the key); its `type` and `ts` as sent. */
    payload: json('payload').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.sensorId, t.seq] })],
);

export const controllers = pgTable('controllers', {
  id: text('id').primaryKey(),
  intersections: jsonb('intersections').$type<string[]>().notNull(),
  registeredAt: timestamp('registered_at', { withTimezone: true }).notNull().defaultNow(),
  lastHeartbeatAt: timestamp('last_heartbeat_at', { withTimezone: true }),
  /** Last reported state (SPaT per intersection, mode, applied plan versions). */
  state: jsonb('state'),
});

export const heartbeats = pgTable(
  'heartbeats',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    controllerId: text('controller_id').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    state: jsonb('state').notNull(),
  },
  (t) => [index('heartbeats_controller').on(t.controllerId, t.at)],
);

/** Timing plans are versioned per intersection and never overwritten. */
export const timingPlans = pgTable(
  'timing_plans',
  {
    id: serial('id').primaryKey(),
    intersectionId: text('intersection_id').notNull(),
    version: integer('version').notNull(),
    plan: jsonb('plan').notNull(),
    createdBy: text('created_by').notNull(),
    reason: text('reason').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('timing_plans_version').on(t.intersectionId, t.version)],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    target: text('target').notNull(),
    detail: jsonb('detail').notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [index('audit_log_at').on(t.at)],
);

export const forecasts = pgTable('forecasts', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  simTime: doublePrecision('sim_time').notNull(),
  payload: jsonb('payload').notNull(),
});

/** Saved model artefacts (forecaster weights), by name. */
export const modelArtifacts = pgTable('model_artifacts', {
  name: text('name').primaryKey(),
  savedAt: timestamp('saved_at', { withTimezone: true }).notNull().defaultNow(),
  artifact: jsonb('artifact').notNull(),
});

export const whatifRuns = pgTable('whatif_runs', {
  id: text('id').primaryKey(),
  createdBy: text('created_by').notNull(),
  status: text('status').notNull(),
  /** The scenario as run, its start state resolved (the twin's estimate frozen when accepted). */
  scenario: jsonb('scenario').notNull(),
  /** KPIs and comparisons (no replay: that is kept apart, it is large and read rarely). */
  result: jsonb('result'),
  name: text('name'),
  /** Share of the work done, 0–1 (written at status changes; live progress is in memory). */
  progress: doublePrecision('progress').notNull().default(0),
  /** Why a run failed or was cancelled. */
  error: text('error'),
  /** Times a run was started (a run interrupted by restarts again and again is given up). */
  attempts: integer('attempts').notNull().default(0),
  replay: jsonb('replay'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const emergencyRequests = pgTable('emergency_requests', {
  id: text('id').primaryKey(),
  createdBy: text('created_by').notNull(),
  request: jsonb('request').notNull(),
  route: jsonb('route'),
  status: text('status').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
