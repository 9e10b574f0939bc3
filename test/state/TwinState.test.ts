import { describe, expect, it } from 'vitest';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { TruthObserver } from '../../twin/state/TrafficObservation.ts';
import { setup, smallGrid } from '../sensors/scenario.ts';

/** 1 − Σ|est − true| / Σ true over lanes and sampled times, and the queue MAE. */
function score(seconds: number, field = {}) {
  const run = setup(smallGrid({ duration: seconds }), field);
  const truth = new TruthObserver(run.engine);
  let abs = 0;
  let sum = 0;
  let qErr = 0;
  let qN = 0;
  for (let s = 0; s < seconds; s++) {
    run.step();
    truth.update();
    if (s % 10 !== 9) continue;
    const est = run.twin.observe();
    const tru = truth.observe();
    for (let l = 0; l < est.laneVehicles.length; l++) {
      abs += Math.abs(est.laneVehicles[l] - tru.laneVehicles[l]);
      sum += tru.laneVehicles[l];
      qErr += Math.abs(est.laneQueue[l] - tru.laneQueue[l]);
      qN++;
    }
  }
  return { run, accuracy: 1 - abs / sum, queueMae: qErr / qN, truth };
}

describe('TwinState estimate', () => {
  it('tracks the truth closely with clean sensors', () => {
    const { accuracy, queueMae, run } = score(900);
    expect(accuracy).toBeGreaterThan(0.97);
    // (Heavy demand: about five vehicles a lane, queues longer than the cameras' view.)
    expect(queueMae).toBeLessThan(1);
    expect(run.twin.sensorFlags()).toEqual([]);
  });

  it('stays close with 2 s latency, jitter and 5 % of messages lost', () => {
    const { accuracy, run } = score(900, { network: { latency: 2, jitter: 0.5, dropRate: 0.05 }, seed: 2 });
    expect(accuracy).toBeGreaterThan(0.9);
    expect(run.twin.sensorFlags()).toEqual([]);
  });

  it('stays close with occluded cameras (loops carry the counts, the camera is calibrated against them)', () => {
    const { accuracy } = score(900, { camera: { baseMiss: 0.02, occlusion: 0.4 } });
    expect(accuracy).toBeGreaterThan(0.93);
  });

  it('gives turning ratios that sum to one per approach and match the camera counts', () => {
    const { run } = score(600);
    const ratios = run.twin.turningRatios();
    const byRoad = new Map<number, number>();
    for (const r of ratios) byRoad.set(r.road, (byRoad.get(r.road) ?? 0) + r.ratio);
    for (const [road, total] of byRoad) {
      const deps = ratios.find((r) => r.road === road)!.departures;
      if (deps > 0) expect(total).toBeCloseTo(1, 9);
    }
  });

  it('reports per-lane estimates with a confidence and an age, and their sources', () => {
    const { run } = score(300);
    const lanes = run.twin.laneEstimates();
    expect(lanes.length).toBe(run.engine.nLanes);
    for (const e of lanes) {
      expect(e.confidence).toBeGreaterThan(0);
      expect(e.confidence).toBeLessThanOrEqual(1);
      expect(e.age).toBeLessThanOrEqual(15);
      expect(e.inflowSource).toBe('entrance-loop');
      expect(e.outflowSource).toBe('stop-loop');
    }
  });
});

describe('TwinState as a TrafficObservation', () => {
  /** What a controller does with an observation: pressures per intersection from lane vehicles. */
  function pressures(obs: TrafficObservation, run: ReturnType<typeof setup>): number[] {
    const net = run.engine.net;
    return net.intersections
      .filter((i) => !i.virtual)
      .map((inter) => {
        let p = 0;
        for (const m of inter.movements) {
          const mv = net.movements[m];
          for (const l of net.roads[mv.fromRoad].lanes) p += obs.laneVehicles[l];
          for (const l of net.roads[mv.toRoad].lanes) p -= obs.laneVehicles[l];
        }
        return p;
      });
  }

  it('has the same shape as the truth and can drive the same consumer by one switch', () => {
    const run = setup(smallGrid({ duration: 600 }));
    const truth = new TruthObserver(run.engine);
    for (let s = 0; s < 600; s++) {
      run.step();
      truth.update();
    }
    const sources: Record<'truth' | 'twin', () => TrafficObservation> = { truth: () => truth.observe(), twin: () => run.twin.observe() };
    const a = sources.truth();
    const b = sources.twin();
    for (const key of ['laneVehicles', 'laneQueue', 'laneSpeed', 'laneArrivals', 'laneConfidence'] as const) {
      expect(b[key]).toBeInstanceOf(Float64Array);
      expect(b[key].length).toBe(a[key].length);
    }
    expect(b.movementDepartures.length).toBe(a.movementDepartures.length);
    expect(b.time).toBe(a.time);
    expect(b.interval).toBe(a.interval);
    // Counts in the window agree with the truth (clean sensors).
    const sum = (x: Float64Array) => x.reduce((s, v) => s + v, 0);
    expect(Math.abs(sum(b.movementDepartures) - sum(a.movementDepartures))).toBeLessThanOrEqual(2);
    // (The truth observer counts arrivals from upstream only, not vehicles entering the network.)
    const inner = (x: Float64Array) => x.reduce((s, v, l) => (run.engine.net.intersections[run.engine.net.roads[run.engine.net.lanes[l].road].from].virtual ? s : s + v), 0);
    expect(Math.abs(inner(b.laneArrivals) - inner(a.laneArrivals)) / inner(a.laneArrivals)).toBeLessThan(0.05);
    const pa = pressures(a, run);
    const pb = pressures(b, run);
    pa.forEach((p, i) => expect(Math.abs(pb[i] - p)).toBeLessThanOrEqual(3));
    for (let l = 0; l < b.laneSpeed.length; l++) {
      expect(b.laneSpeed[l]).toBeGreaterThanOrEqual(0);
      expect(b.laneQueue[l]).toBeLessThanOrEqual(b.laneVehicles[l] + 1e-9);
    }
  });
});
