import { describe, expect, it } from 'vitest';
import { Engine } from '../../twin/sim/Engine.ts';
import { Field, planDetectorFaults, type FieldConfigInput } from '../../twin/sensors/Field.ts';
import { parseHlc } from '../../twin/sensors/HybridLogicalClock.ts';
import { SensorBatchSchema, SensorMessageSchema, type SensorMessageWire } from '../../twin/sensors/messages.ts';
import { buildSensorLayout } from '../../twin/sensors/SensorLayout.ts';
import { smallGrid } from './scenario.ts';

function collect(seconds: number, config: FieldConfigInput = {}) {
  const g = smallGrid({ duration: seconds });
  const engine = new Engine(g.net, g.flows, { seed: 3 });
  const layout = buildSensorLayout(g.net);
  const field = new Field(engine, layout, config);
  const arrivals: { at: number; msg: SensorMessageWire }[] = [];
  for (let s = 0; s < seconds; s++) {
    engine.step();
    for (const msg of field.afterStep()) arrivals.push({ at: engine.time, msg });
  }
  return { layout, field, arrivals };
}

describe('SensorLayout', () => {
  it('puts a stop bar and (where long enough) an advance loop on every approach lane, entrances everywhere, a camera per approach', () => {
    const g = smallGrid();
    const layout = buildSensorLayout(g.net);
    for (const lane of g.net.lanes) {
      const kinds = layout.laneDetectors[lane.index].map((d) => layout.detectors[d].kind);
      if (layout.approachLane[lane.index]) {
        expect(kinds[0]).toBe('entrance');
        expect(kinds).toContain('stopbar');
        if (lane.length >= 100) expect(kinds).toContain('advance');
        expect(layout.laneCamera[lane.index]).toBeGreaterThanOrEqual(0);
        const adv = layout.detectors.find((d) => d.lane === lane.index && d.kind === 'advance');
        if (adv) {
          const dist = lane.length - adv.position;
          expect(dist).toBeGreaterThanOrEqual(60);
          expect(dist).toBeLessThanOrEqual(100);
        }
      } else expect(kinds).toEqual(['entrance', 'exit']);
    }
    const signalised = g.net.intersections.filter((i) => !i.virtual).length;
    expect(layout.cameras.length).toBe(signalised * 4);
  });
});

describe('Field', () => {
  it('emits valid messages with increasing per-sensor sequence numbers and capture timestamps', () => {
    const { arrivals, field } = collect(300);
    expect(arrivals.length).toBe(field.produced);
    expect(SensorBatchSchema.safeParse({ messages: arrivals.map((a) => a.msg) }).success).toBe(true);
    const last = new Map<string, { seq: number; pt: number }>();
    for (const { at, msg } of arrivals) {
      expect(SensorMessageSchema.safeParse(msg).success).toBe(true);
      const ts = parseHlc(msg.ts);
      expect(ts.pt).toBe(Math.round(at * 1000)); // no latency: delivered in the step captured
      const prev = last.get(msg.sensorId);
      if (prev) {
        expect(msg.seq).toBe(prev.seq + 1);
        expect(ts.pt).toBeGreaterThan(prev.pt);
      } else expect(msg.seq).toBe(0);
      last.set(msg.sensorId, { seq: msg.seq, pt: ts.pt });
    }
    // Report by exception: far fewer loop messages than one per loop per second.
    const loops = arrivals.filter((a) => a.msg.type === 'loop').length;
    expect(loops).toBeLessThan(0.5 * 300 * new Set(arrivals.filter((a) => a.msg.type === 'loop').map((a) => a.msg.sensorId)).size);
  });

  it('delays messages by the latency, reorders them with jitter, and loses the configured share', () => {
    const { arrivals, field } = collect(300, { network: { latency: 2, jitter: 1.5, dropRate: 0.1 }, seed: 4 });
    let late = 0;
    let outOfOrder = 0;
    const lastPt = new Map<string, number>();
    for (const { at, msg } of arrivals) {
      const pt = parseHlc(msg.ts).pt;
      const delay = at * 1000 - pt;
      expect(delay).toBeGreaterThanOrEqual(2000);
      expect(delay).toBeLessThanOrEqual(4000);
      if (delay > 2000) late++;
      const prev = lastPt.get(msg.sensorId) ?? -1;
      if (pt < prev) outOfOrder++;
      lastPt.set(msg.sensorId, Math.max(prev, pt));
    }
    expect(late).toBeGreaterThan(0);
    expect(outOfOrder).toBeGreaterThan(0);
    expect(field.lost / field.produced).toBeGreaterThan(0.07);
    expect(field.lost / field.produced).toBeLessThan(0.13);
  });

  it('drops a dropout-faulty loop’s messages from its onset, leaving gaps in its sequence', () => {
    const g = smallGrid();
    const layout = buildSensorLayout(g.net);
    const d = layout.detectors.find((x) => x.kind === 'stopbar')!;
    const { arrivals } = collect(400, { detectorFaults: [{ detector: d.index, type: 'dropouts', onset: 100, rate: 1 }] });
    const mine = arrivals.filter((a) => a.msg.sensorId === d.id);
    expect(mine.length).toBeGreaterThan(0);
    for (const a of mine) expect(parseHlc(a.msg.ts).pt).toBeLessThanOrEqual(100_000);
  });

  it('is deterministic for a seed', () => {
    const a = collect(200, { network: { latency: 1, jitter: 1, dropRate: 0.05 }, seed: 9 });
    const b = collect(200, { network: { latency: 1, jitter: 1, dropRate: 0.05 }, seed: 9 });
    expect(b.arrivals).toEqual(a.arrivals);
  });
});

describe('planDetectorFaults', () => {
  it('picks the requested share with mixed types and onsets in range, deterministically', () => {
    const g = smallGrid();
    const layout = buildSensorLayout(g.net);
    const plan = planDetectorFaults(layout, { fraction: 0.1, seed: 3, onset: [100, 200] });
    expect(plan.length).toBe(Math.round(0.1 * layout.detectors.length));
    expect(new Set(plan.map((f) => f.type)).size).toBe(5);
    expect(new Set(plan.map((f) => f.detector)).size).toBe(plan.length);
    for (const f of plan) {
      expect(f.onset).toBeGreaterThanOrEqual(100);
      expect(f.onset).toBeLessThanOrEqual(200);
    }
    expect(planDetectorFaults(layout, { fraction: 0.1, seed: 3, onset: [100, 200] })).toEqual(plan);
  });
});
