/**
 * Regularly sampled per-sensor (per-road) series: the data every forecaster here consumes.
 * Values are stored row-major (row = time step, column = sensor) in one Float32Array so that a
 * window of recent rows is a contiguous slice. Time is explicit: a row's time of day and day of
 * week follow from the grid, never from a clock.
 */
import { z } from 'zod';

export const TimeGridSchema = z.object({
  /** Minutes between rows; must divide a day. */
  stepMinutes: z
    .number()
    .int()
    .positive()
    .refine((m) => 1440 % m === 0, 'stepMinutes must divide 1440'),
  /** Day of week of row 0: 0 = Monday … 6 = Sunday. */
  startDayOfWeek: z.number().int().min(0).max(6),
  /** Time-of-day slot of row 0 (0 = midnight). */
  startSlot: z.number().int().nonnegative(),
});
export type TimeGrid = z.infer<typeof TimeGridSchema>;

export interface SensorSeries {
  readonly sensors: readonly string[];
  readonly grid: TimeGrid;
  /** rows × sensors, row-major; a value ≤ 0 or not finite is a missing reading. */
  readonly values: Float32Array;
  readonly rows: number;
}

/** When a row happens: slot in the day and day of the week (0 = Monday). */
export interface SlotTime {
  readonly dayOfWeek: number;
  readonly slot: number;
}

export function slotsPerDay(grid: TimeGrid): number {
  return 1440 / grid.stepMinutes;
}

export function timeOfRow(grid: TimeGrid, row: number): SlotTime {
  const spd = slotsPerDay(grid);
  const absolute = grid.startSlot + row;
  return { slot: absolute % spd, dayOfWeek: (grid.startDayOfWeek + Math.floor(absolute / spd)) % 7 };
}

/** The slot `steps` rows after `t` (before it when negative), wrapping over midnight and the week. */
export function advance(t: SlotTime, steps: number, spd: number): SlotTime {
  const absolute = t.slot + steps;
  const days = Math.floor(absolute / spd);
  return { slot: absolute - days * spd, dayOfWeek: (((t.dayOfWeek + days) % 7) + 7) % 7 };
}

export function isWeekend(dayOfWeek: number): boolean {
  return dayOfWeek >= 5;
}

export function isValidReading(v: number): boolean {
  return Number.isFinite(v) && v > 0;
}

export function makeSeries(sensors: readonly string[], grid: TimeGrid, values: Float32Array): SensorSeries {
  TimeGridSchema.parse(grid);
  if (sensors.length === 0) throw new Error('a series needs at least one sensor');
  if (values.length % sensors.length !== 0) {
    throw new Error(`values length ${values.length} is not a multiple of ${sensors.length} sensors`);
  }
  if (grid.startSlot >= slotsPerDay(grid)) throw new Error('startSlot must be less than the slots per day');
  return { sensors, grid, values, rows: values.length / sensors.length };
}

/** Rows [from, to) as a series of their own, with the grid shifted so times stay right. */
export function sliceRows(s: SensorSeries, from: number, to: number): SensorSeries {
  if (from < 0 || to > s.rows || from > to) throw new Error(`bad row range [${from}, ${to}) of ${s.rows}`);
  const n = s.sensors.length;
  const t = timeOfRow(s.grid, from);
  return {
    sensors: s.sensors,
    grid: { stepMinutes: s.grid.stepMinutes, startDayOfWeek: t.dayOfWeek, startSlot: t.slot },
    values: s.values.slice(from * n, to * n),
    rows: to - from,
  };
}

/** Rows of `b` appended after `a` (b must continue a's grid). */
export function appendRows(a: SensorSeries, b: SensorSeries): SensorSeries {
  if (a.sensors.length !== b.sensors.length || a.sensors.some((id, i) => id !== b.sensors[i])) {
    throw new Error('appendRows: sensor lists differ');
  }
  const next = timeOfRow(a.grid, a.rows);
  const first = timeOfRow(b.grid, 0);
  if (a.grid.stepMinutes !== b.grid.stepMinutes || next.slot !== first.slot || next.dayOfWeek !== first.dayOfWeek) {
    throw new Error('appendRows: the second series does not continue the first in time');
  }
  const values = new Float32Array(a.values.length + b.values.length);
  values.set(a.values, 0);
  values.set(b.values, a.values.length);
  return { sensors: a.sensors, grid: a.grid, values, rows: a.rows + b.rows };
}

/**
 * Missing readings replaced by the sensor's previous valid one (or its next valid one at the
 * start): used on model *inputs* only, so a glitch does not look like a sudden jam. Targets
 * are never altered for scoring.
 */
export function fillMissing(s: SensorSeries): SensorSeries {
  const n = s.sensors.length;
  const out = s.values.slice();
  for (let j = 0; j < n; j++) {
    let last = NaN;
    for (let r = 0; r < s.rows; r++) {
      const v = out[r * n + j];
      if (isValidReading(v)) last = v;
      else out[r * n + j] = last;
    }
    // Leading gap: back-fill from the first valid reading (NaN stays if the sensor never reported).
    let next = NaN;
    for (let r = s.rows - 1; r >= 0; r--) {
      const v = out[r * n + j];
      if (isValidReading(v)) next = v;
      else out[r * n + j] = next;
    }
  }
  return { ...s, values: out };
}

/** Chronological split: the first `fraction` of rows, and the rest. */
export function splitChronological(s: SensorSeries, fraction: number): { train: SensorSeries; test: SensorSeries } {
  const cut = Math.floor(s.rows * fraction);
  return { train: sliceRows(s, 0, cut), test: sliceRows(s, cut, s.rows) };
}
