/**
 * Turns a live stream of per-road readings (e.g. the twin's road speeds, sampled every few
 * seconds) into what the forecaster consumes:
 *  - minute means, kept for the last couple of hours;
 *  - aligned rows of `stepMinutes` (the forecaster's time grid: history, training, updates);
 *  - every minute, a rolling window of `inputSteps` rows ending at that minute, so forecasts can
 *    be refreshed each minute although the model's step is five;
 *  - the rolling value ending at any recent minute: "what then happened" for scoring forecasts.
 *
 * Time is given, never read from a clock: minutes are counted from the start of a week
 * (Monday 00:00 = 0), so the slot of a row follows from its index.
 */
import { z } from 'zod';
import { isValidReading, makeSeries, type SensorSeries, type SlotTime } from './series.ts';

export const RecorderOptionsSchema = z.object({
  /** Minutes per row of the forecaster's grid. */
  stepMinutes: z.number().int().positive().refine((m) => 1440 % m === 0, 'stepMinutes must divide 1440').default(5),
  /** Rows of input to a forecast. */
  inputSteps: z.number().int().min(1).default(12),
  /** Minutes of minute means kept (inputs plus the longest horizon to score). */
  keepMinutes: z.number().int().positive().default(180),
  /** Aligned rows kept for training and updates (a week of 5-minute rows by default). */
  keepRows: z.number().int().positive().default(2016),
});
export type RecorderOptions = z.infer<typeof RecorderOptionsSchema>;
export type RecorderOptionsInput = z.input<typeof RecorderOptionsSchema>;

export class RoadSpeedRecorder {
  readonly options: RecorderOptions;
  readonly roads: readonly string[];
  private readonly n: number;
  /** Running sums and counts of the samples of the open minute. */
  private readonly sampleSum: Float64Array;
  private readonly sampleCount: Uint32Array;
  /** Ring of minute means (NaN: no valid sample), indexed by minute % keepMinutes. */
  private readonly minutes: Float32Array;
  private readonly minuteOf: Float64Array;
  /** Aligned rows, oldest first; `firstRow` is the absolute row index of rows[0]. */
  private rows: Float32Array[] = [];
  private firstRowIndex = 0;
  private lastMinute = -Infinity;

  constructor(roads: readonly string[], options: RecorderOptionsInput = {}) {
    if (roads.length === 0) throw new Error('a recorder needs at least one road');
    this.options = RecorderOptionsSchema.parse(options);
    if (this.options.keepMinutes < this.options.inputSteps * this.options.stepMinutes) {
      throw new Error('keepMinutes must cover the input window');
    }
    this.roads = roads;
    this.n = roads.length;
    this.sampleSum = new Float64Array(this.n);
    this.sampleCount = new Uint32Array(this.n);
    this.minutes = new Float32Array(this.options.keepMinutes * this.n).fill(NaN);
    this.minuteOf = new Float64Array(this.options.keepMinutes).fill(-1);
  }

  /** One reading per road (invalid ones, ≤ 0 or not finite, are ignored). */
  addSample(values: ArrayLike<number>): void {
    if (values.length !== this.n) throw new Error(`expected ${this.n} readings, got ${values.length}`);
    for (let j = 0; j < this.n; j++) {
      const v = values[j];
      if (!isValidReading(v)) continue;
      this.sampleSum[j] += v;
      this.sampleCount[j] += 1;
    }
  }

  /**
   * Closes minute `minute` (absolute, from Monday 00:00 of week 0) with the samples added since
   * the previous close. Returns the aligned row completed by it, if any. Minutes must increase;
   * skipped minutes stay missing.
   */
  closeMinute(minute: number): { rowIndex: number; values: Float32Array } | null {
    if (!Number.isInteger(minute) || minute <= this.lastMinute) throw new Error(`minutes must increase: ${minute} after ${this.lastMinute}`);
    const k = minute % this.options.keepMinutes;
    const dst = this.minutes.subarray(k * this.n, (k + 1) * this.n);
    for (let j = 0; j < this.n; j++) dst[j] = this.sampleCount[j] > 0 ? this.sampleSum[j] / this.sampleCount[j] : NaN;
    this.minuteOf[k] = minute;
    this.sampleSum.fill(0);
    this.sampleCount.fill(0);
    this.lastMinute = minute;
    const step = this.options.stepMinutes;
    if ((minute + 1) % step !== 0) return null;
    // The aligned row [minute − step + 1, minute] is complete.
    const rowIndex = (minute + 1) / step - 1;
    const values = this.meanOver(minute - step + 1, minute);
    this.appendRow(rowIndex, values);
    return { rowIndex, values };
  }

