/**
 * Short-term congestion forecasts in the running service: every road of the city, from the
 * twin's estimated road speeds (built from the sensor messages alone), refreshed each minute of
 * simulated time and published on the 'forecasts' stream, with each method's running accuracy
 * against what then happened.
 *
 * The model is never retrained from scratch once it exists: it is loaded from the database (or
 * a directory) at start; without one, a small model is trained once enough rows are recorded;
 * afterwards it is fine-tuned on the windows each new half hour completes. Training runs off
 * the tick, in batches that give the event loop a turn, and is saved after each change.
 */
import { desc, eq, lt, sql } from 'drizzle-orm';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../twin/state/TrafficObservation.ts';
import { BackendNameSchema, initForecastBackend, type BackendName } from '../twin/forecast/backend.ts';
import { CongestionLevelSchema, congestionLevel } from '../twin/forecast/congestion.ts';
import { AccuracyRecordSchema, combineForecasts, FORECAST_METHODS, ForecastAccuracy, HorizonAccuracySchema, ServedWeightsSchema, type ServedWeights } from '../twin/forecast/ForecastAccuracy.ts';
import { forecasterFromArtefact, forecasterToArtefact, loadForecaster, saveForecaster } from '../twin/forecast/forecasterStore.ts';
import { addReadings, emptyHistoricalAverage, hierarchicalMean, overallMean, type HistoricalAverage } from '../twin/forecast/HistoricalAverage.ts';
import { RoadSpeedRecorder } from '../twin/forecast/RoadSpeedRecorder.ts';
import { roadFlowsVph, roadGraph, roadSpeedLimitsKmh, roadSpeedsKmh } from '../twin/forecast/roadReadings.ts';
import type { RoadGraph } from '../twin/forecast/RoadGraph.ts';
import { advance, isValidReading } from '../twin/forecast/series.ts';
import {
  disposeForecaster,
  foldInNewWindows,
  forecastWindow,
  trainForecaster,
  type FoldInPolicy,
  type ForecasterConfigInput,
  type SpeedForecaster,
  type TrainOptionsInput,
} from '../twin/forecast/SpeedForecaster.ts';
import type { Db } from './db/Database.ts';
import { forecasts as forecastsTable, modelArtifacts } from './db/schema.ts';
import type { TopicSource } from './streams/StreamHub.ts';

export const ForecastRoadSchema = z.object({
  road: z.string(),
  /** Speed now (km/h, mean over the last 5 minutes); null before any reading. */
  speed: z.number().nullable(),
  /** Flow into the road now (vehicles/h, the twin's arrival window). */
  flow: z.number(),
  /** Forecast speed (km/h) per horizon. */
  forecast: z.array(z.number().nullable()),
  /** Congestion level per horizon. */
  level: z.array(CongestionLevelSchema.nullable()),
});

export const ModelStatusSchema = z.object({
  state: z.enum(['starting', 'collecting', 'training', 'ready', 'failed']),
  loadedFrom: z.enum(['database', 'directory']).nullable(),
  /** Aligned 5-minute rows recorded since start, and how many a first training needs. */
  rowsRecorded: z.number().int().nonnegative(),
  rowsNeeded: z.number().int().nonnegative(),
  /** Incremental updates done since start. */
  updates: z.number().int().nonnegative(),
  /** Simulated time of the last training or update (s), null if none in this run. */
  lastTrainedAt: z.number().nullable(),
  error: z.string().nullable(),
});

