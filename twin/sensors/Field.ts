/**
 * The field adapter: runs the simulated sensors of a layout against an engine and turns their
 * readings into the messages real field devices would send — stamped with each sensor's hybrid
 * logical clock and sequence number at capture, then delayed (latency, jitter) or lost (network
 * drops, a detector's dropout fault, dropped camera frames) on the way. The same stream can feed
 * the in-process twin or the server's ingest API.
 *
 * Call `afterStep()` after each engine step: it returns the messages that arrive during that
 * step, in arrival order (which, with jitter, is not capture order).
 */
import { z } from 'zod';
import type { Engine } from '../sim/Engine.ts';
import { Mt19937 } from '../random.ts';
import { CameraBank, CameraDegradationSchema } from './Camera.ts';
import { HybridLogicalClock, serializeHlc } from './HybridLogicalClock.ts';
import { DETECTOR_FAULT_TYPES, DetectorFaultSchema, LoopDetectorBank, type DetectorFault, type DetectorFaultType } from './LoopDetector.ts';
import type { CameraFrameWire, LoopReadingWire, SensorMessageWire } from './messages.ts';
import { subSeed } from './noise.ts';
import type { SensorLayout } from './SensorLayout.ts';

export const FieldConfigSchema = z.object({
  seed: z.number().int().default(0),
  /** Physical time (ms) of simulation time 0, for the HLC timestamps. */
  epochMs: z.number().int().nonnegative().default(0),
  /** Loop aggregation interval (s). */
  loopInterval: z.number().positive().default(1),
  /**
   * Report by exception: a loop sends an interval's reading only when something happened in it
   * (a count, a change of presence, partial occupancy), and otherwise a heartbeat every this
   * many seconds covering the quiet time (0: send every interval). A loop under a standing
   * vehicle or on an empty lane then costs one message per heartbeat, not one per second. The
   * reading after an active one is always sent, so that a lost total is repeated a second later.
   */
  loopHeartbeat: z.number().nonnegative().default(10),
  /** Camera frame interval (s). */
  frameInterval: z.number().positive().default(1),
  /** Cameras report by exception too: a frame only when a count changed, else every this many s (0: every frame). */
  frameHeartbeat: z.number().nonnegative().default(10),
  /** Send raw actuation edges with each loop reading. */
  recordEdges: z.boolean().default(false),
  /**
   * First sequence number per sensor id (0 for the rest): a field restarted with the service goes
   * on numbering after the readings already stored, as devices that kept running would.
   */
  startSeq: z.record(z.string(), z.number().int().nonnegative()).default({}),
  detectorFaults: z.array(DetectorFaultSchema).default([]),
  camera: CameraDegradationSchema.extend({
    /** Share of camera frames lost. */
    dropRate: z.number().min(0).max(1).default(0),
  }).prefault({}),
  network: z
    .object({
      /** Delivery delay of every message (s). */
      latency: z.number().nonnegative().default(0),
      /** Extra uniform delay 0…jitter (s): reorders messages. */
      jitter: z.number().nonnegative().default(0),
      /** Share of all messages lost in transit. */
      dropRate: z.number().min(0).max(1).default(0),
    })
    .prefault({}),
});
export type FieldConfig = z.infer<typeof FieldConfigSchema>;
export type FieldConfigInput = z.input<typeof FieldConfigSchema>;

export const FaultPlanOptionsSchema = z.object({
  /** Share of detectors that become faulty. */
  fraction: z.number().min(0).max(1),
  types: z.array(z.enum(DETECTOR_FAULT_TYPES)).min(1).default([...DETECTOR_FAULT_TYPES]),
  /** Onsets are uniform in [from, to] (s). */
  onset: z.tuple([z.number().nonnegative(), z.number().nonnegative()]).default([300, 1800]),
  chatterRate: z.number().min(0).max(1).default(0.8),
  miscountRate: z.number().min(0).max(1).default(0.3),
  dropoutRate: z.number().min(0).max(1).default(0.5),
  seed: z.number().int().default(0),
});
export type FaultPlanOptionsInput = z.input<typeof FaultPlanOptionsSchema>;

