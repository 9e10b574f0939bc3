import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CityFlowRoadnet } from '../../twin/network/cityflowFormat.ts';
import { NetworkFormatError, importFlows, importRoadnet, loadCityFlow } from '../../twin/network/importCityFlow.ts';
import { movementConflicts } from '../../twin/network/RoadNetwork.ts';
import { BENCH_VEHICLE, crossingRoadnet, traceRoadnet, vehicleAt } from '../fixtures/networks.ts';

function refusal(fn: () => unknown): NetworkFormatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetworkFormatError) return e;
    throw new Error(`expected a NetworkFormatError, got ${String(e)}`);
  }
  throw new Error('expected the file to be refused');
}

function broken(edit: (rn: CityFlowRoadnet & Record<string, unknown>) => void): CityFlowRoadnet {
  const rn = structuredClone(traceRoadnet()) as CityFlowRoadnet & Record<string, unknown>;
  edit(rn);
  return rn;
}

describe('CityFlow roadnet import', () => {
  it('builds lanes trimmed by the intersection width and lane links with their lengths', () => {
    const net = importRoadnet(traceRoadnet());
    const lane = net.lanes.find((l) => l.id === 'west_in_1')!;
    expect(lane.length).toBeCloseTo(785, 9);
    expect(net.lanes.find((l) => l.id === 'north_out_0')!.length).toBeCloseTo(570, 9);
    const straight = net.laneLinks.find((l) => l.id === 'west_in_1_TO_east_out_1')!;
    expect(straight.length).toBeCloseTo(30, 9);
    expect(straight.isTurn).toBe(false);
    expect(net.laneLinks.find((l) => l.id === 'west_in_0_TO_north_out_0')!.isTurn).toBe(true);
  });

  it('finds the conflict point of crossing movements and reports the movements as conflicting', () => {
    const net = importRoadnet(crossingRoadnet());
    expect(net.crosses).toHaveLength(1);
    const c = net.crosses[0];
    expect(c.kind).toBe('crossing');
    expect(c.positions[0]).toBeCloseTo(17, 9);
    expect(c.positions[1]).toBeCloseTo(13, 9);
    const m = movementConflicts(net, net.intersectionIndex.get('C')!);
    expect(m[0][1]).toBe('crossing');
    expect(m[1][0]).toBe('crossing');
    expect(m[0][0]).toBeNull();
  });

  it('refuses a missing field, naming its JSON path', () => {
    const e = refusal(() => importRoadnet(broken((rn) => delete (rn.roads[1] as Partial<(typeof rn.roads)[0]>).lanes), 'city.json'));
    expect(e.message).toContain('city.json');
    expect(e.problems[0].path).toBe('roads[1].lanes');
  });

  it('refuses a lane index out of range', () => {
    const e = refusal(() =>
      importRoadnet(
        broken((rn) => {
          rn.intersections[3].roadLinks![0].laneLinks[0].startLaneIndex = 5;
        }),
      ),
    );
    expect(e.problems[0].path).toBe('intersections[3].roadLinks[0].laneLinks[0].startLaneIndex');
    expect(e.problems[0].message).toMatch(/out of range.*2 lanes/);
  });

  it('refuses a phase naming an unknown movement', () => {
    const e = refusal(() =>
      importRoadnet(
        broken((rn) => {
          rn.intersections[3].trafficLight!.lightphases[2].availableRoadLinks = [7];
        }),
      ),
    );
    expect(e.problems[0].path).toBe('intersections[3].trafficLight.lightphases[2].availableRoadLinks[0]');
    expect(e.problems[0].message).toContain('movement 7');
  });

  it('refuses roads that name unknown intersections and road links through the wrong intersection', () => {
    const e = refusal(() =>
      importRoadnet(
        broken((rn) => {
          rn.roads[0].endIntersection = 'Nowhere';
          rn.intersections[3].roadLinks![1].endRoad = 'west_in';
        }),
      ),
    );
    const paths = e.problems.map((p) => p.path);
    expect(paths).toContain('roads[0].endIntersection');
    expect(paths).toContain('intersections[3].roadLinks[1].endRoad');
  });

  it('refuses a wrong type and a non-virtual intersection without signals', () => {
    const e1 = refusal(() => importRoadnet(broken((rn) => ((rn.roads[0].points[0] as { x: unknown }).x = 'west'))));
    expect(e1.problems[0].path).toBe('roads[0].points[0].x');
    const e2 = refusal(() => importRoadnet(broken((rn) => delete rn.intersections[3].trafficLight)));
    expect(e2.problems[0].path).toBe('intersections[3].trafficLight');
  });

  it('reads files and reports invalid JSON with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twin-import-'));
    const rnFile = join(dir, 'roadnet.json');
    const flowFile = join(dir, 'flow.json');
    writeFileSync(rnFile, JSON.stringify(traceRoadnet()));
    writeFileSync(flowFile, JSON.stringify([vehicleAt(['west_in', 'east_out'], 3)]));
    const { network, flows } = loadCityFlow(rnFile, flowFile);
    expect(network.roads).toHaveLength(3);
    expect(flows[0].roads).toEqual([0, 1]);
    writeFileSync(flowFile, '[{"vehicle": ');
    const e = refusal(() => loadCityFlow(rnFile, flowFile));
    expect(e.message).toContain(flowFile);
    expect(e.message).toContain('not valid JSON');
  });
});

describe('CityFlow flow import', () => {
  const net = importRoadnet(traceRoadnet());

  it('refuses a non-integer start time', () => {
    const e = refusal(() => importFlows([{ ...vehicleAt(['west_in', 'east_out'], 0), startTime: 5.5 }], net, 'flow.json'));
    expect(e.problems[0].path).toBe('[0].startTime');
  });

  it('refuses a route through unconnected roads, naming the route step', () => {
    const e = refusal(() => importFlows([vehicleAt(['east_out', 'west_in'], 0)], net));
    expect(e.problems[0].path).toBe('[0].route[1]');
    expect(e.problems[0].message).toContain('no way from road "east_out" to road "west_in"');
  });

  it('refuses unknown roads, one-road routes and missing vehicle fields', () => {
    const e = refusal(() =>
      importFlows(
        [
          vehicleAt(['west_in', 'nowhere'], 0),
          vehicleAt(['west_in'], 0),
          { route: ['west_in', 'east_out'], interval: 1, vehicle: { ...BENCH_VEHICLE, maxSpeed: undefined } },
        ],
        net,
      ),
    );
    const paths = e.problems.map((p) => p.path);
    expect(paths).toContain('[2].vehicle.maxSpeed');
    // Shape errors are reported first; fix them and the route errors show.
    const e2 = refusal(() => importFlows([vehicleAt(['west_in', 'nowhere'], 0), vehicleAt(['west_in'], 0)], net));
    expect(e2.problems.map((p) => p.path)).toEqual(['[0].route[1]', '[1].route']);
  });

  it('expands anchor routes along the shortest path', () => {
    const flows = importFlows([vehicleAt(['west_in', 'north_out'], 0)], net);
    expect(flows[0].roads.map((r) => net.roads[r].id)).toEqual(['west_in', 'north_out']);
  });
});
