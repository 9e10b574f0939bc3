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

const Count = z.number().int().nonnegative();
const SensorId = z.string().min(1).max(200);

const Envelope = {
  sensorId: SensorId,
  /** Capture time: HLC (serialized) of the end of the interval the reading covers. */
  ts: HlcStringSchema,
  /** Per-sensor sequence number: 0, 1, 2, … one per reading. */
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Length of the interval the reading covers (ms); it ends at `ts`. */
  intervalMs: z.number().int().positive().max(3_600_000),
};

/** One loop actuation edge: presence began (`on`) or ended at `t` (ms, the sensor's clock). */
export const ActuationSchema = z.object({ t: z.number().int().nonnegative(), on: z.boolean() });
export type Actuation = z.infer<typeof ActuationSchema>;

/** A loop detector's aggregate over one interval (and optionally its raw edges). */
export const LoopReadingSchema = z.object({
  type: z.literal('loop'),
  ...Envelope,
  /** Vehicles counted (presence on-edges) in the interval. */
  count: Count,
  /** Fraction of the interval with presence, 0–1. */
  occupancy: z.number().min(0).max(1),
  /** Mean speed of the vehicles counted (m/s), dual loops only; null if none counted. */
  speed: z.number().nonnegative().max(100).nullable(),
  /** Presence at the end of the interval. */
  presence: z.boolean(),
  /** Running count since the detector started. */
  total: Count,
  /** Raw actuations in the interval, in time order (optional: bandwidth). */
  edges: z.array(ActuationSchema).max(10_000).optional(),
});
export type LoopReading = z.infer<typeof LoopReadingSchema>;

// Camera frames carry many counts; checking each field separately costs more than the rest of
// ingest together (zod runs each check through its generic machinery), so the frame's counts are
// declared as numbers and checked to be non-negative integers by one refinement over the frame.
const Num = z.number();

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
