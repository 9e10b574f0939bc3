/**
 * How an emergency vehicle on lights drives in the engine (our extensions to the CityFlow model):
 * it may exceed the posted limit by its speed factor, and it passes moving traffic on a lane but
 * never a standing queue, a red light, or anything within OVERTAKE_ROOM of the stop line.
 * Ordinary vehicles keep CityFlow's behaviour.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FlowEntryInput, VehicleParams } from '../../twin/network/cityflowFormat.ts';
import { EMERGENCY_VEHICLE } from '../../twin/network/demand.ts';
import { importFlows, importRoadnet } from '../../twin/network/importCityFlow.ts';
import { Engine, OVERTAKE_ROOM } from '../../twin/sim/Engine.ts';
import { BENCH_VEHICLE, corridorRoadnet, crossingRoadnet, vehicleAt } from '../fixtures/networks.ts';
import { stepChecked } from './invariants.ts';

const SLOW: VehicleParams = { ...BENCH_VEHICLE, maxSpeed: 5 };
const FAST_CAR: VehicleParams = { ...BENCH_VEHICLE, maxSpeed: 13.89 };
const ROUTE = ['we_in', 'we_out'];

function crossing(flows: FlowEntryInput[]) {
  const net = importRoadnet(crossingRoadnet(600));
  const engine = new Engine(net, importFlows(flows, net), { signalMode: 'external', recordTrips: true });
  const centre = net.intersections.findIndex((x) => !x.virtual);
  return { net, engine, centre };
}

function view(engine: Engine, id: string) {
  return engine.vehicleViews().find((v) => v.id === id);
}

/** Vehicles of each lane in the engine's own order (front first) must stand in order of position. */
function laneOrderViolations(engine: Engine): string[] {
  const out: string[] = [];
  for (let l = 0; l < engine.nLanes; l++) {
    let last = Infinity;
    engine.forEachOn(l, (slot, dis) => {
      if (dis > last + 1e-9) out.push(`t=${engine.time} lane ${l}: ${engine.vehicleId(slot)} at ${dis.toFixed(2)} behind one at ${last.toFixed(2)} in order`);
      last = dis;
    });
  }
  return out;
}

describe('emergency vehicle speed', () => {
  it('cruises at its factor × the limit (capped by its top speed) while ordinary traffic keeps to the limit', () => {
    const atLimit: VehicleParams = { ...EMERGENCY_VEHICLE, speedFactor: 1 };
    const { engine, centre } = crossing([vehicleAt(ROUTE, 0, EMERGENCY_VEHICLE), vehicleAt(['sn_in', 'sn_out'], 0, atLimit), vehicleAt(['we_in', 'we_out'], 20, FAST_CAR)]);
    engine.setPhase(centre, 0);
    engine.run(30);
    const [ev, evAtLimit, car] = ['flow_0_0', 'flow_1_0', 'flow_2_0'].map((id) => view(engine, id)!);
    expect(ev.speed).toBeCloseTo(Math.min(EMERGENCY_VEHICLE.maxSpeed, 11.111 * (EMERGENCY_VEHICLE.speedFactor ?? 1)), 3);
    expect(evAtLimit.speed).toBeCloseTo(11.111, 3);
    expect(car.speed).toBeCloseTo(11.111, 3);
  });
});

