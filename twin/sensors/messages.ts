/**
 * The sensor messages the twin accepts, defined once here (zod) with their types inferred. These
 * are the wire format of the ingest API: a batch `{messages: [...]}` of readings, each
 * `{type, sensorId, ts, seq, ...}` with `ts` a hybrid-logical-clock timestamp taken when the
 * reading was captured (not when it was sent or received) and `seq` the sensor's own sequence
 * number (one per reading, +1 each, from 0), which together identify and order it.
 *
 * Counts come both per interval and as running totals (`total`, like a detector controller's
 * volume counter): a lost message then loses no vehicles, only a little timeliness.
 */
import { z } from 'zod';
import { HlcStringSchema } from './HybridLogicalClock.ts';

// Readings arrive by the hundred thousand: a number field with its own zod checks (int, min, max)
// costs each check a trip through zod's generic machinery, more than the rest of ingest. So
// numbers are declared as numbers and their ranges checked by one refinement per message, which
// reports each failing field under its path with zod's wording.
const Num = z.number();
const SensorId = z.string().min(1).max(200);

const Envelope = {
  sensorId: SensorId,
  /** Capture time: HLC (serialized) of the end of the interval the reading covers. */
  ts: HlcStringSchema,
  /** Per-sensor sequence number: 0, 1, 2, … one per reading (a non-negative safe integer). */
  seq: Num,
  /** Length of the interval the reading covers (ms, an integer in 1…3,600,000); it ends at `ts`. */
  intervalMs: Num,
};

type Issues = { issues: { push(issue: { code: 'custom'; message: string; input: unknown; path: (string | number)[] }): unknown }; value: unknown };

/** Checks `x` against a range (and integrality), reporting a failure at `path` as zod words it. */
function inRange(ctx: Issues, x: number, path: (string | number)[], r: { int?: boolean; min?: number; above?: number; max?: number }): void {
  let message: string | null = null;
  if (r.int && !Number.isSafeInteger(x)) message = 'Invalid input: expected int, received number';
  else if (r.min !== undefined && x < r.min) message = `Too small: expected number to be >=${r.min}`;
  else if (r.above !== undefined && x <= r.above) message = `Too small: expected number to be >${r.above}`;
  else if (r.max !== undefined && x > r.max) message = `Too big: expected number to be <=${r.max}`;
  if (message) ctx.issues.push({ code: 'custom', message, input: ctx.value, path });
}

function checkEnvelope(ctx: Issues, m: { seq: number; intervalMs: number }): void {
  inRange(ctx, m.seq, ['seq'], { int: true, min: 0 });
  inRange(ctx, m.intervalMs, ['intervalMs'], { int: true, above: 0, max: 3_600_000 });
}

/** One loop actuation edge: presence began (`on`) or ended at `t` (ms, the sensor's clock). */
export const ActuationSchema = z.object({ t: z.number().int().nonnegative(), on: z.boolean() });
export type Actuation = z.infer<typeof ActuationSchema>;

/** A loop detector's aggregate over one interval (and optionally its raw edges). */
export const LoopReadingSchema = z
  .object({
    type: z.literal('loop'),
    ...Envelope,
    /** Vehicles counted (presence on-edges) in the interval: a non-negative integer. */
    count: Num,
    /** Fraction of the interval with presence, 0–1. */
    occupancy: Num,
    /** Mean speed of the vehicles counted (m/s, 0–100), dual loops only; null if none counted. */
    speed: Num.nullable(),
    /** Presence at the end of the interval. */
    presence: z.boolean(),
    /** Running count since the detector started: a non-negative integer. */
    total: Num,
    /** Raw actuations in the interval, in time order (optional: bandwidth). */
    edges: z.array(ActuationSchema).max(10_000).optional(),
  })
  .check((ctx) => {
    const m = ctx.value;
    checkEnvelope(ctx, m);
    inRange(ctx, m.count, ['count'], { int: true, min: 0 });
    inRange(ctx, m.occupancy, ['occupancy'], { min: 0, max: 1 });
    if (m.speed !== null) inRange(ctx, m.speed, ['speed'], { min: 0, max: 100 });
    inRange(ctx, m.total, ['total'], { int: true, min: 0 });
  });
