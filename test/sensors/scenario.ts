/**
 * Small networks with traffic for the sensor and twin-state tests (generator networks only; the
 * tests never read the shared real-world data), and a loop that runs the field's sensors into a
 * twin state.
 */
import { generateDemand, generateGrid } from '../../twin/network/generator.ts';
import { importFlows, importRoadnet, type Flow } from '../../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import { Engine } from '../../twin/sim/Engine.ts';
import { Field, type FieldConfigInput } from '../../twin/sensors/Field.ts';
import { buildSensorLayout, type SensorLayout, type SensorLayoutOptionsInput } from '../../twin/sensors/SensorLayout.ts';
import { TwinState, type TwinStateOptionsInput } from '../../twin/state/TwinState.ts';

export interface Grid {
  net: RoadNetwork;
  flows: Flow[];
}

/** A 2×2 grid of signalised intersections (300 m blocks) with steady demand. */
export function smallGrid(options: { rate?: number; duration?: number; seed?: number } = {}): Grid {
  const roadnet = generateGrid({ rows: 2, cols: 2, blockLength: 300 });
  const net = importRoadnet(roadnet, 'grid');
  const flows = importFlows(
    generateDemand(roadnet, {
      seed: options.seed ?? 1,
      duration: options.duration ?? 1200,
      peakVehPerHourPerLane: options.rate ?? 300,
      profile: { offPeak: 1, peaks: [] },
    }),
    net,
    'grid flows',
  );
  return { net, flows };
}

export interface Run {
  engine: Engine;
  layout: SensorLayout;
  field: Field;
  twin: TwinState;
}

/** Engine + field + twin on a grid; `step` runs one second through all three. */
export function setup(grid: Grid, field: FieldConfigInput = {}, twin: TwinStateOptionsInput = {}, layout: SensorLayoutOptionsInput = {}): Run & { step(): void } {
  const engine = new Engine(grid.net, grid.flows, { seed: 3 });
  const sensorLayout = buildSensorLayout(grid.net, layout);
  const f = new Field(engine, sensorLayout, field);
  const t = new TwinState(grid.net, sensorLayout, twin);
  return {
    engine,
    layout: sensorLayout,
    field: f,
    twin: t,
    step() {
      engine.step();
      const messages = f.afterStep();
      t.ingest({ messages }, Math.round(engine.time * 1000));
      t.advance(engine.time);
    },
  };
}
