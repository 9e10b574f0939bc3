/**
 * The field's signal heads: the current phase of every signalised intersection and which
 * movements it lets through. Either the roadnet's own fixed program runs (cityflow-model.md §4),
 * or an external controller sets phases and the lights hold them. An external controller may
 * also set the heads movement by movement (`setMovements`): the signal state machines do, since
 * during a change some movements keep green while others run yellow and all-red, which in this
 * model (no yellow) are simply "not available".
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';

export type SignalMode = 'program' | 'external';

export interface TrafficLightsState {
  phase: Int32Array;
  remain: Float64Array;
  /** Movement heads (1 = available); absent in snapshots taken before heads were saved. */
  green?: Uint8Array;
}

export class TrafficLights {
  /** 1 where the movement (global index) may go now. */
  readonly movementGreen: Uint8Array;
  readonly phase: Int32Array;
  readonly remain: Float64Array;
  private readonly signalised: number[];

  constructor(
    private readonly net: RoadNetwork,
    readonly mode: SignalMode,
  ) {
    const n = net.intersections.length;
    this.movementGreen = new Uint8Array(net.movements.length);
    this.phase = new Int32Array(n).fill(-1);
    this.remain = new Float64Array(n);
    this.signalised = net.intersections.filter((i) => !i.virtual && i.phases.length > 0).map((i) => i.index);
    for (const i of this.signalised) {
      this.phase[i] = 0;
      this.remain[i] = net.intersections[i].phases[0].time;
      this.applyPhase(i);
    }
  }

  private applyPhase(i: number): void {
    const inter = this.net.intersections[i];
    for (const m of inter.movements) this.movementGreen[m] = 0;
    const ph = inter.phases[this.phase[i]];
    for (const local of ph.movements) this.movementGreen[inter.movements[local]] = 1;
  }

  /** Sets an intersection's phase at once (external mode); it takes effect in the next step. */
  setPhase(intersection: number, phase: number): void {
    const inter = this.net.intersections[intersection];
    if (inter.virtual || phase < 0 || phase >= inter.phases.length || !Number.isInteger(phase)) {
      throw new RangeError(`intersection ${inter.id} has no phase ${phase}`);
    }
    this.phase[intersection] = phase;
    this.applyPhase(intersection);
  }

  /**
   * Sets which movements of an intersection may go (external mode), by local movement index;
   * `shown` is the phase reported for it (phaseOf). Takes effect in the next step.
   */
  setMovements(intersection: number, available: ArrayLike<number | boolean>, shown: number): void {
    const inter = this.net.intersections[intersection];
    if (inter.virtual || available.length !== inter.movements.length) {
      throw new RangeError(`intersection ${inter.id}: expected ${inter.movements.length} movement heads, got ${available.length}`);
    }
    for (let k = 0; k < inter.movements.length; k++) this.movementGreen[inter.movements[k]] = available[k] ? 1 : 0;
    this.phase[intersection] = shown;
  }

  /** Advances the fixed program by dt (end of a step); external mode holds the phases. */
  passTime(dt: number): void {
    if (this.mode !== 'program') return;
    for (const i of this.signalised) {
      const phases = this.net.intersections[i].phases;
      this.remain[i] -= dt;
      if (this.remain[i] > 0) continue;
      let guard = phases.length;
      let p = this.phase[i];
      while (this.remain[i] <= 0) {
        p = (p + 1) % phases.length;
        this.remain[i] += phases[p].time;
        // An all-zero program would spin forever: hold the phase instead.
        if (phases[p].time === 0 && --guard <= 0) break;
      }
      this.phase[i] = p;
      this.applyPhase(i);
    }
  }

  state(): TrafficLightsState {
    return { phase: this.phase.slice(), remain: this.remain.slice(), green: this.movementGreen.slice() };
  }

  restore(s: TrafficLightsState): void {
    this.phase.set(s.phase);
    this.remain.set(s.remain);
    if (s.green && s.green.length === this.movementGreen.length) this.movementGreen.set(s.green);
    else for (const i of this.signalised) this.applyPhase(i);
  }
}
