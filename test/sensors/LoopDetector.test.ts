import { describe, expect, it } from 'vitest';
import { importFlows, importRoadnet } from '../../twin/network/importCityFlow.ts';
import { Engine } from '../../twin/sim/Engine.ts';
import { LoopDetectorBank, presenceSpan, type DetectorFault } from '../../twin/sensors/LoopDetector.ts';
import { buildSensorLayout, type SensorLayout } from '../../twin/sensors/SensorLayout.ts';
import { corridorRoadnet, crossingRoadnet } from '../fixtures/networks.ts';
import { smallGrid } from './scenario.ts';

/** True crossings of each detector's count line (a vehicle's front passing its upstream edge). */
class CrossingTruth {
  readonly crossings: Float64Array;
  private prev = new Map<number, { lane: number; x: number }>();
  constructor(
    private readonly engine: Engine,
    private readonly layout: SensorLayout,
  ) {
    this.crossings = new Float64Array(layout.detectors.length);
  }
  update(): void {
    const e = this.engine;
    const nL = e.nLanes;
    const cur = new Map<number, { lane: number; x: number }>();
    e.forEachMove((slot, from, to) => {
      const p = this.prev.get(e.vehicleUid(slot));
      if (!p || from >= nL || p.lane !== from) return;
      // Left its lane this step: it crossed every line ahead of where it was.
      void to;
      for (const d of this.layout.laneDetectors[from]) if (this.layout.detectors[d].position > p.x) this.crossings[d]++;
    });
    for (let l = 0; l < nL; l++) {
      e.forEachOn(l, (slot, dis) => {
        const uid = e.vehicleUid(slot);
        const p = this.prev.get(uid);
        const x0 = p && p.lane === l ? p.x : -1e-9;
        for (const d of this.layout.laneDetectors[l]) {
          const pos = this.layout.detectors[d].position;
          if (x0 < pos && dis >= pos) this.crossings[d]++;
        }
        cur.set(uid, { lane: l, x: dis });
      });
    }
    // Vehicles on lane links keep their lane, already past all of its lines.
    for (const [uid, p] of this.prev) if (!cur.has(uid)) cur.set(uid, { lane: p.lane, x: Infinity });
    this.prev = cur;
  }
}

function gridRun(seconds: number, faults: DetectorFault[] = []) {
  const g = smallGrid({ duration: seconds });
  const engine = new Engine(g.net, g.flows, { seed: 3 });
  const layout = buildSensorLayout(g.net);
  const bank = new LoopDetectorBank(engine, layout.detectors, { intervalSteps: 1, faults, recordEdges: true, seed: 5 });
  const truth = new CrossingTruth(engine, layout);
  const occ = new Float64Array(layout.detectors.length);
  const edgeCount = new Float64Array(layout.detectors.length);
  for (let s = 0; s < seconds; s++) {
    engine.step();
    bank.observe();
    truth.update();
    for (let d = 0; d < layout.detectors.length; d++) {
      occ[d] += bank.occupancy[d];
      for (const x of bank.edges[d]) if (x.on) edgeCount[d]++;
    }
  }
  return { engine, layout, bank, truth, occ, edgeCount };
}

describe('presenceSpan', () => {
  it('interpolates the time a vehicle covers the loop within a step', () => {
    // 10 m/s over a 2 m loop at 100 m, a 5 m vehicle: front at 100 after 0.5 s, tail clears 107.
    expect(presenceSpan(95, 105, 1, 100, 2, 5)).toEqual([0.5, 1]);
    expect(presenceSpan(100, 110, 1, 100, 2, 5)).toEqual([0, 0.7]);
    expect(presenceSpan(80, 90, 1, 100, 2, 5)).toBeNull();
    expect(presenceSpan(108, 118, 1, 100, 2, 5)).toBeNull();
    // Standing on it: the whole step.
    expect(presenceSpan(101, 101, 1, 100, 2, 5)).toEqual([0, 1]);
  });
});

