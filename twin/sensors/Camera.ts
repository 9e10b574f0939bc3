/**
 * Simulated approach cameras (video analytics over all lanes of one incoming road): per lane,
 * vehicles in view and standing (the visible queue) at each frame, and vehicles crossing the
 * stop line during the frame; per movement, stop-line crossings; vehicles in view by class.
 *
 * Occlusion: each vehicle is missed with a probability that rises with the density in view
 * (`baseMiss + occlusion · density/jamDensity`). Whether a vehicle is hidden is drawn per
 * vehicle and camera and kept for `persistence` seconds, as a vehicle stays behind a truck for
 * a while, so that misses are not independent noise that averaging would remove. Stop-line
 * crossings (near the camera, few vehicles between) are missed at `lineFactor` times that rate.
 * Latency and dropped frames happen where messages are sent (Field.ts).
 */
import { z } from 'zod';
import type { Engine } from '../sim/Engine.ts';
import { WAITING_SPEED } from '../sim/Engine.ts';
import { VehicleDraws, frac, subSeed } from './noise.ts';
import type { CameraSpec } from './SensorLayout.ts';

export const CameraDegradationSchema = z.object({
  /** Miss probability in an empty scene. */
  baseMiss: z.number().min(0).max(1).default(0),
  /** Added miss probability at jam density. */
  occlusion: z.number().min(0).max(1).default(0),
  /** Stop-line crossings are missed at this fraction of the in-view miss rate. */
  lineFactor: z.number().min(0).max(1).default(0.25),
  /** How long a vehicle stays hidden or visible once drawn (s). */
  persistence: z.number().positive().default(10),
  /** Jam density for the occlusion scale (vehicles per metre of lane). */
  jamDensity: z.number().positive().default(1 / 7.5),
});
export type CameraDegradation = z.infer<typeof CameraDegradationSchema>;
export type CameraDegradationInput = z.input<typeof CameraDegradationSchema>;

const CLASS_INDEX: Record<string, number> = { car: 0, bus: 1, truck: 2, emergency: 3 };

export interface CameraBankOptions {
  frameSteps: number;
  degradation?: CameraDegradationInput;
  seed?: number;
}

export class CameraBank {
  readonly cameras: readonly CameraSpec[];
  readonly frameSteps: number;
  private readonly engine: Engine;
  private readonly deg: CameraDegradation;
  private readonly laneCamera: Int32Array;
  private readonly laneViewStart: Float64Array;
  private readonly linkMovement: Int32Array;
  private readonly draws: VehicleDraws;
  private readonly phase: Float64Array;
  private readonly linePhase: Float64Array;
  /** Miss probability of each camera, from the density of its last frame. */
  private readonly miss: Float64Array;
  private steps = 0;

  // ---- frame outputs, by global lane / movement / camera ----
  readonly inView: Int32Array;
  readonly queue: Int32Array;
  readonly departures: Int32Array;
  readonly departuresTotal: Float64Array;
  readonly movementCount: Int32Array;
  readonly movementTotal: Float64Array;
  /** 4 per camera: car, bus, truck, emergency in view. */
  readonly classes: Int32Array;
  frameEnd = 0;
  private readonly curDepartures: Int32Array;
  private readonly curMovement: Int32Array;

  constructor(engine: Engine, cameras: readonly CameraSpec[], options: CameraBankOptions) {
    this.engine = engine;
    this.cameras = cameras;
    this.frameSteps = Math.max(1, Math.round(options.frameSteps));
    this.deg = CameraDegradationSchema.parse(options.degradation ?? {});
    const net = engine.net;
    this.laneCamera = new Int32Array(net.lanes.length).fill(-1);
    this.laneViewStart = new Float64Array(net.lanes.length);
    for (const c of cameras) {
      for (const l of c.lanes) {
        this.laneCamera[l] = c.index;
        this.laneViewStart[l] = Math.max(0, net.lanes[l].length - c.view);
      }
    }
    this.linkMovement = Int32Array.from(net.laneLinks, (k) => k.movement);
    const seed = options.seed ?? 0;
    this.draws = new VehicleDraws(subSeed(seed, 11));
    this.phase = Float64Array.from(cameras, (_, i) => frac(i * 0.6180339887 + 0.1));
    this.linePhase = Float64Array.from(cameras, (_, i) => frac(i * 0.7548776662 + 0.37));
    this.miss = new Float64Array(cameras.length).fill(this.deg.baseMiss);
    this.inView = new Int32Array(net.lanes.length);
    this.queue = new Int32Array(net.lanes.length);
    this.departures = new Int32Array(net.lanes.length);
    this.departuresTotal = new Float64Array(net.lanes.length);
    this.movementCount = new Int32Array(net.movements.length);
    this.movementTotal = new Float64Array(net.movements.length);
    this.classes = new Int32Array(cameras.length * 4);
    this.curDepartures = new Int32Array(net.lanes.length);
    this.curMovement = new Int32Array(net.movements.length);
  }

  /** Call after every engine step; true when a frame has just been captured. */
  observe(): boolean {
    const e = this.engine;
    const nL = e.nLanes;
    e.forEachMove((slot, from, _to, via) => {
      if (from >= nL || via < nL) return;
      const c = this.laneCamera[from];
      if (c < 0) return;
      const pLine = this.miss[c] * this.deg.lineFactor;
      if (pLine > 0 && frac(this.draws.get(e.vehicleUid(slot)) + this.linePhase[c]) < pLine) return;
      this.curDepartures[from]++;
      this.curMovement[this.linkMovement[via - nL]]++;
    });
    if (++this.steps < this.frameSteps) return false;
    this.steps = 0;
    this.capture();
    return true;
  }

  private capture(): void {
    const e = this.engine;
    const t = e.time;
    const epoch = Math.floor(t / this.deg.persistence);
    const epochPhase = frac(epoch * 0.4142135624);
    for (const cam of this.cameras) {
      // True density first: it sets how hard this frame is.
      let n = 0;
      for (const l of cam.lanes) {
        const start = this.laneViewStart[l];
        e.forEachOn(l, (_s, dis) => {
          if (dis >= start) n++;
        });
      }
      const density = n / (cam.view * cam.lanes.length) / this.deg.jamDensity;
      const p = Math.min(0.95, this.deg.baseMiss + this.deg.occlusion * Math.min(1, density));
      this.miss[cam.index] = p;
      const ph = frac(this.phase[cam.index] + epochPhase);
      const cls = cam.index * 4;
      this.classes[cls] = this.classes[cls + 1] = this.classes[cls + 2] = this.classes[cls + 3] = 0;
      for (const l of cam.lanes) {
        const start = this.laneViewStart[l];
        let seen = 0;
        let standing = 0;
        e.forEachOn(l, (slot, dis, speed) => {
          if (dis < start) return;
          if (p > 0 && frac(this.draws.get(e.vehicleUid(slot)) + ph) < p) return;
          seen++;
          if (speed < WAITING_SPEED) standing++;
          this.classes[cls + CLASS_INDEX[e.vehicleClass(slot)]]++;
        });
        this.inView[l] = seen;
        this.queue[l] = standing;
        this.departures[l] = this.curDepartures[l];
        this.departuresTotal[l] += this.curDepartures[l];
        this.curDepartures[l] = 0;
      }
      for (const m of cam.movements) {
        this.movementCount[m] = this.curMovement[m];
        this.movementTotal[m] += this.curMovement[m];
        this.curMovement[m] = 0;
      }
    }
    this.frameEnd = t;
  }
}
