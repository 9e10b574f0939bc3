/**
 * The detector inputs of an edge controller, as a roadside cabinet wires them: per approach lane
 * of its intersection the vehicles present and standing (presence/stop-bar loops), and per
 * movement a running count of vehicles over the stop line. From the latest two readings it builds
 * the TrafficObservation the local actuated policy reads (only this edge's lanes and movements
 * filled), so the edge actuates on its own detectors whatever happens to the centre. Readings
 * older than `staleAfter` give no observation: the runner then times the plan on its own clock.
 * Deterministic; time is an argument.
 */
import { z } from 'zod';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';

export const DetectorReadingSchema = z
  .object({
    /** Global lane ids of the approach lanes, and per lane the vehicles present and standing. */
    lanes: z.array(z.number().int().nonnegative()),
    vehicles: z.array(z.number().nonnegative()),
    queue: z.array(z.number().nonnegative()),
    /** Global movement ids, and per movement the vehicles over its stop line since the field started. */
    movements: z.array(z.number().int().nonnegative()),
    departures: z.array(z.number().nonnegative()),
  })
  .refine((r) => r.vehicles.length === r.lanes.length && r.queue.length === r.lanes.length, { message: 'one vehicle and queue figure per lane' })
  .refine((r) => r.departures.length === r.movements.length, { message: 'one departure count per movement' });
export type DetectorReading = z.infer<typeof DetectorReadingSchema>;

interface Latest {
  reading: DetectorReading;
  at: number;
  /** Departures per movement between the previous reading and this one, and that span (s). */
  recent: number[];
  span: number;
}

export class LocalDetectors {
  private readonly latest = new Map<string, Latest>();

  constructor(
    private readonly nLanes: number,
    private readonly nMovements: number,
    /** Seconds (controller clock) after which a reading no longer counts. */
    private readonly staleAfter: number,
  ) {}

  /** A reading of one intersection's detectors taken at `at` (controller clock). Out-of-range ids are refused. */
  update(intersection: string, reading: DetectorReading, at: number): boolean {
    if (reading.lanes.some((l) => l >= this.nLanes) || reading.movements.some((m) => m >= this.nMovements)) return false;
    const prev = this.latest.get(intersection);
    const recent = reading.movements.map((m, k) => {
      const before = prev?.reading.movements.indexOf(m) ?? -1;
      // A counter that went back (the field restarted) counts from zero again.
      const d = before >= 0 ? reading.departures[k] - prev!.reading.departures[before] : 0;
      return d >= 0 ? d : 0;
    });
    this.latest.set(intersection, { reading, at, recent, span: prev ? Math.max(0, at - prev.at) : 0 });
    return true;
  }

  /** The observation of every intersection with a fresh reading; undefined when none is fresh. */
  observe(now: number): TrafficObservation | undefined {
    const fresh = [...this.latest.values()].filter((l) => now - l.at <= this.staleAfter);
    if (fresh.length === 0) return undefined;
    const laneVehicles = new Float64Array(this.nLanes);
    const laneQueue = new Float64Array(this.nLanes);
    const movementDepartures = new Float64Array(this.nMovements);
    let interval = 0;
    for (const { reading: r, recent, span } of fresh) {
      r.lanes.forEach((l, k) => {
        laneVehicles[l] = r.vehicles[k];
        laneQueue[l] = r.queue[k];
      });
      r.movements.forEach((m, k) => (movementDepartures[m] = recent[k]));
      interval = Math.max(interval, span);
    }
    return {
      time: now,
      laneVehicles,
      laneQueue,
      laneSpeed: new Float64Array(this.nLanes),
      laneArrivals: new Float64Array(this.nLanes),
      movementDepartures,
      interval,
      laneConfidence: new Float64Array(this.nLanes).fill(1),
    };
  }
}
