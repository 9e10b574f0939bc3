/**
 * Intersections to test the signal-control core on: the hand-made fixtures and small generated
 * grids (one to three lanes, with and without turn bays), and an oracle for which movement pairs
 * must never be green together, written from the rules independently of the validator.
 */
import fc from 'fast-check';
import { generateGrid } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { movementConflicts, type RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import { iteAllRed, iteYellow } from '../../signal-controllers/clearance.ts';
import { intersectionSafety, type IntersectionSafety } from '../../signal-controllers/SafetyValidator.ts';
import type { TimingPlan } from '../../signal-controllers/TimingPlan.ts';
import { corridorRoadnet, crossingRoadnet, traceRoadnet } from '../fixtures/networks.ts';

export interface TestIntersection {
  name: string;
  net: RoadNetwork;
  index: number;
  safety: IntersectionSafety;
  /** n×n: must never be green together (oracle). */
  mustSeparate: boolean[][];
  requiredYellow: number[];
  requiredAllRed: number[];
}

function oracle(net: RoadNetwork, index: number): Pick<TestIntersection, 'mustSeparate' | 'requiredYellow' | 'requiredAllRed'> {
  const inter = net.intersections[index];
  const mv = inter.movements.map((g) => net.movements[g]);
  const geo = movementConflicts(net, index);
  const mustSeparate = mv.map((a, i) =>
    mv.map((b, j) => i !== j && geo[i][j] !== null && a.type !== 'turn_right' && b.type !== 'turn_right' && a.fromRoad !== b.fromRoad),
  );
  const speed = mv.map((m) => Math.max(...m.laneLinks.map((l) => net.lanes[net.laneLinks[l].fromLane].maxSpeed)));
  return {
    mustSeparate,
    requiredYellow: speed.map((v) => iteYellow(v)),
    requiredAllRed: speed.map((v) => iteAllRed(v, inter.width, 5)),
  };
}

function intersectionsOf(name: string, net: RoadNetwork): TestIntersection[] {
  return net.intersections
    .filter((i) => !i.virtual && i.phases.length > 0)
    .map((i) => ({
      name: `${name}/${i.id}`,
      net,
      index: i.index,
      safety: intersectionSafety(net, i.index),
      ...oracle(net, i.index),
      // Counterexamples name the intersection instead of printing the whole network.
      [fc.toStringMethod]: () => `${name}/${i.id}`,
    }));
}

let pool: TestIntersection[] | null = null;

/** Fixture intersections and generated ones (built once). */
export function testIntersections(): TestIntersection[] {
  if (pool) return pool;
  const nets: [string, RoadNetwork][] = [
    ['trace', importRoadnet(traceRoadnet())],
    ['crossing', importRoadnet(crossingRoadnet())],
    ['corridor', importRoadnet(corridorRoadnet())],
    ['grid1x1-3', importRoadnet(generateGrid({ rows: 1, cols: 1 }))],
    ['grid1x1-1', importRoadnet(generateGrid({ rows: 1, cols: 1, lanesPerRoad: 1 }))],
    ['grid1x2-2bays', importRoadnet(generateGrid({ rows: 1, cols: 2, lanesPerRoad: 2, turnBays: true }))],
    ['grid2x2-4', importRoadnet(generateGrid({ rows: 2, cols: 2, lanesPerRoad: 4, blockLength: 200, signals: { program: 'fourPhase' } }))],
  ];
  pool = nets.flatMap(([n, net]) => intersectionsOf(n, net));
  return pool;
}

export const anyIntersection = (): fc.Arbitrary<TestIntersection> => fc.constantFrom(...testIntersections());

/** A random set of movements that can be green together (greedy over a random order). */
export function compatibleSet(t: TestIntersection, order: readonly number[]): number[] {
  const set: number[] = [];
  for (const m of order) if (set.every((x) => !t.mustSeparate[m][x])) set.push(m);
  return set.sort((a, b) => a - b);
}

const clearanceOf = (t: TestIntersection, ms: readonly number[]) => ({
  yellow: Math.max(...ms.map((m) => t.requiredYellow[m])),
  allRed: Math.max(...ms.map((m) => t.requiredAllRed[m])),
});

/** A random plan the validator must accept, for intersection `t`. */
export function validPlanArb(t: TestIntersection, version = 0): fc.Arbitrary<TimingPlan> {
  const n = t.safety.n;
  const phaseArb = fc
    .record({
      order: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
      minGreen: fc.integer({ min: 5, max: 15 }),
      extra: fc.integer({ min: 0, max: 40 }),
      greenFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      moreYellow: fc.double({ min: 0, max: 1, noNaN: true }),
      moreAllRed: fc.double({ min: 0, max: 2, noNaN: true }),
    })
    .map((r) => {
      const movements = compatibleSet(t, r.order);
      const c = clearanceOf(t, movements);
      const maxGreen = r.minGreen + r.extra;
      return {
        id: 0,
        movements,
        minGreen: r.minGreen,
        maxGreen,
        green: r.minGreen + r.greenFrac * r.extra,
        yellow: Math.min(6, c.yellow + r.moreYellow),
        allRed: c.allRed + r.moreAllRed,
      };
    });
  return fc.array(phaseArb, { minLength: 1, maxLength: 5 }).chain((phases) =>
    fc.shuffledSubarray([...phases.keys()], { minLength: phases.length, maxLength: phases.length }).map((sequence) => {
      const ps = phases.map((p, k) => ({ ...p, id: k }));
      const cycle = sequence.reduce((s, k) => s + ps[k].green + ps[k].yellow + ps[k].allRed, 0);
      return {
        intersection: t.safety.id,
        version,
        validFrom: 0,
        validUntil: null,
        control: 'fixed-time' as const,
        phases: ps,
        sequence,
        cycle,
        offset: 0,
      };
    }),
  );
}
