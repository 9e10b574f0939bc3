/**
 * What a control policy is: per intersection, a deterministic function of the observation, the
 * time and its own state (plus what its own signal shows) that asks for a phase and may publish
 * a new timing plan. Policies never touch the signal heads: the state machine does, and only
 * what the validator accepts.
 */
import type { TrafficObservation } from '../twin/state/TrafficObservation.ts';
import type { SignalView } from './SignalStateMachine.ts';
import type { TimingPlan } from './TimingPlan.ts';

export interface Decision {
  /** Plan phase wanted now (index into the plan's phases); null/absent = no request. */
  request?: number | null;
  /** A new plan to adopt at the next safe boundary. */
  plan?: TimingPlan;
}

export interface IntersectionController {
  /** Network intersection index. */
  readonly intersection: number;
  /** The plan it starts with. */
  readonly plan: TimingPlan;
  decide(obs: TrafficObservation, now: number, signal: SignalView): Decision | null;
}

export interface SignalPolicy {
  readonly controllers: readonly IntersectionController[];
  /** Span of the arrival/departure counts it wants in the observation (s). */
  readonly observationWindow: number;
  /** All-red at start-up before the first conflicting green (s). */
  readonly startupAllRed?: number;
  /** Which movements stay green through a change (see `MachineOptions.keepOnChange`). */
  readonly keepOnChange?: 'shared' | 'every-phase';
  /** Notes for the operator (e.g. program phases left out as unsafe). */
  readonly warnings: readonly string[];
}
