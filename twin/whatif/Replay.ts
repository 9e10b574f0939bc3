/**
 * A replay of one run for the viewer: every k steps, each vehicle's identity and pose, packed in
 * typed arrays (16 bytes a vehicle: uid, x, y, heading). Size is capped: when the frames pass
 * `maxBytes`, every other frame is dropped and k doubles, so a long run keeps its whole span at
 * a coarser step instead of losing its end.
 */
import { z } from 'zod';
import { DrivableGeometry } from '../network/DrivableGeometry.ts';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { Engine } from '../sim/Engine.ts';

export interface ReplayFrame {
  /** Simulation time (s). */
  time: number;
  /** Vehicle uids (never reused within a run), one per vehicle. */
  ids: Int32Array;
  /** x, y (m) and heading (rad) per vehicle. */
  poses: Float32Array;
}

export interface Replay {
  run: 'scenario' | 'baseline';
  seed: number;
  /** Steps between frames in the end (after any thinning). */
  everySteps: number;
  stepSeconds: number;
  frames: ReplayFrame[];
  bytes: number;
  /** Whether frames were thinned to respect the cap. */
  thinned: boolean;
}

/** JSON-friendly shape check of a replay (typed arrays or number arrays accepted). */
export const ReplayFrameSchema = z.object({
  time: z.number(),
  ids: z.union([z.instanceof(Int32Array), z.array(z.number().int())]),
  poses: z.union([z.instanceof(Float32Array), z.array(z.number())]),
});

const geometryCache = new WeakMap<RoadNetwork, DrivableGeometry>();

export class ReplayRecorder {
  private readonly geometry: DrivableGeometry;
  private every: number;
  private frames: ReplayFrame[] = [];
  private bytes = 0;
  private thinned = false;

  constructor(
    net: RoadNetwork,
    readonly run: 'scenario' | 'baseline',
    readonly seed: number,
    every: number,
    private readonly maxBytes: number,
  ) {
    let g = geometryCache.get(net);
    if (!g) {
      g = new DrivableGeometry(net);
      geometryCache.set(net, g);
    }
    this.geometry = g;
    this.every = every;
  }

  /** Records the state after a step if the step count falls on the frame grid. */
  afterStep(engine: Engine, firstStep: number): void {
    if ((engine.steps - firstStep) % this.every !== 0) return;
    const n = engine.runningCount;
    const ids = new Int32Array(n);
    const poses = new Float32Array(3 * n);
    const xyh = new Float64Array(3);
    let k = 0;
    for (let d = 0; d < engine.nDrv && k < n; d++) {
      engine.forEachOn(d, (slot, dis) => {
        if (k >= n) return;
        this.geometry.locate(d, dis, xyh, 0);
        ids[k] = engine.vehicleUid(slot);
        poses[3 * k] = xyh[0];
        poses[3 * k + 1] = xyh[1];
        poses[3 * k + 2] = xyh[2];
        k++;
      });
    }
    this.frames.push({ time: engine.time, ids, poses });
    this.bytes += 16 * n + 8;
    while (this.bytes > this.maxBytes && this.frames.length > 1) {
      this.frames = this.frames.filter((_, i) => i % 2 === 0);
      this.bytes = this.frames.reduce((s, f) => s + 16 * f.ids.length + 8, 0);
      this.every *= 2;
      this.thinned = true;
    }
  }

  result(stepSeconds: number): Replay {
    return { run: this.run, seed: this.seed, everySteps: this.every, stepSeconds, frames: this.frames, bytes: this.bytes, thinned: this.thinned };
  }
}
