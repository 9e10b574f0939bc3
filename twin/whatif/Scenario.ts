/**
 * What a planner asks of a what-if run, as zod schemas (types inferred from them):
 *
 *   start    a stored engine snapshot (bit-for-bit resume), or the twin's estimated state
 *            (a TrafficObservation: per-lane vehicles, queue, speed) from which vehicles are
 *            synthesised onto the lanes
 *   changes  closures (roads or lanes) and incidents (speed cap on a road's lanes), each for a
 *            time window; demand multiplied over an area and a time window; another controller
 *            at chosen intersections
 *   horizon  simulated seconds; `seeds` runs, each seed varying the synthesised routes and the
 *            demand thinning/duplication
 *
 * Time windows are seconds from the start of the run (0 = the start state), so a scenario reads
 * the same whatever the clock of the state it starts from.
 */
import { z } from 'zod';
import type { EngineSnapshot } from '../sim/Engine.ts';
import type { TrafficObservation } from '../state/TrafficObservation.ts';

export const TimeWindowSchema = z
  .object({
    /** Seconds from the start of the run. */
    from: z.number().nonnegative().default(0),
    /** End (exclusive); null = to the end of the horizon. */
    until: z.number().positive().nullable().default(null),
  })
  .refine((w) => w.until === null || w.until > w.from, { message: 'until must be after from', path: ['until'] });
export type TimeWindow = z.infer<typeof TimeWindowSchema>;

const BoxSchema = z
  .object({ minX: z.number(), minY: z.number(), maxX: z.number(), maxY: z.number() })
  .refine((b) => b.maxX >= b.minX && b.maxY >= b.minY, { message: 'max must not be below min' });

/** A set of roads: listed, those touching listed intersections, or those with an end inside a box. */
export const AreaSchema = z.union([
  z.object({ roads: z.array(z.string().min(1)).min(1) }).strict(),
  z.object({ intersections: z.array(z.string().min(1)).min(1) }).strict(),
  z.object({ bbox: BoxSchema }).strict(),
]);
export type Area = z.infer<typeof AreaSchema>;

export const ClosureSchema = z
  .object({
    kind: z.literal('closure'),
    /** Whole roads closed (every lane). */
    roads: z.array(z.string().min(1)).default([]),
    /** Single lanes closed, by CityFlow lane id `<road>_<index>`. */
    lanes: z.array(z.string().min(1)).default([]),
    window: TimeWindowSchema.prefault({}),
  })
  .refine((c) => c.roads.length + c.lanes.length > 0, { message: 'a closure needs roads or lanes' });

export const IncidentSchema = z.object({
  kind: z.literal('incident'),
  road: z.string().min(1),
  /** Lane indices within the road (default: every lane). */
  lanes: z.array(z.number().int().nonnegative()).optional(),
  /** Speed cap on those lanes while it lasts (m/s): the capacity cut. */
  speedCap: z.number().positive(),
  window: TimeWindowSchema.prefault({}),
});

export const DemandChangeSchema = z.object({
  kind: z.literal('demand'),
  area: AreaSchema,
  /** Multiplier of the trips starting in the window (0 = none, 1.2 = 20 % more). */
  factor: z.number().min(0).max(10),
  /** Which trips: those starting in the area (origin) or passing through it (any). */
  match: z.enum(['origin', 'any']).default('origin'),
  window: TimeWindowSchema.prefault({}),
});

export const ControlChangeSchema = z.object({
  kind: z.literal('control'),
  /** Intersection ids, or 'all'. */
  intersections: z.union([z.array(z.string().min(1)).min(1), z.literal('all')]),
  /** Controller name, resolved by the caller's factory. */
  controller: z.string().min(1),
});

export const ChangeSchema = z.union([ClosureSchema, IncidentSchema, DemandChangeSchema, ControlChangeSchema]);
export type Change = z.infer<typeof ChangeSchema>;
export type Closure = z.infer<typeof ClosureSchema>;
export type Incident = z.infer<typeof IncidentSchema>;
export type DemandChange = z.infer<typeof DemandChangeSchema>;
export type ControlChange = z.infer<typeof ControlChangeSchema>;

