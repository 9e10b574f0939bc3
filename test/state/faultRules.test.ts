/**
 * The fault detector's run-long rules, fed synthetic loop readings (every loop reports every
 * second, so that nothing is silent and only the rule under test can fire): several counts in
 * one second, pulses too short for any vehicle, and message loss beyond the network's own.
 */
import { describe, expect, it } from 'vitest';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { Mt19937 } from '../../twin/random.ts';
import { serializeHlc } from '../../twin/sensors/HybridLogicalClock.ts';
import type { LoopReadingWire } from '../../twin/sensors/messages.ts';
import { buildSensorLayout, type DetectorKind } from '../../twin/sensors/SensorLayout.ts';
import { TwinState } from '../../twin/state/TwinState.ts';
import { crossingRoadnet } from '../fixtures/networks.ts';

const net = importRoadnet(crossingRoadnet(300));
const layout = buildSensorLayout(net);

function detector(kind: DetectorKind, approach: boolean): number {
  const d = layout.detectors.find((x) => x.kind === kind && (layout.approachLane[x.lane] === 1) === approach);
  if (!d) throw new Error(`no ${kind} loop`);
  return d.index;
}

/** What loop d reports in second t: count, occupancy (share of the second); default quiet. */
type Script = (d: number, t: number) => { count: number; occupancy: number } | null;

/**
 * Runs `seconds` of one-second readings from every loop through the twin; `lose(d, t)` drops a
 * reading on its way.
 */
function run(seconds: number, script: Script, lose: (d: number, t: number) => boolean = () => false): TwinState {
  const twin = new TwinState(net, layout);
  const seq = new Float64Array(layout.detectors.length);
  const total = new Float64Array(layout.detectors.length);
  for (let t = 1; t <= seconds; t++) {
    const messages: LoopReadingWire[] = [];
    for (const det of layout.detectors) {
      const r = script(det.index, t) ?? { count: 0, occupancy: 0 };
      total[det.index] += r.count;
      const msg: LoopReadingWire = {
        type: 'loop',
        sensorId: det.id,
        ts: serializeHlc({ pt: t * 1000, lc: 0 }),
        seq: seq[det.index]++,
        intervalMs: 1000,
        count: r.count,
        occupancy: r.occupancy,
        speed: null,
        presence: false,
        total: total[det.index],
      };
      if (!lose(det.index, t)) messages.push(msg);
    }
    if (messages.length > 0) twin.ingest({ messages }, t * 1000);
    twin.advance(t);
  }
  return twin;
}

const loopFlags = (twin: TwinState, d: number) => twin.sensorFlags().filter((f) => f.kind === 'loop' && f.index === d);

describe('fault detector: readings no healthy loop produces', () => {
  const stop = detector('stopbar', true);

  // (Upstream loops that saw nothing of what the stop bar counted are rightly flagged stuck-off,
  // and the cameras, which send nothing here, silent: only the loop under test is looked at.)
  it('flags a loop that reports two counts within one second three times, too far apart for any window', () => {
    const twin = run(800, (d, t) => (d === stop && (t === 100 || t === 400 || t === 700) ? { count: 2, occupancy: 0.5 } : null));
    const flags = loopFlags(twin, stop);
    expect(flags).toHaveLength(1);
    expect(flags[0].reason).toMatch(/miscount|chatter/);
    expect(flags[0].at).toBeGreaterThanOrEqual(700);
    expect(flags[0].since).toBeLessThanOrEqual(100);
  });

  it('does not flag two such readings among single counts', () => {
    const twin = run(800, (d, t) => {
      if (d === stop && (t === 100 || t === 400)) return { count: 2, occupancy: 0.5 };
      if (d === stop && t % 3 === 0) return { count: 1, occupancy: 0.5 };
      return null;
    });
    expect(loopFlags(twin, stop)).toEqual([]);
  });

  it('flags counts whose whole presence is shorter than any vehicle, but not at an exit loop', () => {
    const entrance = detector('entrance', true);
    const exit = detector('exit', false);
    const pulses = new Set([100, 160, 220]);
    const twin = run(300, (d, t) => ((d === entrance || d === exit) && pulses.has(t) ? { count: 1, occupancy: 0.04 } : null));
    const flags = loopFlags(twin, entrance);
    expect(flags).toHaveLength(1);
    expect(flags[0].reason).toBe('chatter');
    expect(flags[0].at).toBeGreaterThanOrEqual(220);
    // Vehicles leave the network at an exit loop's end, cutting their pulse: no proof there.
    expect(loopFlags(twin, exit)).toEqual([]);
  });

  it('does not flag the same counts with a vehicle-length presence', () => {
    const entrance = detector('entrance', true);
    const twin = run(300, (d, t) => (d === entrance && (t === 100 || t === 160 || t === 220) ? { count: 1, occupancy: 0.6 } : null));
    expect(loopFlags(twin, entrance)).toEqual([]);
  });
});