export const ForecastsStateSchema = z.object({
  /** Simulated time of this refresh (s). */
  time: z.number(),
  /** Clock minute (from Monday 00:00) the forecasts start from. */
  minute: z.number().int(),
  backend: BackendNameSchema.nullable(),
  /** Whether the learned model forecast this minute, or only the baselines (no model yet). */
  source: z.enum(['model', 'persistence']),
  /**
   * Per horizon, what the roads' `forecast` values are made of: the methods with a record
   * combined in proportion to the inverse of their recent mean squared error (last hour or so
   * of due minutes); with no record yet, the model if there is one, else persistence.
   */
  servedWeights: z.array(ServedWeightsSchema),
  unit: z.literal('km/h'),
  horizonsMinutes: z.array(z.number().int().positive()),
  model: ModelStatusSchema,
  roads: z.array(ForecastRoadSchema),
  /** Running accuracy of every method per horizon, on the same targets. */
  accuracy: z.array(HorizonAccuracySchema),
});
export type ForecastsState = z.infer<typeof ForecastsStateSchema>;

/** One road's stored forecast at one refresh (every `storeEveryMinutes`), as the history API serves it. */
export const StoredRoadForecastSchema = ForecastRoadSchema.omit({ road: true }).extend({
  /** Row id: pass it as `before` to page further back. */
  id: z.number().int(),
  /** Wall-clock time the row was written. */
  storedAt: z.string(),
  /** Simulated time of the refresh (s; starts again at 0 when the service restarts). */
  time: z.number(),
  minute: z.number().int(),
  source: z.enum(['model', 'persistence']),
  servedWeights: z.array(ServedWeightsSchema),
});
export type StoredRoadForecast = z.infer<typeof StoredRoadForecastSchema>;

/** The part of a stored forecast row a restarted service reads back (older rows lack it). */
const StoredAccuracySchema = z.object({
  accuracyRecord: z.object({ model: z.string(), record: AccuracyRecordSchema }),
});

export const ForecastServiceOptionsSchema = z.object({
  /** Simulated seconds between samples of the twin's road speeds. */
  sampleEverySeconds: z.number().positive().default(10),
  /** Aligned rows (5 min each) recorded before a first model is trained from scratch. */
  trainAfterRows: z.number().int().min(40).default(48),
  /** New rows between incremental updates. */
  updateEveryRows: z.number().int().positive().default(6),
  /** Refreshes (minutes) between rows written to the forecasts table. */
  storeEveryMinutes: z.number().int().positive().default(5),
  hiddenUnits: z.array(z.number().int().positive()).min(1).default([32, 32]),
  /** Wall-clock budget of the first training. */
  trainSeconds: z.number().positive().default(30),
});
export type ForecastServiceOptionsInput = z.input<typeof ForecastServiceOptionsSchema>;

/** The service's model: 5-minute rows, one hour of input, 5 to 60 minutes ahead. */
const STEP_MINUTES = 5;
const INPUT_STEPS = 12;
const HORIZON_STEPS = [1, 2, 3, 6, 9, 12];
const MAX_HORIZON = Math.max(...HORIZON_STEPS);
export const FORECAST_MODEL_CONFIG: ForecasterConfigInput = {
  inputSteps: INPUT_STEPS,
  horizons: HORIZON_STEPS,
  neighbourLags: INPUT_STEPS,
  // As evaluated on Los-loop (DEFAULT_FORECASTER_CONFIG): the neighbours' departure from their
  // usual level, the Huber loss (the service's cold-started model on the inner protocol, pooled
  // 15-min RMSE 4.335 → 4.303, 60 min 5.501 → 5.483).
  neighbourAnomaly: true,
  huberDelta: 3,
  stepMinutes: STEP_MINUTES,
  quantity: 'speed',
};

/**
 * The first training, from the few rows recorded so far: the last fifth (at least 13 rows: one
 * 60-minute window needs 12 after its origin) judges the epochs, then it is folded in.
 */
export function firstTrainingOptions(rows: number, maxSeconds: number): TrainOptionsInput {
  return { maxEpochs: 30, patience: 5, batchSize: 256, validationFraction: Math.min(0.5, Math.max(0.2, 13 / rows)), foldInEpochs: 2, maxSeconds, progress: false };
}

