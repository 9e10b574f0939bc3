/**
 * Where controllers get their `TrafficObservation` from. The field's truth for now
 * (`TruthObserver`); the twin's estimator later, by passing another factory — the one switch.
 */
import type { Engine } from '../twin/sim/Engine.ts';
import { TruthObserver, type TrafficObservation } from '../twin/state/TrafficObservation.ts';

export interface ObservationSource {
  /** Records the step just run (called after every step). */
  update(): void;
  /** The traffic as known now. */
  observe(): TrafficObservation;
}

/** Makes a source for a running field; `window` = span of its arrival/departure counts (s). */
export type ObservationSourceFactory = (field: Engine, window: number) => ObservationSource;

export const truthObservation: ObservationSourceFactory = (field, window) => new TruthObserver(field, window);