/** Typed array or plain numbers (JSON); always a Float64Array after parsing. */
const Numbers = z
  .union([z.custom<Float64Array>((v) => v instanceof Float64Array, { message: 'expected a Float64Array' }), z.array(z.number())])
  .transform((a): Float64Array => (a instanceof Float64Array ? a : Float64Array.from(a)));

export const ObservationSchema = z.object({
  time: z.number(),
  laneVehicles: Numbers,
  laneQueue: Numbers,
  laneSpeed: Numbers,
  laneArrivals: Numbers.optional(),
  movementDepartures: Numbers.optional(),
  interval: z.number().nonnegative().default(0),
  laneConfidence: Numbers.optional(),
});
export type ObservationInput = z.input<typeof ObservationSchema>;

/** Structural check only: a snapshot is the engine's own data, stored and handed back. */
const SnapshotSchema = z.custom<EngineSnapshot>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { step?: unknown }).step === 'number' &&
    typeof (v as { f64?: unknown }).f64 === 'object' &&
    Array.isArray((v as { flows?: unknown }).flows),
  { message: 'not an engine snapshot' },
);

export const StartSchema = z.union([
  z.object({ kind: z.literal('snapshot'), snapshot: SnapshotSchema }),
  z.object({
    kind: z.literal('estimate'),
    observation: ObservationSchema,
    /** Clock of the observation in the demand's time base (s): future trips are those starting after it. */
    time: z.number().nonnegative().optional(),
    /** Where synthesised vehicles' routes come from: the demand's routes through their road, turning ratios, or the first that works. */
    routes: z.enum(['demand', 'turning', 'auto']).default('auto'),
  }),
]);
export type Start = z.infer<typeof StartSchema>;

export const ReplayOptionsSchema = z.object({
  enabled: z.boolean().default(true),
  /** Record every k steps. */
  every: z.number().int().positive().default(5),
  /** Size cap (bytes of position data); frames are thinned (every other dropped) to stay under it. */
  maxBytes: z.number().int().positive().default(8_000_000),
  run: z.enum(['scenario', 'baseline']).default('scenario'),
});

export const ScenarioSchema = z.object({
  name: z.string().default('what-if'),
  start: StartSchema,
  changes: z.array(ChangeSchema).default([]),
  horizon: z.number().positive().max(86_400),
  seeds: z.number().int().min(1).max(64).default(1),
  baseSeed: z.number().int().nonnegative().default(0),
  /** Controller for every intersection in both runs (resolved by the caller's factory); null = the roadnet's program. */
  control: z.string().min(1).nullable().default(null),
  kpi: z
    .object({
      /** Lanes listed in the worst-queue table. */
      worstQueues: z.number().int().min(1).max(200).default(10),
    })
    .prefault({}),
  replay: ReplayOptionsSchema.prefault({}),
});
export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioInput = z.input<typeof ScenarioSchema>;

/** Parses a scenario; throws a ZodError naming the field. */
export function parseScenario(input: unknown): Scenario {
  return ScenarioSchema.parse(input);
}

/** The observation as the TrafficObservation interface (missing counts as zeros). */
export function toTrafficObservation(o: z.infer<typeof ObservationSchema>, nMovements: number): TrafficObservation {
  const n = o.laneVehicles.length;
  return {
    time: o.time,
    laneVehicles: o.laneVehicles,
    laneQueue: o.laneQueue,
    laneSpeed: o.laneSpeed,
    laneArrivals: o.laneArrivals ?? new Float64Array(n),
    movementDepartures: o.movementDepartures ?? new Float64Array(nMovements),
    interval: o.interval,
    laneConfidence: o.laneConfidence ?? new Float64Array(n).fill(1),
  };
}

/** Absolute [from, until) of a window for a run starting at `start` and lasting `horizon`. */
export function absoluteWindow(w: TimeWindow, start: number, horizon: number): [number, number] {
  return [start + w.from, start + (w.until === null ? horizon : Math.min(w.until, horizon))];
}
