import { describe, expect, it } from 'vitest';
import type { DetectorFault, DetectorFaultType } from '../../twin/sensors/LoopDetector.ts';
import { buildSensorLayout, type DetectorKind } from '../../twin/sensors/SensorLayout.ts';
import { TruthObserver } from '../../twin/state/TrafficObservation.ts';
import { setup, smallGrid } from '../sensors/scenario.ts';

const grid = smallGrid({ duration: 900 });
const layout = buildSensorLayout(grid.net);

/**
 * A loop of a kind on a straight (busy) approach lane; `inner`: on a road between two signals
 * (its entrance can be checked against the upstream stop-line counts).
 */
function loopOn(kind: DetectorKind, rank: number, inner = false): number {
  const ds = layout.detectors.filter((d) => {
    const road = grid.net.roads[grid.net.lanes[d.lane].road];
    return d.kind === kind && grid.net.lanes[d.lane].indexInRoad === 1 && layout.approachLane[d.lane] && (!inner || !grid.net.intersections[road.from].virtual);
  });
  return ds[rank % ds.length].index;
}

const ONSET = 300;

function runWith(faults: DetectorFault[], seconds = 900) {
  const run = setup(grid, { detectorFaults: faults });
  const truth = new TruthObserver(run.engine);
  let abs = 0;
  let sum = 0;
  for (let s = 0; s < seconds; s++) {
    run.step();
    truth.update();
    if (s % 10 === 9) {
      const est = run.twin.observe().laneVehicles;
      const tru = truth.observe().laneVehicles;
      for (let l = 0; l < est.length; l++) {
        abs += Math.abs(est[l] - tru[l]);
        sum += tru[l];
      }
    }
  }
  return { run, accuracy: 1 - abs / sum };
}

// Within: seconds from onset. Gross faults show within two minutes; a 30 % miscount needs
// enough vehicles to stand out from the counts' natural disagreement.
const cases: { type: DetectorFaultType; kind: DetectorKind; rate: number; expect: RegExp; within: number; inner?: boolean }[] = [
  { type: 'stuck-on', kind: 'stopbar', rate: 1, expect: /stuck-on/, within: 120 },
  { type: 'stuck-on', kind: 'advance', rate: 1, expect: /stuck-on|miscount/, within: 120 },
  { type: 'stuck-off', kind: 'stopbar', rate: 1, expect: /stuck-off/, within: 120 },
  { type: 'stuck-off', kind: 'entrance', rate: 1, expect: /stuck-off|miscount/, within: 120, inner: true },
  { type: 'chatter', kind: 'entrance', rate: 0.8, expect: /chatter|miscount/, within: 120 },
  { type: 'chatter', kind: 'stopbar', rate: 0.8, expect: /chatter|miscount/, within: 120 },
  { type: 'miscount', kind: 'stopbar', rate: -0.3, expect: /miscount/, within: 400 },
  { type: 'miscount', kind: 'entrance', rate: 0.3, expect: /miscount|chatter/, within: 400, inner: true },
  { type: 'dropouts', kind: 'advance', rate: 1, expect: /silent/, within: 120 },
  { type: 'dropouts', kind: 'stopbar', rate: 0.5, expect: /dropouts|silent/, within: 120 },
];

describe('FaultDetector', () => {
  it('flags no healthy sensor over a clean run', () => {
    const { run } = runWith([]);
    expect(run.twin.sensorFlags()).toEqual([]);
  });

  it.each(cases)('flags a $kind loop that is $type (rate $rate) with a reason and a time, and nothing else', ({ type, kind, rate, expect: reason, within, inner }) => {
    const detector = loopOn(kind, 0, inner);
    const { run } = runWith([{ detector, type, onset: ONSET, rate }], 700);
    const flags = run.twin.sensorFlags();
    const mine = flags.find((f) => f.index === detector && f.kind === 'loop');
    expect(mine, `${layout.detectors[detector].id} not flagged`).toBeDefined();
    expect(mine!.reason).toMatch(reason);
    expect(mine!.at).toBeGreaterThanOrEqual(ONSET);
    expect(mine!.at - ONSET).toBeLessThanOrEqual(within);
    expect(mine!.detail.length).toBeGreaterThan(5);
    expect(run.twin.isTrusted(layout.detectors[detector].id)).toBe(false);
    expect(flags.filter((f) => f !== mine)).toEqual([]);
  });

  it('counts nothing as lost before the first number it received (a twin joining a running field, as after a restart)', () => {
    // Every sensor has been numbering for a while before this twin hears from it.
    const startSeq = Object.fromEntries([...layout.detectors, ...layout.cameras].map((s) => [s.id, 5000]));
    const run = setup(grid, { startSeq });
    for (let s = 0; s < 700; s++) run.step();
    expect(run.twin.sensorFlags()).toEqual([]);
    // And a loop that then loses most of its readings is still caught.
    const detector = loopOn('stopbar', 0);
    const lossy = setup(grid, { startSeq, detectorFaults: [{ detector, type: 'dropouts', onset: ONSET, rate: 0.5 }] });
    for (let s = 0; s < 700; s++) lossy.step();
    expect(lossy.twin.sensorFlags().map((f) => [f.index, f.reason])).toEqual([[detector, expect.stringMatching(/dropouts|silent/)]]);
  });

  it('flags a camera that falls silent and keeps estimating from the loops', () => {
    const run = setup(grid);
    const truth = new TruthObserver(run.engine);
    const cam = layout.cameras[0];
    let abs = 0;
    let sum = 0;
    for (let s = 0; s < 800; s++) {
      run.engine.step();
      truth.update();
      const messages = run.field.afterStep().filter((m) => !(m.sensorId === cam.id && run.engine.time > 300));
      run.twin.ingest({ messages }, Math.round(run.engine.time * 1000));
      run.twin.advance(run.engine.time);
      if (s > 400 && s % 10 === 0) {
        const est = run.twin.observe().laneVehicles;
        const tru = truth.observe().laneVehicles;
        for (const l of cam.lanes) {
          abs += Math.abs(est[l] - tru[l]);
          sum += tru[l];
        }
      }
    }
    const flag = run.twin.sensorFlags().find((f) => f.sensorId === cam.id);
    expect(flag?.reason).toBe('silent');
    expect(flag!.at - 300).toBeLessThanOrEqual(70);
    expect(1 - abs / Math.max(1, sum)).toBeGreaterThan(0.85);
  });

  it('degrades gracefully: with faulty loops the estimate stays usable', () => {
    const faults: DetectorFault[] = [
      { detector: loopOn('entrance', 1), type: 'stuck-off', onset: ONSET, rate: 1 },
      { detector: loopOn('stopbar', 2), type: 'chatter', onset: ONSET, rate: 0.8 },
      { detector: loopOn('advance', 3), type: 'stuck-on', onset: ONSET, rate: 1 },
    ];
    const { accuracy, run } = runWith(faults);
    expect(accuracy).toBeGreaterThan(0.9);
    const flagged = new Set(run.twin.sensorFlags().map((f) => f.index));
    for (const f of faults) expect(flagged.has(f.detector)).toBe(true);
  });
});
