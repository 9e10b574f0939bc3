/**
 * Small synthetic speed data with a daily pattern, for tests (never the real data sets):
 * a corridor of roads whose free-flow speeds differ, a morning and an evening dip that reaches
 * road j a little later than road j − 1 (so neighbours carry information), lighter weekends,
 * and AR(1) noise. Seeded: the same arguments give the same series.
 */
import { Mt19937 } from '../../twin/random.ts';
import { graphFromEdges, type Edge, type RoadGraph } from '../../twin/forecast/RoadGraph.ts';
import { makeSeries, type SensorSeries } from '../../twin/forecast/series.ts';

export interface SyntheticCity {
  readonly series: SensorSeries;
  readonly graph: RoadGraph;
}

export function syntheticCorridor(roads: number, days: number, seed = 3, stepMinutes = 15): SyntheticCity {
  const rng = new Mt19937(seed);
  const spd = 1440 / stepMinutes;
  const rows = days * spd;
  const values = new Float32Array(rows * roads);
  const freeFlow = Array.from({ length: roads }, () => 55 + 15 * rng.nextFloat());
  const depth = Array.from({ length: roads }, () => 0.35 + 0.3 * rng.nextFloat());
  const noise = new Float64Array(roads);
  for (let r = 0; r < rows; r++) {
    const day = Math.floor(r / spd);
    const weekend = day % 7 >= 5;
    // Day-to-day variation of the peaks' strength, shared by the corridor.
    const dayFactor = 0.8 + 0.4 * ((Math.sin(day * 2.3) + 1) / 2);
    for (let j = 0; j < roads; j++) {
      const hour = ((r % spd) * stepMinutes) / 60 - 0.25 * j; // the jam travels along the corridor
      const peaks = Math.exp(-(((hour - 8) / 1.2) ** 2)) + 0.8 * Math.exp(-(((hour - 17.5) / 1.5) ** 2));
      const dip = (weekend ? 0.3 : 1) * dayFactor * depth[j] * peaks;
      noise[j] = 0.8 * noise[j] + 1.5 * rng.nextGaussian();
      values[r * roads + j] = Math.max(3, freeFlow[j] * (1 - dip) + noise[j]);
    }
  }
  const edges: Edge[] = [];
  for (let j = 0; j + 1 < roads; j++) {
    edges.push({ from: j, to: j + 1, weight: 1 }, { from: j + 1, to: j, weight: 1 });
  }
  return {
    series: makeSeries(
      Array.from({ length: roads }, (_, j) => `road-${j}`),
      { stepMinutes, startDayOfWeek: 0, startSlot: 0 },
      values,
    ),
    graph: graphFromEdges(roads, edges),
  };
}