/**
 * Incremental updates: the windows completed since the last update, fine-tuned on beside older
 * windows drawn from the last `replayRows` recorded rows. Fine-tuning on the new windows alone
 * pulls the network towards the latest hours: on Los-loop, run online as the service runs,
 * that made forecasts worse than never updating (twin/forecast/README.md, "Online").
 */
export const UPDATE_POLICY: FoldInPolicy = { epochs: 3, learningRate: 2e-4, replayPerNewWindow: 16, replayRows: 2016 };

export interface ForecastServiceDeps {
  network: RoadNetwork;
  /** Names the stored model (one per city). */
  networkName: string;
  db: Db;
  /** The twin's current estimate. */
  observe: () => TrafficObservation;
  /** Seconds from Monday 00:00 to simulated time 0 (time of day and day of week of the field). */
  clockOffsetSeconds: number;
  /** Also save to / load from this directory (forecaster.json + model.json + weights.bin). */
  dir?: string;
}

export class ForecastService {
  readonly options: z.infer<typeof ForecastServiceOptionsSchema>;
  readonly recorder: RoadSpeedRecorder;
  readonly accuracy: ForecastAccuracy;
  readonly horizonsMinutes: readonly number[];
  readonly artefactName: string;
  private readonly roads: readonly string[];
  private readonly roadIndices: ReadonlyMap<string, number>;
  private readonly graph: RoadGraph;
  private readonly speedLimits: Float32Array;
  private readonly speeds: Float32Array;
  private backendName: BackendName | null = null;
  private forecaster: SpeedForecaster | null = null;
  private baselineHistory: HistoricalAverage;
  /** overallMean(baselineHistory), kept with it: recomputing it per forecast scans every cell. */
  private baselineFallback: Float32Array;
  /** Valid readings per road behind baselineFallback (computed once, then kept up to date). */
  private fallbackCounts: Float64Array | null = null;
  /** Rows below this absolute index are in the forecaster's history. */
  private historyEnd = -Infinity;
  /** First window origin (absolute row) not yet trained on. */
  private nextOrigin: number | null = null;
  private status: z.infer<typeof ModelStatusSchema>;
  private openMinute: number | null = null;
  private lastSample = -Infinity;
  private latest: ForecastsState | null = null;
  private refreshes = 0;
  private stopped = false;
  private training = false;
  /** Background work (start-up, training, saving, storing), awaited on stop. */
  private readonly work = new Set<Promise<unknown>>();

  constructor(
    private readonly deps: ForecastServiceDeps,
    options: ForecastServiceOptionsInput = {},
  ) {
    this.options = ForecastServiceOptionsSchema.parse(options);
    const net = deps.network;
    this.roads = net.roads.map((r) => r.id);
    this.roadIndices = new Map(this.roads.map((id, j) => [id, j]));
    this.graph = roadGraph(net);
    this.speedLimits = roadSpeedLimitsKmh(net);
    this.speeds = new Float32Array(this.roads.length);
    // Minute means for the input hour and the longest horizon still waiting to be scored.
    this.recorder = new RoadSpeedRecorder(this.roads, { stepMinutes: STEP_MINUTES, inputSteps: INPUT_STEPS, keepMinutes: (INPUT_STEPS + MAX_HORIZON + 2) * STEP_MINUTES });
    this.horizonsMinutes = HORIZON_STEPS.map((h) => h * STEP_MINUTES);
    this.accuracy = new ForecastAccuracy(this.horizonsMinutes);
    this.baselineHistory = emptyHistoricalAverage(1440 / STEP_MINUTES, this.roads.length);
    this.baselineFallback = overallMean(this.baselineHistory);
    this.artefactName = `speed-forecaster:${deps.networkName}`;
    this.status = { state: 'starting', loadedFrom: null, rowsRecorded: 0, rowsNeeded: this.options.trainAfterRows, updates: 0, lastTrainedAt: null, error: null };
  }