describe('emergency vehicle overtaking', () => {
  it('passes a slow moving vehicle on the lane; an ordinary faster car stays behind it', () => {
    const { engine, centre } = crossing([vehicleAt(ROUTE, 0, SLOW), vehicleAt(ROUTE, 6, EMERGENCY_VEHICLE), vehicleAt(['sn_in', 'sn_out'], 0, SLOW), vehicleAt(['sn_in', 'sn_out'], 6, FAST_CAR)]);
    engine.setPhase(centre, 0);
    let passedAt = -1;
    const leftApproach: string[] = [];
    let speedAfterPass = 0;
    for (let s = 0; s < 140; s++) {
      engine.step();
      const slow = view(engine, 'flow_0_0');
      const ev = view(engine, 'flow_1_0');
      if (passedAt > 0 && engine.time === passedAt + 10) speedAfterPass = ev?.speed ?? 0;
      if (passedAt < 0 && slow && ev && ev.drivable === slow.drivable && ev.dis > slow.dis) passedAt = engine.time;
      for (const [id, v] of [['flow_0_0', slow], ['flow_1_0', ev]] as const) if (v && v.drivable !== 0 && !leftApproach.includes(id)) leftApproach.push(id);
      const slowCar = view(engine, 'flow_2_0');
      const car = view(engine, 'flow_3_0');
      if (slowCar && car && car.drivable === slowCar.drivable) expect(car.dis).toBeLessThan(slowCar.dis - slowCar.length);
      expect(laneOrderViolations(engine)).toEqual([]);
    }
    expect(passedAt).toBeGreaterThan(0);
    // Once past, the EV pulls away at its own speed and leaves the approach first.
    expect(speedAfterPass).toBeGreaterThan(13);
    expect(leftApproach).toEqual(['flow_1_0', 'flow_0_0']);
  });

  it('does not pass a vehicle within OVERTAKE_ROOM of the stop line, and follows it through', () => {
    // Timed so the EV catches the slow vehicle about 20 m before the stop line of the 592.5 m lane.
    const { engine, centre } = crossing([vehicleAt(ROUTE, 0, SLOW), vehicleAt(ROUTE, 72, EMERGENCY_VEHICLE)]);
    engine.setPhase(centre, 1);
    const approach = 0;
    const laneLen = engine.drivableLength(approach);
    const leftApproach: string[] = [];
    let closest = Infinity;
    for (let s = 0; s < 200; s++) {
      engine.step();
      const slow = view(engine, 'flow_0_0');
      const ev = view(engine, 'flow_1_0');
      for (const [id, v] of [['flow_0_0', slow], ['flow_1_0', ev]] as const)
        if (v && v.drivable !== approach && !leftApproach.includes(id)) leftApproach.push(id);
      if (slow && ev && ev.drivable === approach && slow.drivable === approach) {
        expect(ev.dis).toBeLessThan(slow.dis - slow.length);
        closest = Math.min(closest, slow.dis - slow.length - ev.dis);
      }
    }
    // It caught up (it stood close behind), but inside the last OVERTAKE_ROOM it stayed in line.
    expect(closest).toBeLessThan(20);
    expect(laneLen).toBeGreaterThan(OVERTAKE_ROOM);
    expect(leftApproach).toEqual(['flow_0_0', 'flow_1_0']);
  });

  it('stops behind a standing queue at red and never passes it or the stop line', () => {
    const queue = Array.from({ length: 5 }, (_, k) => vehicleAt(ROUTE, k * 3));
    const { engine, centre } = crossing([...queue, vehicleAt(ROUTE, 40, EMERGENCY_VEHICLE)]);
    engine.setPhase(centre, 2); // west→east red
    const report = stepChecked(engine, 150);
    expect(report.redRunners).toEqual([]);
    const views = engine.vehicleViews();
    const ev = views.find((v) => v.id === 'flow_5_0')!;
    expect(ev.speed).toBeLessThan(0.1);
    for (const v of views) if (v.id !== ev.id) expect(ev.dis).toBeLessThan(v.dis - v.length);
    expect(report.overlaps).toEqual([]);
  });

  it('on random traffic with emergency vehicles mixed in: no red running, lanes kept in order, no overlaps between ordinary vehicles', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 5, max: 40 }),
        (trips, switchEvery) => {
          const routes = [['wa', 'ab', 'be'], ['wa', 'ab'], ['ab', 'be']];
          // One in six is an emergency vehicle, one in six slow.
          const flows = trips.map(([r, t, kind]) => vehicleAt(routes[r], t, kind === 0 ? EMERGENCY_VEHICLE : kind === 1 ? SLOW : BENCH_VEHICLE));
          const net = importRoadnet(corridorRoadnet(120));
          const engine = new Engine(net, importFlows(flows, net), { signalMode: 'external' });
          const A = net.intersectionIndex.get('A')!;
          const B = net.intersectionIndex.get('B')!;
          const emergency = new Set(flows.flatMap((f, k) => (f.vehicle === EMERGENCY_VEHICLE ? [`flow_${k}_0`] : [])));
          const order: string[] = [];
          const report = stepChecked(engine, 400, (e, s) => {
            const k = Math.floor(s / switchEvery);
            e.setPhase(A, k % 2);
            e.setPhase(B, (k + 1) % 2);
            order.push(...laneOrderViolations(e));
          });
          // An emergency vehicle alongside the one it passes is expected to overlap it on the lane's axis.
          const overlaps = report.overlaps.filter((o) => ![...emergency].some((id) => o.includes(`${id} `)));
          return report.redRunners.length === 0 && report.accounting.length === 0 && order.length === 0 && overlaps.length === 0;
        },
      ),
      { numRuns: 40, seed: 5 },
    );
  });
});

describe('emergency vehicle right of way', () => {
  /** When each vehicle got onto its exit road (s), on the crossing with both streets green. */
  function crossingOrder(evStart: number, ev: VehicleParams): { ev: number; car: number; overlaps: number } {
    const { engine, net, centre } = crossing([vehicleAt(['sn_in', 'sn_out'], 0, BENCH_VEHICLE), vehicleAt(ROUTE, evStart, ev)]);
    engine.setPhase(centre, 0);
    const out = { ev: Infinity, car: Infinity };
    const exitLane = (road: string) => net.roads.find((r) => r.id === road)!.lanes[0];
    const report = stepChecked(engine, 120, (e) => {
      for (const v of e.vehicleViews()) {
        if (v.id === 'flow_0_0' && v.drivable === exitLane('sn_out') && out.car === Infinity) out.car = e.time;
        if (v.id === 'flow_1_0' && v.drivable === exitLane('we_out') && out.ev === Infinity) out.ev = e.time;
      }
    });
    return { ...out, overlaps: report.overlaps.length };
  }

  it('crossing traffic that can still stop yields to it; the same vehicle without lights yields to the first comer', () => {
    const ordinary: VehicleParams = { ...EMERGENCY_VEHICLE, class: undefined };
    let flipped = 0;
    for (let start = 0; start <= 16; start++) {
      const withLights = crossingOrder(start, EMERGENCY_VEHICLE);
      const without = crossingOrder(start, ordinary);
      expect(withLights.overlaps + without.overlaps).toBe(0);
      expect(Number.isFinite(withLights.ev) && Number.isFinite(withLights.car)).toBe(true);
      // Never slower for having right of way.
      expect(withLights.ev).toBeLessThanOrEqual(without.ev);
      if (without.car < without.ev && withLights.ev < withLights.car) flipped++;
    }
    // Some departures meet the car at the crossing: there the order changes.
    expect(flipped).toBeGreaterThan(0);
  });
});
