/**
 * Runs a control policy on the field (the simulation engine): one signal state machine per
 * intersection between the policy and the signal heads, an observation source (the truth now,
 * the twin's estimator later) and the safety monitor that checks the heads on every step.
 * In the CityFlow model there is no yellow: a movement in yellow or all-red is "not available"
 * (vehicles that can still stop do; those that cannot, proceed — which is what yellow means).
 */
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { Engine } from '../twin/sim/Engine.ts';
import { truthObservation, type ObservationSource, type ObservationSourceFactory } from './observation.ts';
import type { SignalPolicy } from './policy.ts';
import { SignalSafetyMonitor, intersectionSafety, type IntersectionSafety } from './SafetyValidator.ts';
import { SignalStateMachine } from './SignalStateMachine.ts';

export interface ControllerReport {
  /** Intersection-steps in an unsafe state (conflicting greens, or a green without clearance). */
  unsafeStates: number;
  /** Changes from one green phase to another. */
  phaseSwitches: number;
  /** Plans the validator refused. */
  refusedPlans: number;
  warnings: string[];
}

/** A controller attached to a simulation run (see `runSimulation`'s hooks). */
export interface ControllerInstance {
  signalMode: 'program' | 'external';
  beforeStep?: (engine: Engine) => void;
  afterStep?: (engine: Engine) => void;
  report(): ControllerReport;
}

export interface FieldOptions {
  observation?: ObservationSourceFactory;
}

/** Safety models of every signalised intersection, by network index (cached per network). */
const safetyCache = new WeakMap<RoadNetwork, Map<number, IntersectionSafety>>();
export function safetyModels(net: RoadNetwork): Map<number, IntersectionSafety> {
  let m = safetyCache.get(net);
  if (!m) {
    m = new Map(net.intersections.filter((i) => !i.virtual && i.phases.length > 0).map((i) => [i.index, intersectionSafety(net, i.index)]));
    safetyCache.set(net, m);
  }
  return m;
}

/** The roadnet's own program, replayed exactly as CityFlow runs it, watched by the monitor. */
export function programReplay(net: RoadNetwork): ControllerInstance {
  const monitor = new SignalSafetyMonitor(net, [...safetyModels(net).values()]);
  return {
    signalMode: 'program',
    beforeStep: (engine) => void monitor.check(engine.lights.movementGreen, engine.time),
    report: () => ({
      unsafeStates: monitor.unsafeStates,
      phaseSwitches: 0,
      refusedPlans: 0,
      warnings:
        monitor.unsafeStates > 0
          ? [`the raw program runs ${monitor.unsafeStates} unsafe signal states (no clearance between conflicting phases), e.g. ${monitor.examples[0]}`]
          : [],
    }),
  };
}

export function fieldController(net: RoadNetwork, policy: SignalPolicy, opts: FieldOptions = {}): ControllerInstance {
  const models = safetyModels(net);
  const monitor = new SignalSafetyMonitor(net, [...models.values()]);
  const makeSource = opts.observation ?? truthObservation;
  const controllers = policy.controllers;
  let source: ObservationSource | null = null;
  let machines: SignalStateMachine[] = [];
  let refusedPlans = 0;
  const warnings = [...policy.warnings];
  // Roadnet phase shown for each set of green movements (for phaseOf), by intersection.
  const shownBySet = controllers.map((c) => {
    const map = new Map<string, number>();
    for (const p of net.intersections[c.intersection].phases) {
      const key = [...p.movements].sort((a, b) => a - b).join(',');
      if (!map.has(key)) map.set(key, p.index);
    }
    return map;
  });
  const heads = controllers.map((c) => new Uint8Array(net.intersections[c.intersection].movements.length));

  const apply = (engine: Engine, k: number) => {
    const c = controllers[k];
    const m = machines[k];
    const h = heads[k];
    const greens: number[] = [];
    m.forEachGreen((mv, g) => {
      h[mv] = g ? 1 : 0;
      if (g) greens.push(mv);
    });
    const v = m.view();
    const shown = v.interval === 'green' ? m.plan.phases[v.phase].id : (shownBySet[k].get(greens.join(',')) ?? engine.phaseOf(c.intersection));
    engine.lights.setMovements(c.intersection, h, shown);
  };

  return {
    signalMode: 'external',
    beforeStep(engine) {
      const now = engine.time;
      if (!source) {
        source = makeSource(engine, policy.observationWindow);
        machines = controllers.map((c) => new SignalStateMachine(models.get(c.intersection)!, c.plan, now, {
          startupAllRed: policy.startupAllRed ?? 0,
          keepOnChange: policy.keepOnChange ?? 'shared',
        }));
      }
      const obs = source.observe();
      for (let k = 0; k < controllers.length; k++) {
        const m = machines[k];
        const d = controllers[k].decide(obs, now, m.view());
        if (d?.plan) {
          const v = m.adopt(d.plan, now);
          if (!v.ok) {
            refusedPlans++;
            if (warnings.length < 20) warnings.push(`plan refused at t=${now}: ${v.reasons.map((r) => r.message).join('; ')}`);
          }
        }
        if (d?.request !== undefined && d.request !== null) m.request(d.request, now);
        m.advance(now);
        apply(engine, k);
      }
      monitor.check(engine.lights.movementGreen, now);
    },
    afterStep() {
      source?.update();
    },
    report() {
      const refusedChanges = machines.reduce((s, m) => s + m.refusedChanges, 0);
      return {
        unsafeStates: monitor.unsafeStates,
        phaseSwitches: machines.reduce((s, m) => s + m.switches, 0),
        refusedPlans,
        warnings: [
          ...warnings,
          ...(refusedChanges > 0 ? [`the validator refused ${refusedChanges} light changes of the state machines`] : []),
          ...(monitor.unsafeStates > 0 ? [`unsafe signal states: ${monitor.examples.join(' | ')}`] : []),
        ],
      };
    },
  };
}