  get backend(): BackendName | null {
    return this.backendName;
  }

  get modelStatus(): z.infer<typeof ModelStatusSchema> {
    return { ...this.status, rowsRecorded: this.recorder.rowCount };
  }

  get hasModel(): boolean {
    return this.forecaster !== null;
  }

  /** Chooses the TensorFlow.js backend and loads a stored model; not awaited by the service start. */
  start(): Promise<void> {
    return this.track(this.startUp());
  }

  private async startUp(): Promise<void> {
    this.backendName = await initForecastBackend();
    const loaded = await this.loadStored();
    if (this.stopped) {
      if (loaded) disposeForecaster(loaded.forecaster);
      return;
    }
    if (loaded) {
      this.forecaster = loaded.forecaster;
      // The stored history carries the days seen before this run: the baseline starts from it too.
      const h = loaded.forecaster.history;
      this.baselineHistory = { ...h, sum: h.sum.slice(), count: h.count.slice() };
      this.baselineFallback = overallMean(this.baselineHistory);
      this.fallbackCounts = null;
      this.status = { ...this.status, state: 'ready', loadedFrom: loaded.from };
    } else if (this.status.state === 'starting') {
      this.status = { ...this.status, state: 'collecting' };
    }
    await this.restoreAccuracy(loaded !== null);
  }

  /**
   * Carries on the running accuracy and each method's recent skill from the newest stored
   * forecast row of this city, so that after a restart the served blend keeps its weights
   * instead of serving the model alone until the methods have new records. Up to
   * `storeEveryMinutes` of scoring, and the forecasts not yet due, are lost with the process.
   */
  private async restoreAccuracy(modelLoaded: boolean): Promise<void> {
    try {
      const rows = await this.deps.db.select({ payload: forecastsTable.payload }).from(forecastsTable).orderBy(desc(forecastsTable.id)).limit(1);
      if (rows.length === 0) return;
      const stored = StoredAccuracySchema.safeParse(rows[0].payload);
      if (!stored.success || stored.data.accuracyRecord.model !== this.artefactName) return;
      if (!this.accuracy.merge(stored.data.accuracyRecord.record, { withModel: modelLoaded })) {
        console.error('forecasts: the stored accuracy record is for other horizons; not restored');
      }
    } catch (e) {
      console.error('forecasts: could not restore the running accuracy:', e instanceof Error ? e.message : e);
    }
  }

  private async loadStored(): Promise<{ forecaster: SpeedForecaster; from: 'database' | 'directory' } | null> {
    const fits = (f: SpeedForecaster): boolean =>
      f.sensors.length === this.roads.length && f.sensors.every((id, j) => id === this.roads[j]) &&
      f.config.stepMinutes === STEP_MINUTES &&
      f.config.inputSteps === this.recorder.options.inputSteps &&
      f.config.quantity === 'speed';
    const candidates: [() => Promise<SpeedForecaster | null>, 'database' | 'directory'][] = [
      [async () => {
        const rows = await this.deps.db.select().from(modelArtifacts).where(eq(modelArtifacts.name, this.artefactName));
        return rows[0] ? forecasterFromArtefact(rows[0].artifact) : null;
      }, 'database'],
      [async () => (this.deps.dir && existsSync(join(this.deps.dir, 'forecaster.json')) ? loadForecaster(this.deps.dir) : null), 'directory'],
    ];
    for (const [load, from] of candidates) {
      try {
        const f = await load();
        if (!f) continue;
        if (fits(f)) return { forecaster: f, from };
        disposeForecaster(f);
        console.error(`forecasts: the stored model (${from}) is for other roads; ignored`);
      } catch (e) {
        console.error(`forecasts: could not load the stored model (${from}):`, e instanceof Error ? e.message : e);
      }
    }
    return null;
  }