describe('LoopDetectorBank', () => {
  it('counts exactly the vehicles that cross each loop, with sane occupancy and speeds', () => {
    const { layout, bank, truth, occ, edgeCount } = gridRun(600);
    let total = 0;
    for (const d of layout.detectors) {
      expect(bank.total[d.index]).toBe(truth.crossings[d.index]);
      expect(edgeCount[d.index]).toBe(bank.total[d.index]);
      total += bank.total[d.index];
      expect(occ[d.index] / 600).toBeGreaterThanOrEqual(0);
      expect(occ[d.index] / 600).toBeLessThanOrEqual(1);
    }
    expect(total).toBeGreaterThan(1000);
    // Stop bars hold standing vehicles at red: far more occupied than entrance loops.
    const mean = (kind: string) => {
      const ds = layout.detectors.filter((d) => d.kind === kind);
      return ds.reduce((s, d) => s + occ[d.index], 0) / ds.length / 600;
    };
    expect(mean('stopbar')).toBeGreaterThan(2 * mean('entrance'));
  });

  it('sees a vehicle standing at a red stop line as continuous presence and counts it once', () => {
    const roadnet = crossingRoadnet(300);
    const net = importRoadnet(roadnet);
    const vehicle = { length: 5, width: 2, maxPosAcc: 2, maxNegAcc: 4.5, usualPosAcc: 2, usualNegAcc: 4.5, minGap: 2.5, maxSpeed: 11.111, headwayTime: 2 };
    const flows = importFlows([{ vehicle, route: ['we_in', 'we_out'], interval: 1, startTime: 0, endTime: 0 }], net);
    const engine = new Engine(net, flows, { signalMode: 'external' });
    engine.setPhase(net.intersectionIndex.get('C')!, 2); // west→east red
    const layout = buildSensorLayout(net);
    const stop = layout.detectors.find((d) => d.kind === 'stopbar' && d.laneId === 'we_in_0')!;
    const bank = new LoopDetectorBank(engine, layout.detectors, { intervalSteps: 1 });
    let full = 0;
    for (let s = 0; s < 90; s++) {
      engine.step();
      bank.observe();
      if (bank.occupancy[stop.index] === 1) full++;
    }
    expect(bank.total[stop.index]).toBe(1);
    expect(full).toBeGreaterThan(40);
    expect(bank.presence[stop.index]).toBe(1);
    engine.setPhase(net.intersectionIndex.get('C')!, 1);
    for (let s = 0; s < 20; s++) {
      engine.step();
      bank.observe();
    }
    expect(bank.presence[stop.index]).toBe(0);
    expect(bank.total[stop.index]).toBe(1);
  });

  it('measures speeds on dual loops only', () => {
    const { layout, bank } = gridRun(300);
    let dualSeen = 0;
    for (const d of layout.detectors) if (!d.dual) expect(Number.isNaN(bank.speed[d.index])).toBe(true);
    // Over the run some dual loop reported a plausible speed at the last interval or earlier.
    for (const d of layout.detectors) if (d.dual && bank.total[d.index] > 0) dualSeen++;
    expect(dualSeen).toBeGreaterThan(10);
  });

  it('works on a corridor with spill-back (vehicles held inside the short block)', () => {
    const roadnet = corridorRoadnet(45, 300);
    const net = importRoadnet(roadnet);
    const vehicle = { length: 5, width: 2, maxPosAcc: 2, maxNegAcc: 4.5, usualPosAcc: 2, usualNegAcc: 4.5, minGap: 2.5, maxSpeed: 11.111, headwayTime: 2 };
    const flows = importFlows([{ vehicle, route: ['wa', 'ab', 'be'], interval: 4, startTime: 0, endTime: 200 }], net);
    const engine = new Engine(net, flows);
    const layout = buildSensorLayout(net);
    const bank = new LoopDetectorBank(engine, layout.detectors, { intervalSteps: 1 });
    const truth = new CrossingTruth(engine, layout);
    for (let s = 0; s < 400; s++) {
      engine.step();
      bank.observe();
      truth.update();
    }
    for (const d of layout.detectors) expect(bank.total[d.index]).toBe(truth.crossings[d.index]);
    expect(bank.total.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
  });
});

describe('detector faults', () => {
  const pick = (layout: SensorLayout, bank: LoopDetectorBank, kind: string, rank = 0) =>
    layout.detectors.filter((d) => d.kind === kind).sort((a, b) => bank.total[b.index] - bank.total[a.index] || a.index - b.index)[rank];

  it('behave as configured from their onset, and leave the other loops alone', () => {
    const clean = gridRun(600);
    const stop = pick(clean.layout, clean.bank, 'stopbar');
    const stop2 = pick(clean.layout, clean.bank, 'stopbar', 1);
    const adv = pick(clean.layout, clean.bank, 'advance');
    const ent = pick(clean.layout, clean.bank, 'entrance');
    const ent2 = pick(clean.layout, clean.bank, 'entrance', 1);
    const faults: DetectorFault[] = [
      { detector: stop.index, type: 'stuck-on', onset: 300, rate: 1 },
      { detector: adv.index, type: 'stuck-off', onset: 300, rate: 1 },
      { detector: ent.index, type: 'chatter', onset: 300, rate: 0.8 },
      { detector: ent2.index, type: 'miscount', onset: 300, rate: -0.3 },
      { detector: stop2.index, type: 'miscount', onset: 300, rate: 0.3 },
    ];
    const faulty = gridRun(600, faults);
    // Same traffic (the sensors do not touch the engine).
    for (const d of clean.layout.detectors) {
      if (faults.some((f) => f.detector === d.index)) continue;
      expect(faulty.bank.total[d.index]).toBe(clean.bank.total[d.index]);
    }
    const truthAfter = (d: number) => clean.truth.crossings[d];
    // Stuck-on: one last count at the onset, then nothing; presence throughout.
    expect(faulty.bank.total[stop.index]).toBeLessThan(truthAfter(stop.index));
    expect(faulty.bank.presence[stop.index]).toBe(1);
    expect(faulty.occ[stop.index]).toBeGreaterThanOrEqual(300);
    // Stuck-off: counts stop at the onset.
    expect(faulty.bank.total[adv.index]).toBeLessThan(0.7 * truthAfter(adv.index));
    // Chatter: well over the true count; miscounts: about 30 % fewer / more after the onset.
    expect(faulty.bank.total[ent.index]).toBeGreaterThan(1.3 * truthAfter(ent.index));
    expect(faulty.bank.total[ent2.index]).toBeLessThan(truthAfter(ent2.index));
    expect(faulty.bank.total[ent2.index]).toBeGreaterThan(0.7 * truthAfter(ent2.index));
    expect(faulty.bank.total[stop2.index]).toBeGreaterThan(truthAfter(stop2.index));
    expect(faulty.bank.total[stop2.index]).toBeLessThan(1.3 * truthAfter(stop2.index));
  });

  it('are deterministic for a seed', () => {
    const a = gridRun(300, [{ detector: 3, type: 'chatter', onset: 0, rate: 0.8 }]);
    const b = gridRun(300, [{ detector: 3, type: 'chatter', onset: 0, rate: 0.8 }]);
    expect(Array.from(a.bank.total)).toEqual(Array.from(b.bank.total));
  });
});
