/**
 * Forecast-aware adaptive control: actuated logic on *predicted* arrivals rather than on
 * detector pulses. An `ArrivalPredictor` (our kinematic one by default; a forecasting module
 * can be plugged in) says when each movement's vehicles will be at the stop line, over a short
 * horizon (clearance + call lead + look-ahead, ~10 s).
 *
 * It chooses among every green phase of the program (the benchmark's 8), minimum green 5 s,
 * maximum 45 s. In green, after the minimum, the phase is held while it is still useful:
 *   discharging  a vehicle crossed one of its stop lines within the passage time (3 s), or
 *   approaching  vehicles are due within the passage time and holding for them saves them more
 *                delay (they would otherwise wait for the phase to come round again) than it
 *                costs the vehicles waiting on the phases that call (Miller's rule).
 * If only part of the green is busy, it moves to a phase that keeps the busy movements green
 * and serves waiting ones instead of the idle ones (what a dual-ring controller does). When the
 * green is no longer useful, the called phase whose vehicles will have waited longest in total
 * takes over (a call = a vehicle due at the stop line by the time its green could start). With
 * no call elsewhere the green rests. A queue that does not move (blocked exit) stops counting
 * as useful once no departure has happened for the passage time. The options below switch each
 * of these refinements back to the plain actuated rule, for comparison.
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { makePlan } from '../plans.ts';
import type { IntersectionController, SignalPolicy } from '../policy.ts';
import type { SignalView } from '../SignalStateMachine.ts';
import { MIN_GREEN_FLOOR_S } from '../SafetyValidator.ts';
import { kinematicPredictor, type ArrivalPredictorFactory } from './arrivalPredictor.ts';
import { controlSites, type CommonOptions } from './sites.ts';
import { planPhases } from './webster.ts';

export interface ForecastAwareOptions extends CommonOptions {
  minGreen?: number;
  maxGreen?: number;
  /** Passage time (s): the gap in predicted or actual arrivals that ends a green. */
  passage?: number;
  /** A phase is called by a vehicle due within its clearance + this lead (s). */
  callLead?: number;
  /** Use every given/green phase rather than the fewest that serve every movement. */
  allPhases?: boolean;
  predictor?: ArrivalPredictorFactory;
  /**
   * How approaching vehicles extend a green once the queue has gone: `gap` = any vehicle due
   * within the passage time; `delay` = only if the delay it saves them (they would otherwise
   * wait for the phase to come round again) exceeds the delay it adds to the vehicles waiting
   * on the called phases (Miller's rule).
   */
  extension?: 'gap' | 'delay';
  /** Longest extension (s) the `delay` rule looks at, in steps of the passage time. */
  lookAhead?: number;
  /**
   * Which called phase follows: the next in sequence, or the one whose vehicles will have waited
   * longest in total by the time its green can start (no fixed order; nobody starves, since
   * waiting grows with time).
   */
  next?: 'sequence' | 'waiting';
  /**
   * When part of the green is idle while the rest still discharges, move to a phase that keeps
   * the busy movements green and serves called ones instead of the idle ones (what a dual-ring
   * controller does; needs phases like the benchmark's single-approach phases 5–8).
   */
  dropIdle?: boolean;
}

