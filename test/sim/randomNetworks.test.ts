/**
 * Property tests of the engine on random synthetic networks and demand: vehicles on a lane never
 * overlap, a vehicle that can stop never passes a red stop line, every created vehicle is finished,
 * running or waiting to enter.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateArterial, generateDemand, generateGrid } from '../../twin/network/generator.ts';
import { importFlows, importRoadnet } from '../../twin/network/importCityFlow.ts';
import { Engine } from '../../twin/sim/Engine.ts';
import { Mt19937 } from '../../twin/random.ts';
import { stepChecked } from './invariants.ts';

const gridArb = fc.record({
  rows: fc.integer({ min: 1, max: 3 }),
  cols: fc.integer({ min: 1, max: 3 }),
  lanesPerRoad: fc.integer({ min: 1, max: 3 }),
  blockLength: fc.integer({ min: 80, max: 400 }),
  turnBays: fc.boolean(),
});

describe('engine on random networks', () => {
  it('holds its invariants on random grids with random demand and random phase switching', () => {
    fc.assert(
      fc.property(gridArb, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 200, max: 900 }), fc.boolean(), (grid, seed, rate, external) => {
        const roadnet = generateGrid(grid);
        const net = importRoadnet(roadnet);
        const flows = importFlows(generateDemand(roadnet, { seed, duration: 240, peakVehPerHourPerLane: rate }), net);
        const engine = new Engine(net, flows, { seed, signalMode: external ? 'external' : 'program' });
        const rng = new Mt19937(seed);
        const signalised = net.intersections.filter((i) => !i.virtual);
        const report = stepChecked(engine, 300, (e, s) => {
          if (!external || s % 7 !== 0) return;
          for (const it of signalised) e.setPhase(it.index, rng.nextInt(it.phases.length));
        });
        expect(report.overlaps).toEqual([]);
        expect(report.redRunners).toEqual([]);
        expect(report.accounting).toEqual([]);
        // Every trip starts within the first 240 s, so all of them exist by now.
        expect(engine.metrics().created).toBe(flows.length);
      }),
      { numRuns: 12, seed: 3 },
    );
  });

  it('holds its invariants on a random arterial', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 99 }), (n, seed) => {
        const roadnet = generateArterial({ intersections: n });
        const net = importRoadnet(roadnet);
        const flows = importFlows(generateDemand(roadnet, { seed, duration: 240, peakVehPerHourPerLane: 500 }), net);
        const report = stepChecked(new Engine(net, flows, { seed }), 300);
        expect(report.overlaps).toEqual([]);
        expect(report.redRunners).toEqual([]);
        expect(report.accounting).toEqual([]);
      }),
      { numRuns: 6, seed: 5 },
    );
  });
});