  /** Call after the twin has advanced to `simTime` (s): samples, and refreshes on each new minute. */
  onTick(simTime: number): void {
    if (this.stopped) return;
    const clock = this.deps.clockOffsetSeconds + simTime;
    const minute = Math.floor(clock / 60);
    if (this.openMinute === null) this.openMinute = minute;
    if (minute > this.openMinute) {
      const closed = this.openMinute;
      this.openMinute = minute;
      this.closeMinute(closed, simTime);
    }
    const sampleSlot = Math.floor(clock / this.options.sampleEverySeconds);
    if (sampleSlot !== this.lastSample) {
      this.lastSample = sampleSlot;
      this.recorder.addSample(roadSpeedsKmh(this.deps.network, this.deps.observe(), this.speeds));
    }
  }

  private closeMinute(minute: number, simTime: number): void {
    const row = this.recorder.closeMinute(minute);
    if (row) {
      // The service owns this average (a copy when it came with a stored model): added in place.
      this.fallbackCounts ??= roadCounts(this.baselineHistory);
      addReadings(this.baselineHistory, this.recorder.series(row.rowIndex, row.rowIndex + 1));
      this.baselineFallback = this.updatedFallback(row.values);
      this.maybeTrain(simTime);
    }
    this.accuracy.resolve(minute, this.recorder.rollingValue(minute));
    this.refresh(minute, simTime);
  }