/** Picks `fraction` of the layout's detectors and gives each a fault, types in rotation. */
export function planDetectorFaults(layout: SensorLayout, options: FaultPlanOptionsInput): DetectorFault[] {
  const o = FaultPlanOptionsSchema.parse(options);
  const rng = new Mt19937(subSeed(o.seed, 21));
  const n = layout.detectors.length;
  const k = Math.round(o.fraction * n);
  // Partial Fisher–Yates: the first k of a seeded shuffle.
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.nextInt(n - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const chosen = idx.slice(0, k).sort((a, b) => a - b);
  return chosen.map((detector, i): DetectorFault => {
    const type: DetectorFaultType = o.types[i % o.types.length];
    const onset = Math.round(o.onset[0] + rng.nextFloat() * (o.onset[1] - o.onset[0]));
    const rate =
      type === 'chatter' ? o.chatterRate : type === 'dropouts' ? o.dropoutRate : type === 'miscount' ? (rng.nextFloat() < 0.5 ? -1 : 1) * o.miscountRate : 1;
    return { detector, type, onset, rate };
  });
}

/** A message on its way; the list is kept in arrival order. */
interface InFlight {
  at: number;
  order: number;
  msg: SensorMessageWire;
}

export class Field {
  readonly loops: LoopDetectorBank;
  readonly cameras: CameraBank;
  readonly config: FieldConfig;
  private readonly engine: Engine;
  private readonly layout: SensorLayout;
  private readonly loopClock: HybridLogicalClock[];
  private readonly camClock: HybridLogicalClock[];
  private readonly loopSeq: Float64Array;
  private readonly camSeq: Float64Array;
  private readonly dropoutOnset: Float64Array;
  private readonly dropoutRate: Float64Array;
  /** Report by exception: end of the last reported interval (ms), presence then, quiet occupancy since. */
  private readonly sentUntil: Float64Array;
  private readonly sentPresence: Uint8Array;
  private readonly quietOcc: Float64Array;
  /** 1 after an active reading / a changed frame: the next one is sent regardless. */
  private readonly trailing: Uint8Array;
  private readonly frameTrailing: Uint8Array;
  /** Per camera: end of the last frame sent (ms); per lane: in-view and queue last sent. */
  private readonly frameSentAt: Float64Array;
  private readonly sentInView: Int32Array;
  private readonly sentQueue: Int32Array;
  private readonly rng: Mt19937;
  private inFlight: InFlight[] = [];
  private order = 0;
  /** Messages produced / lost so far (for reports). */
  produced = 0;
  lost = 0;

  constructor(engine: Engine, layout: SensorLayout, config: FieldConfigInput = {}) {
    const c = FieldConfigSchema.parse(config);
    this.config = c;
    this.engine = engine;
    this.layout = layout;
    const steps = (s: number) => Math.max(1, Math.round(s / engine.dt));
    this.loops = new LoopDetectorBank(engine, layout.detectors, {
      intervalSteps: steps(c.loopInterval),
      recordEdges: c.recordEdges,
      faults: c.detectorFaults,
      seed: c.seed,
    });
    this.cameras = new CameraBank(engine, layout.cameras, { frameSteps: steps(c.frameInterval), degradation: c.camera, seed: c.seed });
    this.loopClock = layout.detectors.map(() => new HybridLogicalClock());
    this.camClock = layout.cameras.map(() => new HybridLogicalClock());
    this.loopSeq = Float64Array.from(layout.detectors, (d) => c.startSeq[d.id] ?? 0);
    this.camSeq = Float64Array.from(layout.cameras, (cam) => c.startSeq[cam.id] ?? 0);
    this.dropoutOnset = new Float64Array(layout.detectors.length).fill(Infinity);
    this.dropoutRate = new Float64Array(layout.detectors.length);
    for (const f of c.detectorFaults) {
      if (f.type !== 'dropouts') continue;
      this.dropoutOnset[f.detector] = f.onset;
      this.dropoutRate[f.detector] = f.rate;
    }
    this.sentUntil = new Float64Array(layout.detectors.length).fill(c.epochMs);
    this.sentPresence = new Uint8Array(layout.detectors.length);
    this.quietOcc = new Float64Array(layout.detectors.length);
    this.trailing = new Uint8Array(layout.detectors.length);
    this.frameTrailing = new Uint8Array(layout.cameras.length);
    this.frameSentAt = new Float64Array(layout.cameras.length).fill(c.epochMs);
    this.sentInView = new Int32Array(engine.nLanes).fill(-1);
    this.sentQueue = new Int32Array(engine.nLanes).fill(-1);
    this.rng = new Mt19937(subSeed(c.seed, 31));
  }

  /** The injected faults (ground truth for scoring fault detection). */
  get faults(): readonly DetectorFault[] {
    return this.config.detectorFaults;
  }

  /** Runs the sensors over the step just simulated; returns the messages arriving in it. */
  afterStep(): SensorMessageWire[] {
    const e = this.engine;
    const now = e.time;
    if (this.loops.observe()) this.emitLoops();
    if (this.cameras.observe()) this.emitFrames();
    if (this.inFlight.length === 0) return [];
    const out: SensorMessageWire[] = [];
    let keep = 0;
    for (const f of this.inFlight) {
      if (f.at <= now + 1e-9) out.push(f.msg);
      else this.inFlight[keep++] = f;
    }
    this.inFlight.length = keep;
    return out;
  }

  private send(msg: SensorMessageWire, capture: number, extraLoss: number): void {
    this.produced++;
    const net = this.config.network;
    const lossP = 1 - (1 - net.dropRate) * (1 - extraLoss);
    if (lossP > 0 && this.rng.nextFloat() < lossP) {
      this.lost++;
      return;
    }
    const delay = net.latency + (net.jitter > 0 ? this.rng.nextFloat() * net.jitter : 0);
    // Delivered at the end of the step in which it arrives.
    const at = capture + delay;
    if (delay <= 0) {
      this.inFlight.push({ at, order: this.order++, msg });
      return;
    }
    // Keep in-flight sorted by arrival so that delivery preserves arrival order.
    const item = { at, order: this.order++, msg };
    let i = this.inFlight.length;
    while (i > 0 && this.inFlight[i - 1].at > at) i--;
    this.inFlight.splice(i, 0, item);
  }

  private emitLoops(): void {
    const b = this.loops;
    const t = b.intervalEnd;
    const ms = this.config.epochMs + Math.round(t * 1000);
    const intervalMs = Math.round(b.intervalSteps * this.engine.dt * 1000);
    const heartbeatMs = this.config.loopHeartbeat * 1000;
    for (const d of this.layout.detectors) {
      const i = d.index;
      const occ = b.occupancy[i];
      const presence = b.presence[i];
      if (heartbeatMs > 0) {
        const quiet = b.count[i] === 0 && presence === this.sentPresence[i] && (occ === 0 || occ === 1) && occ === presence;
        // The reading after an active one goes out even if quiet: a second chance for a lost
        // running total to arrive a second later instead of a heartbeat later.
        if (quiet && !this.trailing[i] && ms - this.sentUntil[i] < heartbeatMs - 1e-6) {
          this.quietOcc[i] += (occ * intervalMs) / 1000;
          continue;
        }
        this.trailing[i] = quiet ? 0 : 1;
      }
      const span = ms - this.sentUntil[i];
      const sp = b.speed[i];
      const msg: LoopReadingWire = {
        type: 'loop',
        sensorId: d.id,
        ts: serializeHlc(this.loopClock[i].send(ms)),
        seq: this.loopSeq[i]++,
        intervalMs: span > 0 ? span : intervalMs,
        count: b.count[i],
        occupancy: span > 0 ? Math.min(1, (this.quietOcc[i] * 1000 + occ * intervalMs) / span) : occ,
        speed: sp === sp ? sp : null,
        presence: presence === 1,
        total: b.total[i],
      };
      if (this.config.recordEdges) msg.edges = b.edges[i].map((x) => ({ t: x.t + this.config.epochMs, on: x.on }));
      this.sentUntil[i] = ms;
      this.sentPresence[i] = presence;
      this.quietOcc[i] = 0;
      const loss = t >= this.dropoutOnset[i] ? this.dropoutRate[i] : 0;
      this.send(msg, t, loss);
    }
  }

  private emitFrames(): void {
    const b = this.cameras;
    const t = b.frameEnd;
    const ms = this.config.epochMs + Math.round(t * 1000);
    const intervalMs = Math.round(b.frameSteps * this.engine.dt * 1000);
    const net = this.engine.net;
    const heartbeatMs = this.config.frameHeartbeat * 1000;
    for (const c of this.layout.cameras) {
      const k = c.index * 4;
      if (heartbeatMs > 0 && ms - this.frameSentAt[c.index] < heartbeatMs - 1e-6) {
        let changed = false;
        for (const l of c.lanes) if (b.departures[l] > 0 || b.inView[l] !== this.sentInView[l] || b.queue[l] !== this.sentQueue[l]) changed = true;
        const trailing = this.frameTrailing[c.index] === 1;
        this.frameTrailing[c.index] = changed ? 1 : 0;
        if (!changed && !trailing) continue;
      }
      for (const l of c.lanes) {
        this.sentInView[l] = b.inView[l];
        this.sentQueue[l] = b.queue[l];
      }
      const span = ms - this.frameSentAt[c.index];
      this.frameSentAt[c.index] = ms;
      const msg: CameraFrameWire = {
        type: 'camera',
        sensorId: c.id,
        ts: serializeHlc(this.camClock[c.index].send(ms)),
        seq: this.camSeq[c.index]++,
        intervalMs: span > 0 ? span : intervalMs,
        lanes: c.lanes.map((l) => ({
          lane: net.lanes[l].id,
          inView: b.inView[l],
          queue: b.queue[l],
          departures: b.departures[l],
          departuresTotal: b.departuresTotal[l],
        })),
        movements: c.movements.map((m) => ({ movement: net.movements[m].id, count: b.movementCount[m], total: b.movementTotal[m] })),
        classes: { car: b.classes[k], bus: b.classes[k + 1], truck: b.classes[k + 2], emergency: b.classes[k + 3] },
      };
      this.send(msg, t, this.config.camera.dropRate);
    }
  }
}
