import { describe, expect, it } from 'vitest';
import { Mt19937 } from '../../twin/random.ts';
import { EmergencyRouteResponseSchema, EtaUpdateResponseSchema, planEmergencyRoute, prepareEmergencyRouting, updateEmergencyEta } from '../../twin/routing/EmergencyRouting.ts';
import { NoRouteError } from '../../twin/routing/FastestRoute.ts';
import { grid, randomObservation } from './helpers.ts';

describe('emergency routing API', () => {
  const net = grid(3, 3);
  const observation = randomObservation(net.lanes.length, net.movements.length, new Mt19937(2));

  it('plans the fastest route with alternatives and pre-emption windows on the observation clock', () => {
    const res = planEmergencyRoute({ net, observation, now: 1000 }, { vehicle: 'amb-1', from: { intersection: 'intersection_1_1' }, to: { intersection: 'intersection_3_3' } });
    EmergencyRouteResponseSchema.parse(res);
    expect(res.routes.length).toBeGreaterThanOrEqual(2);
    const [best] = res.routes;
    expect(best.eta).toBeCloseTo(1000 + best.travelTime, 9);
    expect(res.windows.map((w) => w.intersection)).toEqual(best.legs.map((l) => l.intersection));
    for (const w of res.windows) expect(w.start).toBeLessThan(w.eta);
    const plain = planEmergencyRoute({ net, observation, now: 1000 }, { vehicle: 'amb-1', from: { intersection: 'intersection_1_1' }, to: { intersection: 'intersection_3_3' }, preemption: false, alternatives: 0 });
    expect(plain.windows).toEqual([]);
    // Without pre-emption the signal waits count in full.
    expect(plain.routes[0].travelTime).toBeGreaterThan(best.travelTime);
    expect(() => planEmergencyRoute({ net, observation, now: 0 }, { vehicle: 'x', from: { intersection: 'nowhere' }, to: { intersection: 'intersection_3_3' } })).toThrow(NoRouteError);
    // Prepared for this observation: the same answer, from the cached link times and tables.
    prepareEmergencyRouting({ net, observation, now: 1000 });
    const again = planEmergencyRoute({ net, observation, now: 1000 }, { vehicle: 'amb-1', from: { intersection: 'intersection_1_1' }, to: { intersection: 'intersection_3_3' } });
    expect(again.routes[0].roads).toEqual(best.roads);
    expect(again.routes[0].travelTime).toBeCloseTo(best.travelTime, 6);
  });

  it('updates the ETA from the position and re-routes when it worsened past the threshold', () => {
    const plan = planEmergencyRoute({ net, observation: null, now: 0 }, { vehicle: 'amb-2', from: { intersection: 'intersection_1_1' }, to: { intersection: 'intersection_3_3' }, alternatives: 0 });
    const roads = plan.routes[0].roads;
    const first = updateEmergencyEta({ net, observation: null, now: 10 }, { vehicle: 'amb-2', roads, offset: 100 });
    EtaUpdateResponseSchema.parse(first);
    expect(first.remaining).toBeLessThan(plan.routes[0].travelTime);
    expect(first.reroute).toBeNull();
    // A long queue appears on the second road's movement: worse than expected, a way round exists.
    const obs = randomObservation(net.lanes.length, net.movements.length, new Mt19937(1));
    obs.laneQueue.fill(0);
    for (const l of net.roads[net.roadIndex.get(roads[1])!].lanes) obs.laneQueue[l] = 80;
    const worse = updateEmergencyEta({ net, observation: obs, now: 10 }, { vehicle: 'amb-2', roads, offset: 0, expectedRemaining: first.remaining });
    expect(worse.reroute).not.toBeNull();
    expect(worse.reroute!.roads).not.toContain(roads[1]);
    expect(worse.windows.map((w) => w.intersection)).toEqual(worse.reroute!.legs.map((l) => l.intersection));
  });
});