  private appendRow(rowIndex: number, values: Float32Array): void {
    const next = this.firstRowIndex + this.rows.length;
    if (this.rows.length > 0 && rowIndex !== next) {
      // A gap (the service was stopped, or minutes were skipped): rows must stay contiguous, so
      // the missing rows are filled with missing readings.
      if (rowIndex < next) throw new Error('rows must increase');
      for (let r = next; r < rowIndex && r - next < this.options.keepRows; r++) this.rows.push(new Float32Array(this.n).fill(NaN));
      if (rowIndex - next >= this.options.keepRows) {
        this.rows = [];
      }
    }
    if (this.rows.length === 0) this.firstRowIndex = rowIndex;
    this.rows.push(values);
    const excess = this.rows.length - this.options.keepRows;
    if (excess > 0) {
      this.rows.splice(0, excess);
      this.firstRowIndex += excess;
    }
  }

  /** Mean of the valid minute means in [from, to] (minutes still kept), per road. */
  meanOver(from: number, to: number): Float32Array {
    const out = new Float32Array(this.n);
    const sum = new Float64Array(this.n);
    const count = new Uint32Array(this.n);
    for (let m = from; m <= to; m++) {
      if (m < 0) continue;
      const k = m % this.options.keepMinutes;
      if (this.minuteOf[k] !== m) continue;
      const src = this.minutes.subarray(k * this.n, (k + 1) * this.n);
      for (let j = 0; j < this.n; j++) {
        if (!Number.isNaN(src[j])) {
          sum[j] += src[j];
          count[j] += 1;
        }
      }
    }
    for (let j = 0; j < this.n; j++) out[j] = count[j] > 0 ? sum[j] / count[j] : NaN;
    return out;
  }

  /** The rolling row value ending at `minute`: mean over the `stepMinutes` minutes up to it. */
  rollingValue(minute: number): Float32Array {
    return this.meanOver(minute - this.options.stepMinutes + 1, minute);
  }

  /**
   * The rolling input window ending at `minute` (inputSteps rows × roads, oldest first; NaN where
   * nothing was recorded) and the slot time of its last row.
   */
  window(minute: number): { values: Float32Array; lastRowTime: SlotTime } {
    const { inputSteps, stepMinutes } = this.options;
    const values = new Float32Array(inputSteps * this.n);
    for (let r = 0; r < inputSteps; r++) {
      const end = minute - (inputSteps - 1 - r) * stepMinutes;
      values.set(this.rollingValue(end), r * this.n);
    }
    return { values, lastRowTime: this.slotOfRow(Math.floor((minute - stepMinutes + 1) / stepMinutes)) };
  }

  /** Day of week and slot of an absolute row index. */
  slotOfRow(rowIndex: number): SlotTime {
    const spd = 1440 / this.options.stepMinutes;
    const r = ((rowIndex % (7 * spd)) + 7 * spd) % (7 * spd);
    return { dayOfWeek: Math.floor(r / spd), slot: r % spd };
  }

  /** Absolute index of the first kept aligned row, and how many rows are kept. */
  get firstRow(): number {
    return this.firstRowIndex;
  }

  get rowCount(): number {
    return this.rows.length;
  }

  /** Absolute index one past the last kept row. */
  get endRow(): number {
    return this.firstRowIndex + this.rows.length;
  }

  /** Kept aligned rows [from, to) (absolute indices) as a series on the forecaster's grid. */
  series(from: number, to: number): SensorSeries {
    if (from < this.firstRowIndex || to > this.endRow || from >= to) throw new Error(`rows [${from}, ${to}) are not all kept`);
    const values = new Float32Array((to - from) * this.n);
    for (let r = from; r < to; r++) values.set(this.rows[r - this.firstRowIndex], (r - from) * this.n);
    const t = this.slotOfRow(from);
    return makeSeries(this.roads, { stepMinutes: this.options.stepMinutes, startDayOfWeek: t.dayOfWeek, startSlot: t.slot }, values);
  }
}