export type LoopReading = z.infer<typeof LoopReadingSchema>;

// Camera frames carry many counts: declared as numbers and checked to be non-negative integers
// by one refinement over the frame (see Num above).

export const VehicleClassCountsSchema = z.object({ car: Num, bus: Num, truck: Num, emergency: Num });
export type VehicleClassCounts = z.infer<typeof VehicleClassCountsSchema>;

export const CameraLaneSchema = z.object({
  /** Lane id as in the network (`<roadId>_<laneIndex>`). */
  lane: z.string().min(1),
  /** Vehicles seen in the camera's view on this lane at capture time. */
  inView: Num,
  /** Of those, standing (below 0.1 m/s): the visible queue. */
  queue: Num,
  /** Vehicles that crossed this lane's stop line during the interval. */
  departures: Num,
  /** Running total of `departures`. */
  departuresTotal: Num,
});
export type CameraLane = z.infer<typeof CameraLaneSchema>;

export const CameraMovementSchema = z.object({
  /** Movement id as in the network (`<intersectionId>:<localIndex>`). */
  movement: z.string().min(1),
  count: Num,
  total: Num,
});
export type CameraMovement = z.infer<typeof CameraMovementSchema>;

const isCount = (x: number) => Number.isSafeInteger(x) && x >= 0;

/** A camera's frame over one approach. */
export const CameraFrameSchema = z
  .object({
    type: z.literal('camera'),
    ...Envelope,
    lanes: z.array(CameraLaneSchema).max(64),
    movements: z.array(CameraMovementSchema).max(256),
    /** Vehicles in view by class. */
    classes: VehicleClassCountsSchema,
  })
  .check((ctx) => {
    const m = ctx.value;
    checkEnvelope(ctx, m);
    const bad = (path: (string | number)[]) => ctx.issues.push({ code: 'custom', message: 'expected a non-negative integer', input: m, path });
    m.lanes.forEach((l, i) => {
      if (!isCount(l.inView)) bad(['lanes', i, 'inView']);
      if (!isCount(l.queue)) bad(['lanes', i, 'queue']);
      if (!isCount(l.departures)) bad(['lanes', i, 'departures']);
      if (!isCount(l.departuresTotal)) bad(['lanes', i, 'departuresTotal']);
      if (l.queue > l.inView) ctx.issues.push({ code: 'custom', message: 'queue exceeds vehicles in view', input: m, path: ['lanes', i, 'queue'] });
    });
    m.movements.forEach((mv, i) => {
      if (!isCount(mv.count)) bad(['movements', i, 'count']);
      if (!isCount(mv.total)) bad(['movements', i, 'total']);
    });
    for (const k of ['car', 'bus', 'truck', 'emergency'] as const) if (!isCount(m.classes[k])) bad(['classes', k]);
  });
export type CameraFrame = z.infer<typeof CameraFrameSchema>;

export const SensorMessageSchema = z.discriminatedUnion('type', [LoopReadingSchema, CameraFrameSchema]);
export type SensorMessage = z.infer<typeof SensorMessageSchema>;
/** Wire and validated forms coincide (`ts` stays a string; parse it with `parseHlc`). */
export type SensorMessageWire = z.input<typeof SensorMessageSchema>;
export type LoopReadingWire = z.input<typeof LoopReadingSchema>;
export type CameraFrameWire = z.input<typeof CameraFrameSchema>;

/**
 * A batch as posted to the ingest API. Messages are validated one by one (a bad one does not
 * sink the rest), so the batch schema only checks the envelope.
 */
export const SensorBatchSchema = z.object({ messages: z.array(z.unknown()).max(100_000) });
export type SensorBatch = { messages: SensorMessageWire[] };