export function forecastAwarePolicy(net: RoadNetwork, opts: ForecastAwareOptions = {}): SignalPolicy {
  const minG = Math.max(MIN_GREEN_FLOOR_S, opts.minGreen ?? 5);
  const maxG = Math.max(minG, opts.maxGreen ?? 45);
  const passage = opts.passage ?? 3;
  const lead = opts.callLead ?? 2;
  const lookAhead = Math.max(passage, opts.lookAhead ?? passage);
  const makePredictor = opts.predictor ?? kinematicPredictor;
  const { sites, warnings } = controlSites(net, opts);
  const controllers: IntersectionController[] = sites.map((site) => {
    const t = planPhases(site, opts.phases !== undefined || (opts.allPhases ?? true));
    const plan = makePlan(t, { control: 'adaptive', green: t.phaseIds.map(() => minG), minGreen: minG, maxGreen: 2 * maxG });
    const served = t.movements.map((ms) => ms.filter((m) => !site.lanes.isRight[m]));
    const predictor = makePredictor(net, site);
    const g = site.safety.globalMovement;
    const horizon = Math.max(lookAhead, Math.max(...t.yellow.map((y, k) => y + t.allRed[k])) + lead + lookAhead) + 1;
    let greenStart = Number.NaN;
    let lastDeparture = Number.NaN;
    const lastMoveDeparture = new Float64Array(site.safety.n).fill(Number.NaN);
    return {
      intersection: site.index,
      plan,
      decide(obs: TrafficObservation, now: number, sig: SignalView) {
        predictor.observe(obs, now);
        if (sig.interval !== 'green') return null;
        const k = sig.phase;
        if (sig.greenStart !== greenStart) greenStart = lastDeparture = sig.greenStart;
        if (served[k].some((m) => obs.movementDepartures[g[m]] > 0)) lastDeparture = now;
        for (const m of served[k]) if (obs.movementDepartures[g[m]] > 0) lastMoveDeparture[m] = now;
        const elapsed = now - sig.greenStart;
        if (elapsed < minG - 1e-9) return null;
        const f = predictor.forecast(now, horizon);
        const clearance = plan.phases[k].yellow + plan.phases[k].allRed;
        const called = (j: number) => served[j].some((m) => f.due[m].length > 0 && f.due[m][0] <= now + clearance + lead);
        const discharging = now - lastDeparture < passage - 1e-9;
        let approaching: boolean;
        if ((opts.extension ?? 'delay') === 'delay') {
          // Hold for Δ more seconds if the vehicles of this phase due within Δ, who would
          // otherwise wait for it to come round again, save more delay than Δ costs the vehicles
          // waiting on the phases that call (Miller's rule), for some Δ up to the look-ahead.
          let others = 0;
          for (let j = 0; j < served.length; j++) if (j !== k && called(j)) others++;
          const comeBack = clearance + others * (minG + clearance);
          approaching = false;
          for (let delta = passage; delta <= lookAhead + 1e-9 && !approaching; delta += passage) {
            let coming = 0;
            for (const m of served[k]) for (const d of f.due[m]) if (d > now && d <= now + delta) coming++;
            let waiting = 0;
            for (let j = 0; j < served.length; j++) {
              if (j === k || !called(j)) continue;
              for (const m of served[j]) for (const d of f.due[m]) if (d <= now + clearance + delta) waiting++;
            }
            approaching = coming > 0 && coming * comeBack > waiting * delta;
          }
        } else approaching = served[k].some((m) => f.due[m].some((d) => d > now && d <= now + passage));
        if ((discharging || approaching) && elapsed < maxG - 1e-9) {
          if (!(opts.dropIdle ?? true)) return null;
          // Busy = departed within the passage time since this green began, or due within it.
          const busy = served[k].filter(
            (m) => (lastMoveDeparture[m] >= sig.greenStart && now - lastMoveDeparture[m] < passage - 1e-9) || f.due[m].some((d) => d > now && d <= now + passage),
          );
          if (busy.length === served[k].length) return null;
          let best = -1;
          let bestScore = 0;
          const start = now + clearance;
          for (let j = 0; j < served.length; j++) {
            if (j === k || !busy.every((m) => served[j].includes(m))) continue;
            let score = 0;
            for (const m of served[j]) {
              if (served[k].includes(m)) continue;
              for (const d of f.due[m]) if (d <= start + lead) score += start + lead - d + 1;
            }
            if (score > bestScore) {
              best = j;
              bestScore = score;
            }
          }
          return best >= 0 ? { request: best } : null;
        }
        if ((opts.next ?? 'waiting') === 'waiting') {
          let best = -1;
          let bestScore = 0;
          const start = now + clearance;
          for (let j = 0; j < served.length; j++) {
            if (j === k || !called(j)) continue;
            let score = 0;
            for (const m of served[j]) for (const d of f.due[m]) if (d <= start + lead) score += start + lead - d + 1;
            if (best < 0 || score > bestScore) {
              best = j;
              bestScore = score;
            }
          }
          return best >= 0 ? { request: best } : null;
        }
        const seq = plan.sequence;
        const at = seq.indexOf(k);
        for (let j = 1; j < seq.length; j++) {
          const cand = seq[(at + j) % seq.length];
          if (called(cand)) return { request: cand };
        }
        return null;
      },
    };
  });
  return { controllers, observationWindow: 1, warnings };
}