describe('fault detector: message loss against the network', () => {
  it('flags nobody under 5 % network loss, and a loop losing half its messages besides', () => {
    const rng = new Mt19937(5);
    const bad = detector('advance', true);
    const twin = run(900, () => null, (d, t) => rng.nextFloat() < 0.05 || (d === bad && t >= 300 && rng.nextFloat() < 0.5));
    const dropouts = twin.sensorFlags().filter((f) => f.reason === 'dropouts');
    expect(dropouts.map((f) => f.index)).toEqual([bad]);
    expect(dropouts[0].at).toBeGreaterThanOrEqual(300);
    expect(dropouts[0].at - 300).toBeLessThanOrEqual(120);
  });

  it('flags nobody under 20 % network loss (the reference is the network, not a fixed share)', () => {
    const rng = new Mt19937(6);
    const twin = run(900, () => null, () => rng.nextFloat() < 0.2);
    expect(twin.sensorFlags().filter((f) => f.reason === 'dropouts')).toEqual([]);
  });
});

describe('fault detector: an entrance against its advance loop over long spans', () => {
  const entrance = detector('entrance', true);
  const lane = layout.detectors[entrance].lane;
  const advance = layout.detectors.find((x) => x.lane === lane && x.kind === 'advance')!.index;
  const stopBar = layout.detectors.find((x) => x.lane === lane && x.kind === 'stopbar')!.index;
  // A vehicle every 20 s crosses the entrance, 10 s later the advance loop, 10 s later the stop bar.
  const traffic = (missEvery: number): Script => (d, t) => {
    if (d === entrance && t % 20 === 0 && (missEvery === 0 || (t / 20) % missEvery !== 0)) return { count: 1, occupancy: 0.5 };
    if (d === advance && t % 20 === 10 && t > 10) return { count: 1, occupancy: 0.5 };
    if (d === stopBar && t % 20 === 0 && t > 20) return { count: 1, occupancy: 0.5 };
    return null;
  };

  it('flags an entrance missing every third vehicle on a quiet lane (never 4 in a window), as a miscount', () => {
    const twin = run(900, traffic(3));
    const flags = loopFlags(twin, entrance);
    expect(flags).toHaveLength(1);
    expect(flags[0].reason).toBe('miscount');
    expect(flags[0].detail).toMatch(/fewer/);
    expect(loopFlags(twin, advance)).toEqual([]);
  });

  it('does not flag it when it counts every vehicle', () => {
    const twin = run(900, traffic(0));
    expect(loopFlags(twin, entrance)).toEqual([]);
    expect(loopFlags(twin, advance)).toEqual([]);
  });
});

describe('silence is judged against the feed, not the twin clock', () => {
  const quiet: Script = () => null;

  it('a whole feed that stops blames no single loop, and its own silence is reported', () => {
    const twin = run(300, quiet, (_d, t) => t > 200);
    expect(twin.sensorFlags().filter((f) => f.kind === 'loop')).toEqual([]);
    expect(twin.feedSilentSeconds()).toBeGreaterThanOrEqual(99);
    expect(twin.feedSilentSeconds()).toBeLessThanOrEqual(101);
  });

  it('one loop that stops while the others report is flagged, and only it', () => {
    const d = detector('stopbar', true);
    const twin = run(300, quiet, (x, t) => x === d && t > 150);
    const loops = twin.sensorFlags().filter((f) => f.kind === 'loop');
    expect(loops.map((f) => f.index)).toEqual([d]);
    expect(['silent', 'dropouts']).toContain(loops[0].reason);
    expect(twin.feedSilentSeconds()).toBeLessThanOrEqual(1);
  });
});

