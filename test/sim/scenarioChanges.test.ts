import { describe, expect, it } from 'vitest';
import { importFlows, importRoadnet } from '../../twin/network/importCityFlow.ts';
import { Engine } from '../../twin/sim/Engine.ts';
import { corridorRoadnet, traceRoadnet, vehicleAt } from '../fixtures/networks.ts';
import { stepChecked } from './invariants.ts';

describe('scenario changes on a running engine', () => {
  it('a closed lane holds traffic at the stop line until it reopens', () => {
    const net = importRoadnet(corridorRoadnet(200));
    const flows = importFlows(Array.from({ length: 5 }, (_, k) => vehicleAt(['wa', 'ab', 'be'], k * 3)), net);
    const e = new Engine(net, flows, { signalMode: 'external' });
    const ab = net.roads[net.roadIndex.get('ab')!].lanes[0];
    e.setLaneClosed(ab, true);
    const report = stepChecked(e, 120, (eng) => {
      eng.setPhase(1, 0);
      eng.setPhase(2, 0);
    });
    expect(report.overlaps).toEqual([]);
    expect(e.vehicleViews().every((v) => v.drivable === net.roads[0].lanes[0])).toBe(true);
    expect(e.vehicleViews()).toHaveLength(5);
    e.setLaneClosed(ab, false);
    e.run(200);
    expect(e.metrics().finished).toBe(5);
  });

  it('a speed cap slows traffic on that lane and can be lifted', () => {
    const net = importRoadnet(traceRoadnet());
    const flows = importFlows([vehicleAt(['west_in', 'north_out'], 0)], net);
    const e = new Engine(net, flows);
    e.setLaneSpeedLimit(net.lanes.find((l) => l.id === 'west_in_0')!.index, 3);
    e.run(20);
    expect(e.vehicleViews()[0].speed).toBeCloseTo(3, 9);
    e.setLaneSpeedLimit(net.lanes.find((l) => l.id === 'west_in_0')!.index, null);
    e.run(10);
    expect(e.vehicleViews()[0].speed).toBeCloseTo(11.111, 6);
  });

  it('adds vehicles mid-network and reroutes them', () => {
    const net = importRoadnet(traceRoadnet());
    const flows = importFlows([vehicleAt(['west_in', 'east_out'], 10_000)], net);
    const e = new Engine(net, flows);
    const west1 = net.lanes.find((l) => l.id === 'west_in_1')!.index;
    const a = e.addVehicle(0, west1, 500, 10, [net.roadIndex.get('west_in')!, net.roadIndex.get('east_out')!]);
    const b = e.addVehicle(0, west1, 400, 10, [net.roadIndex.get('west_in')!, net.roadIndex.get('east_out')!]);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThanOrEqual(0);
    // A straight lane cannot turn left without changing lanes: refused, nothing changed.
    expect(e.rerouteVehicle(a, [net.roadIndex.get('west_in')!, net.roadIndex.get('north_out')!])).toBe(false);
    expect(e.remainingRoads(a)).toEqual([net.roadIndex.get('west_in')!, net.roadIndex.get('east_out')!]);
    const report = stepChecked(e, 400);
    expect(report.overlaps).toEqual([]);
    expect(e.metrics().finished).toBe(2);
    expect(e.metrics().created).toBe(2);
  });
});