  /**
   * The per-road overall mean after one row joined the history, without rescanning every cell:
   * old mean × old count plus the row's valid readings.
   */
  private updatedFallback(values: Float32Array): Float32Array {
    const n = this.roads.length;
    const counts = this.fallbackCounts ?? new Float64Array(n);
    const out = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      const c = counts[j];
      let sum = c > 0 ? this.baselineFallback[j] * c : 0;
      let count = c;
      if (isValidReading(values[j])) {
        sum += values[j];
        count += 1;
      }
      counts[j] = count;
      out[j] = count > 0 ? sum / count : NaN;
    }
    return out;
  }

  /** Forecasts from the window ending at `minute`, for every method; publishes and scores them. */
  private refresh(minute: number, simTime: number): void {
    const n = this.roads.length;
    const { values, lastRowTime } = this.recorder.window(minute);
    const last = values.subarray(values.length - n);
    const f = this.forecaster;
    let model: Float32Array | null = null;
    if (f) {
      try {
        model = forecastWindow(f, values, lastRowTime);
      } catch (e) {
        this.status = { ...this.status, error: `forecast failed: ${e instanceof Error ? e.message : String(e)}` };
      }
    }
    const spd = 1440 / STEP_MINUTES;
    const scratch = new Float32Array(n);
    const historical = (mins: number): Float32Array => {
      // The historical-average baseline: same weekday → same time of day → the road's mean.
      const out = new Float32Array(n);
      hierarchicalMean(this.baselineHistory, ['dayOfWeek', 'timeOfDay'], advance(lastRowTime, mins / STEP_MINUTES, spd), out, this.baselineFallback, scratch);
      return out;
    };
    const candidates = this.horizonsMinutes.map((mins, k) => ({
      model: model ? model.slice(k * n, (k + 1) * n) : null,
      persistence: Float32Array.from(last),
      historicalAverage: historical(mins),
    }));
    const available = FORECAST_METHODS.filter((m) => m !== 'model' || model !== null);
    const servedWeights: ServedWeights[] = candidates.map((_, k) => this.accuracy.recentWeights(k, available) ?? (model ? { model: 1 } : { persistence: 1 }));
    const issued = candidates.map((c, k) => ({ ...c, served: combineForecasts(servedWeights[k], c, n) }));
    this.accuracy.issue(minute, issued);

    const freeFlow = f ? f.freeFlow : this.speedLimits;
    const flows = roadFlowsVph(this.deps.network, this.deps.observe());
    const finite = (v: number): number | null => (Number.isFinite(v) ? Math.round(v * 10) / 10 : null);
    const roads = this.roads.map((road, j) => {
      const forecast = issued.map((s) => finite(s.served[j]));
      const ff = Number.isFinite(freeFlow[j]) ? freeFlow[j] : this.speedLimits[j];
      return {
        road,
        speed: finite(last[j]),
        flow: Math.round(flows[j]),
        forecast,
        level: forecast.map((v) => (v === null ? null : congestionLevel(v, ff))),
      };
    });
    this.latest = {
      time: simTime,
      minute,
      backend: this.backendName,
      source: model ? 'model' : 'persistence',
      servedWeights,
      unit: 'km/h',
      horizonsMinutes: [...this.horizonsMinutes],
      model: this.modelStatus,
      roads,
      accuracy: this.accuracy.summary(),
    };
    this.refreshes++;
    if (this.refreshes % this.options.storeEveryMinutes === 0) {
      const payload = {
        minute,
        source: this.latest.source,
        servedWeights,
        horizonsMinutes: this.latest.horizonsMinutes,
        roads,
        accuracy: this.latest.accuracy,
        accuracyRecord: { model: this.artefactName, record: this.accuracy.record() },
      };
      this.track(
        this.deps.db
          .insert(forecastsTable)
          .values({ simTime, payload })
          .catch((e: unknown) => console.error('forecasts: could not store a forecast:', e instanceof Error ? e.message : e)),
      );
    }
  }

  /** The latest refresh (null before the first minute has closed). */
  get state(): ForecastsState | null {
    return this.latest;
  }

  /** Index of a road of the city by its id (-1: no such road). */
  roadIndex(road: string): number {
    return this.roadIndices.get(road) ?? -1;
  }

  /**
   * One road's stored forecasts, newest first (`limit` rows, before row id `before` if given):
   * what was forecast at each stored refresh beside the speed then, so forecasts can be laid
   * against what followed. Only that road's element is read out of each row (a row holds every
   * road). Rows written for another network (another road at that place) are skipped. Null for
   * a road the city does not have.
   */
  async storedHistory(road: string, query: { limit: number; before?: number }): Promise<StoredRoadForecast[] | null> {
    const j = this.roadIndex(road);
    if (j < 0) return null;
    const t = forecastsTable;
    const rows = await this.deps.db
      .select({
        id: t.id,
        storedAt: t.createdAt,
        time: t.simTime,
        minute: sql<unknown>`${t.payload} -> 'minute'`,
        source: sql<unknown>`${t.payload} -> 'source'`,
        servedWeights: sql<unknown>`${t.payload} -> 'servedWeights'`,
        // j is a checked index: inlined, as a bound parameter makes `->` ambiguous (text or int).
        road: sql<unknown>`${t.payload} -> 'roads' -> ${sql.raw(String(j))}`,
      })
      .from(t)
      .where(query.before === undefined ? undefined : lt(t.id, query.before))
      .orderBy(desc(t.id))
      .limit(query.limit);
    const out: StoredRoadForecast[] = [];
    for (const { road: element, storedAt, ...row } of rows) {
      // A row of another network may have another road there, or none (a shorter list).
      const stored = ForecastRoadSchema.safeParse(element);
      if (!stored.success || stored.data.road !== road) continue;
      const { road: _, ...values } = stored.data;
      const parsed = StoredRoadForecastSchema.safeParse({ ...values, ...row, storedAt: storedAt.toISOString() });
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }

  /** The 'forecasts' topic: the latest refresh, sent again only when a new minute is refreshed. */
  source(): TopicSource<ForecastsState | null> {
    return {
      snapshot: () => this.latest,
      delta: (prev, next) => (next !== null && (prev === null || prev.minute !== next.minute) ? next : null),
    };
  }

  // ------------------------------------------------------------------ training

  private maybeTrain(simTime: number): void {
    if (this.training || this.stopped || this.backendName === null || this.status.state === 'starting') return;
    const maxH = MAX_HORIZON;
    const inputSteps = INPUT_STEPS;
    const end = this.recorder.endRow;
    if (!this.forecaster) {
      if (this.recorder.rowCount < this.options.trainAfterRows) return;
      this.runTraining(simTime, async () => {
        const series = this.recorder.series(this.recorder.firstRow, end);
        const { forecaster } = await trainForecaster(
          series,
          this.graph,
          { ...FORECAST_MODEL_CONFIG, hiddenUnits: this.options.hiddenUnits },
          { ...firstTrainingOptions(series.rows, this.options.trainSeconds), yieldBetweenBatches: true },
        );
        return forecaster;
      }, end, end - maxH);
      return;
    }
    // Incremental: the windows completed since the last update (every target now recorded).
    const firstOrigin = Math.max(this.nextOrigin ?? -Infinity, this.recorder.firstRow + inputSteps - 1);
    const lastOrigin = end - 1 - maxH;
    if (lastOrigin < firstOrigin || end - Math.max(this.historyEnd, this.recorder.firstRow) < this.options.updateEveryRows) return;
    const current = this.forecaster;
    this.runTraining(simTime, async () => {
      const from = Math.max(this.recorder.firstRow, firstOrigin - inputSteps + 1 - UPDATE_POLICY.replayRows);
      const { forecaster } = await foldInNewWindows(current, this.recorder.series(from, end), firstOrigin - from, this.historyEnd - from, UPDATE_POLICY, { yieldBetweenBatches: true });
      return forecaster;
    }, end, lastOrigin + 1);
  }

  private runTraining(simTime: number, train: () => Promise<SpeedForecaster>, historyEnd: number, nextOrigin: number): void {
    this.training = true;
    const first = this.forecaster === null;
    if (first) this.status = { ...this.status, state: 'training' };
    this.track(
      (async () => {
        try {
          // Start after the current tick, not on its clock (the work itself yields as it goes).
          await new Promise<void>((resolve) => setImmediate(resolve));
          const next = await train();
          if (this.stopped) {
            disposeForecaster(next);
            return;
          }
          const old = this.forecaster;
          this.forecaster = next;
          if (old) disposeForecaster(old);
          this.historyEnd = historyEnd;
          this.nextOrigin = nextOrigin;
          this.status = { ...this.status, state: 'ready', updates: this.status.updates + (first ? 0 : 1), lastTrainedAt: simTime, error: null };
          await this.save(next);
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          this.status = { ...this.status, state: this.forecaster ? 'ready' : 'failed', error: message };
          console.error('forecasts: training failed:', message);
        } finally {
          this.training = false;
        }
      })(),
    );
  }

  /** Saves the model to the database (and the directory, if configured). */
  async save(f: SpeedForecaster | null = this.forecaster): Promise<void> {
    if (!f) return;
    const artifact = await forecasterToArtefact(f);
    await this.deps.db
      .insert(modelArtifacts)
      .values({ name: this.artefactName, artifact })
      .onConflictDoUpdate({ target: modelArtifacts.name, set: { artifact, savedAt: new Date() } });
    if (this.deps.dir) await saveForecaster(f, this.deps.dir);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.work.add(p);
    const done = () => this.work.delete(p);
    p.then(done, done);
    return p;
  }

  /** Resolves once no background work (start-up, training, saving) is in flight. */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  /** Stops refreshing and waits for background work (training, saving) to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.work]);
    if (this.forecaster) disposeForecaster(this.forecaster);
    this.forecaster = null;
  }
}

/** Valid readings per road over the whole history. */
function roadCounts(ha: HistoricalAverage): Float64Array {
  const n = ha.sensorCount;
  const out = new Float64Array(n);
  for (let cell = 0; cell < ha.count.length; cell += n) for (let j = 0; j < n; j++) out[j] += ha.count[cell + j];
  return out;
}
