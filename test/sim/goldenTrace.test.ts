/**
 * The reference document's golden single-vehicle trace (cityflow-model.md §7), reproduced on a
 * network of our own making with the same geometry and light timing.
 */
import { describe, expect, it } from 'vitest';
import { importFlows, importRoadnet } from '../../twin/network/importCityFlow.ts';
import { Engine } from '../../twin/sim/Engine.ts';
import { traceRoadnet, vehicleAt } from '../fixtures/networks.ts';

function setup() {
  const net = importRoadnet(traceRoadnet());
  const flows = importFlows(
    [vehicleAt(['west_in', 'east_out'], 0), vehicleAt(['west_in', 'east_out'], 0), vehicleAt(['west_in', 'north_out'], 2)],
    net,
  );
  return { net, engine: new Engine(net, flows) };
}

function view(engine: Engine, id: string) {
  return engine.vehicleViews().find((v) => v.id === id);
}

describe('golden trace', () => {
  it('vehicle A accelerates, stops at red and crosses on green', () => {
    const { net, engine } = setup();
    const dis: number[] = [];
    const speed: number[] = [];
    const laneOf = (id: string) => {
      const v = view(engine, id)!;
      return v.drivable < engine.nLanes ? net.lanes[v.drivable].id : net.laneLinks[v.drivable - engine.nLanes].id;
    };
    for (let call = 1; call <= 6; call++) {
      engine.step();
      const a = view(engine, 'flow_0_0')!;
      dis.push(a.dis);
      speed.push(a.speed);
    }
    expect(dis.map((d) => +d.toFixed(4))).toEqual([1, 4, 9, 16, 25, 35.5555]);
    expect(speed.map((s) => +s.toFixed(3))).toEqual([2, 4, 6, 8, 10, 11.111]);

    engine.run(71 - 6);
    expect(view(engine, 'flow_0_0')!.dis).toBeCloseTo(757.7705, 4);
    const after: number[] = [];
    const speeds: number[] = [];
    for (let call = 72; call <= 76; call++) {
      engine.step();
      after.push(view(engine, 'flow_0_0')!.dis);
      speeds.push(view(engine, 'flow_0_0')!.speed);
    }
    const expected = [767.492625, 774.784219, 779.9925, 783.117469, 784.159125];
    after.forEach((d, k) => expect(d).toBeCloseTo(expected[k], 5));
    [8.33325, 6.249937, 4.166625, 2.083312, 0].forEach((s, k) => expect(speeds[k]).toBeCloseTo(s, 5));
    // Stopped 0.841 m before the end of the 785 m lane.
    expect(785 - after[4]).toBeCloseTo(0.841, 3);

    engine.run(126 - 76);
    expect(laneOf('flow_0_0')).toBe('west_in_1_TO_east_out_1');
    expect(view(engine, 'flow_0_0')!.dis).toBeCloseTo(0.159125, 6);
    expect(view(engine, 'flow_0_0')!.speed).toBeCloseTo(2, 9);
    engine.run(131 - 126);
    expect(laneOf('flow_0_0')).toBe('east_out_1');
    expect(view(engine, 'flow_0_0')!.dis).toBeCloseTo(4.714625, 6);
    expect(view(engine, 'flow_0_0')!.speed).toBeCloseTo(11.111, 9);
  });

  it('vehicle B waits outside until A is 7.5 m in, then enters in call 4', () => {
    const { engine } = setup();
    engine.run(3);
    expect(view(engine, 'flow_1_0')).toBeUndefined();
    expect(engine.waitingToEnter).toBeGreaterThanOrEqual(1);
    engine.step();
    const b = view(engine, 'flow_1_0')!;
    expect(b.dis).toBeCloseTo(1, 9);
    expect(b.speed).toBeCloseTo(2, 9);
  });

  it('vehicle C turns left at the turn speed and finishes with travel time 128', () => {
    const { engine } = setup();
    engine.run(73);
    let c = view(engine, 'flow_2_0')!;
    expect(c.dis).toBeCloseTo(757.7705, 4);
    expect(c.speed).toBeCloseTo(11.111, 9);
    const d: number[] = [];
    const s: number[] = [];
    for (let call = 74; call <= 79; call++) {
      engine.step();
      c = view(engine, 'flow_2_0')!;
      d.push(c.dis);
      s.push(c.speed);
    }
    [767.49265, 775.82595, 784.15925, 7.49255, 16.82585, 2.525962].forEach((x, k) => expect(d[k]).toBeCloseTo(x, 5));
    [8.3333, 8.3333, 8.3333, 8.3333, 10.3333, 11.111].forEach((x, k) => expect(s[k]).toBeCloseTo(x, 4));
    engine.run(130 - 79);
    expect(view(engine, 'flow_2_0')).toBeDefined();
    engine.step(); // step index 130: C's head passes the end of its last lane
    expect(view(engine, 'flow_2_0')).toBeUndefined();
  });

  it('counts every vehicle: finished trips and CityFlow travel time', () => {
    const { engine } = setup();
    engine.run(131);
    const m = engine.metrics();
    expect(m.created).toBe(3);
    expect(m.finished + m.running + m.waiting).toBe(3);
  });
});
