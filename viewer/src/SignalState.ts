/**
 * Live signal state: one code per movement and the running phase per intersection, kept in typed
 * arrays and updated from the `signals` topic. Layers and panels listen for the movements that
 * changed rather than re-reading everything.
 */
import type { SignalsDelta, SignalsSnapshot } from './streamSchemas.ts';

export const SIGNAL_RED = 0;
export const SIGNAL_GREEN = 1;
export const SIGNAL_YELLOW = 2;
/** Not yet known (before the first snapshot) or a character the viewer does not understand. */
export const SIGNAL_UNKNOWN = 3;
export type SignalCode = 0 | 1 | 2 | 3;

export function signalCode(ch: string): SignalCode {
  switch (ch) {
    case 'G':
    case 'g':
      return SIGNAL_GREEN;
    case 'Y':
    case 'y':
      return SIGNAL_YELLOW;
    case 'R':
    case 'r':
      return SIGNAL_RED;
    default:
      return SIGNAL_UNKNOWN;
  }
}

export const SIGNAL_NAMES = ['red', 'green', 'yellow', 'unknown'] as const;

export type SignalListener = (changedMovements: readonly number[], changedIntersections: readonly number[]) => void;

export class SignalState {
  readonly movement: Uint8Array;
  readonly phase: Int32Array;
  /** Simulation time the current phase was first seen (NaN until a change is observed). */
  readonly phaseSince: Float64Array;
  time = Number.NaN;
  /** Movement state changes seen since start (a test hook reads it). */
  changes = 0;
  private readonly listeners: SignalListener[] = [];
  private readonly changedMovements: number[] = [];
  private readonly changedIntersections: number[] = [];

  constructor(movementCount: number, intersectionCount: number) {
    this.movement = new Uint8Array(movementCount).fill(SIGNAL_UNKNOWN);
    this.phase = new Int32Array(intersectionCount).fill(-1);
    this.phaseSince = new Float64Array(intersectionCount).fill(Number.NaN);
  }

  onChange(listener: SignalListener): void {
    this.listeners.push(listener);
  }

  applySnapshot(s: SignalsSnapshot): void {
    this.changedMovements.length = 0;
    this.changedIntersections.length = 0;
    const n = Math.min(s.movements.length, this.movement.length);
    for (let m = 0; m < n; m++) this.setMovement(m, signalCode(s.movements.charAt(m)));
    const k = Math.min(s.phases.length, this.phase.length);
    for (let i = 0; i < k; i++) this.setPhase(i, s.phases[i], s.time, true);
    this.time = s.time;
    this.emit();
  }

  applyDelta(d: SignalsDelta): void {
    this.changedMovements.length = 0;
    this.changedIntersections.length = 0;
    for (const [m, ch] of d.movements) if (m < this.movement.length) this.setMovement(m, signalCode(ch));
    for (const [i, p] of d.phases) if (i < this.phase.length) this.setPhase(i, p, d.time, false);
    this.time = d.time;
    this.emit();
  }

  private setMovement(m: number, code: SignalCode): void {
    const before = this.movement[m];
    if (before === code) return;
    if (before !== SIGNAL_UNKNOWN) this.changes++;
    this.movement[m] = code;
    this.changedMovements.push(m);
  }

  private setPhase(i: number, p: number, time: number, fromSnapshot: boolean): void {
    if (this.phase[i] === p) return;
    // A snapshot says which phase runs, not since when; only an observed change dates it.
    this.phaseSince[i] = fromSnapshot && this.phase[i] === -1 ? Number.NaN : time;
    this.phase[i] = p;
    this.changedIntersections.push(i);
  }

  private emit(): void {
    if (this.changedMovements.length === 0 && this.changedIntersections.length === 0) return;
    for (const l of this.listeners) l(this.changedMovements, this.changedIntersections);
  }
}
