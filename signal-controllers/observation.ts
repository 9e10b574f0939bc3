/**
 * Where controllers get their `TrafficObservation` from: the field's truth (`truthObservation`,
 * for evaluation) or the twin's estimate from sensor messages alone (`sensedObservation`) — the
 * one switch. Controllers never see which.
 */
import type { Engine } from '../twin/sim/Engine.ts';
import { SensedObserver, type SensedObserverOptions } from '../twin/state/SensedObserver.ts';
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

/**
 * The twin's estimate: the field's sensors → messages → the twin. `onCreate` hands back the
 * observer (its sensors and twin) to callers that score or inspect it.
 */
export function sensedObservation(options: SensedObserverOptions = {}, onCreate?: (o: SensedObserver) => void): ObservationSourceFactory {
  return (field, window) => {
    const o = new SensedObserver(field, { ...options, twin: { observationWindow: window, ...options.twin } });
    onCreate?.(o);
    return o;
  };
}

export const OBSERVATION_SOURCES = ['truth', 'twin'] as const;
export type ObservationSourceName = (typeof OBSERVATION_SOURCES)[number];

/** The factory for a source named on a command line or in a request. */
export function observationSource(name: ObservationSourceName): ObservationSourceFactory {
  return name === 'twin' ? sensedObservation() : truthObservation;
}
