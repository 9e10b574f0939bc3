import { describe, expect, it } from 'vitest';
import { FeatureConfigSchema, diffuseRows, featureContext, featureCount, featureScratch, writeWindowFeatures } from '../../twin/forecast/features.ts';
import { buildHistoricalAverage } from '../../twin/forecast/HistoricalAverage.ts';
import { graphFromEdges, leadGraph } from '../../twin/forecast/RoadGraph.ts';
import { advance, makeSeries } from '../../twin/forecast/series.ts';
import { Mt19937 } from '../../twin/random.ts';

// A chain of four roads 0 – 1 – 2 – 3 (equal weights both ways), two input rows.
const edges = [
  [0, 1],
  [1, 2],
  [2, 3],
].flatMap(([a, b]) => [
  { from: a, to: b, weight: 1 },
  { from: b, to: a, weight: 1 },
]);
const graph = graphFromEdges(4, edges);
const window = Float32Array.from([50, 40, 30, 60, /* last row: */ 52, 20, 44, 58]);
const grid = { stepMinutes: 5, startDayOfWeek: 0, startSlot: 0 };
// History: one Monday 00:00 row, so each road's day-type mean at the origin is that row.
const usual = [50, 50, 40, 60];
const history = buildHistoricalAverage(makeSeries(['a', 'b', 'c', 'd'], grid, Float32Array.from(usual)));
const origin = { dayOfWeek: 0, slot: 0 };

function features(extra: Record<string, unknown>) {
  const config = FeatureConfigSchema.parse({ inputSteps: 2, horizons: [1], neighbourLags: 1, ...extra });
  const ctx = featureContext(config, graph, history);
  const F = featureCount(config);
  const out = new Float32Array(4 * F).fill(Number.NaN);
  writeWindowFeatures(ctx, window, diffuseRows(graph, window), origin, () => null, featureScratch(4), out, 0);
  return { F, row: (j: number) => Array.from(out.subarray(j * F, (j + 1) * F)) };
}

describe('optional spatial features', () => {
  it('leave the base columns where they were and fill every column', () => {
    const base = features({});
    const all = features({ secondHopLags: 2, neighbourMinLags: 2, neighbourAnomaly: true });
    expect(all.F).toBe(base.F + 5);
    for (let j = 0; j < 4; j++) {
      expect(all.row(j).slice(0, base.F)).toEqual(base.row(j));
      expect(all.row(j).every(Number.isFinite)).toBe(true);
    }
  });

  it('two-hop mean, slowest neighbour and the neighbours’ departure from their usual level, relative to the road', () => {
    const { F, row } = features({ secondHopLags: 1, neighbourMinLags: 2, neighbourAnomaly: true });
    const [hop2, minOlder, minLast, anomaly] = [F - 4, F - 3, F - 2, F - 1];
    // Last row 52 20 44 58; one-hop means: 20, 48, 39, 44; two-hop: 48, 29.5, 46, 39.
    expect(row(0)[hop2]).toBeCloseTo(48 - 52);
    expect(row(1)[hop2]).toBeCloseTo(29.5 - 20);
    expect(row(3)[hop2]).toBeCloseTo(39 - 58);
    // Slowest neighbour: road 1's neighbours read 50, 30 (older row) and 52, 44 (last row).
    expect(row(1)[minOlder]).toBeCloseTo(30 - 20);
    expect(row(1)[minLast]).toBeCloseTo(44 - 20);
    expect(row(2)[minLast]).toBeCloseTo(20 - 44);
    // Departures from the usual level: +2, −30, +4, −2; road 2's neighbours: (−30 − 2) / 2.
    expect(row(2)[anomaly]).toBeCloseTo(-16);
    expect(row(0)[anomaly]).toBeCloseTo(-30);
  });

  it("the road's and its neighbours' departure from their usual level at earlier rows", () => {
    const base = features({ neighbourAnomaly: true });
    const { F, row } = features({ neighbourAnomaly: true, anomalyLags: 1 });
    expect(F).toBe(base.F + 2);
    // The older row is Sunday 23:55, which has no history: the usual level falls back to the
    // road's overall mean (the one Monday row). Departures 0, −10, −10, 0.
    expect(row(1)[F - 2]).toBeCloseTo(-10);
    expect(row(1)[F - 1]).toBeCloseTo(-5);
    expect(row(3)[F - 1]).toBeCloseTo(-10);
  });
});

describe('wide anomaly', () => {
  it('the departure from the usual level two hops out and over the whole network', () => {
    const { F, row } = features({ wideAnomaly: true });
    // Departures now +2, −30, +4, −2; one hop −30, 3, −16, 4; two hops 3, −23, 3.5, −16; mean −6.5.
    expect(row(1)[F - 2]).toBeCloseTo(-23);
    expect(row(2)[F - 2]).toBeCloseTo(3.5);
    for (let j = 0; j < 4; j++) expect(row(j)[F - 1]).toBeCloseTo(-6.5);
  });
});

describe('strongest leaders one by one', () => {
  it('gives each leader its weight and its readings relative to the road, strongest first; a missing one is zeros', () => {
    // No lead graph learned: the road graph stands in (equal weights, ties by edge order).
    const { F, row } = features({ leadTop: 2, leadTopLags: 1 });
    expect(row(1).slice(F - 4)).toEqual([0.5, 32, 0.5, 24]);
    expect(row(0).slice(F - 4)).toEqual([1, -32, 0, 0]);
  });
});

describe("neighbours' usual change and the leaders' departure", () => {
  it('mean of the neighbours’ usual level at the target slot minus their readings now; the departure over the lead graph', () => {
    const { F, row } = features({ neighbourExpected: true, leadAnomaly: true });
    // Target slot Monday 00:05 has no history: the usual level falls back to the one Monday row.
    // Usual minus now: −2, 30, −4, 2; road 1's neighbours (−2 − 4) / 2, road 2's (30 + 2) / 2.
    expect(row(1)[F - 2]).toBeCloseTo(-3);
    expect(row(2)[F - 2]).toBeCloseTo(16);
    expect(row(0)[F - 2]).toBeCloseTo(30);
    // No lead graph learned here: the road graph stands in, so it equals the neighbours' departure.
    expect(row(2)[F - 1]).toBeCloseTo(-16);
  });
});

describe('feature configuration', () => {
  it('refuses lags that reach back past the input window, naming the field', () => {
    expect(() => features({ secondHopLags: 3 })).toThrow(/secondHopLags is 3, at most 2/);
    expect(() => features({ anomalyLags: 2 })).toThrow(/anomalyLags is 2, at most 1/);
  });
});

describe('slot arithmetic', () => {
  it('steps back over midnight and the start of the week', () => {
    expect(advance({ dayOfWeek: 0, slot: 0 }, -1, 288)).toEqual({ dayOfWeek: 6, slot: 287 });
    expect(advance({ dayOfWeek: 3, slot: 5 }, -293, 288)).toEqual({ dayOfWeek: 2, slot: 0 });
    expect(advance({ dayOfWeek: 6, slot: 287 }, 1, 288)).toEqual({ dayOfWeek: 0, slot: 0 });
  });
});

describe('lead graph', () => {
  it("weights a neighbour by how its change foretells the road's next one, and drops neighbours that do not", () => {
    // Road 1 repeats road 0's changes one row later; road 2 does the opposite of road 0, one row later.
    const rows = 200;
    const n = 3;
    const values = new Float32Array(rows * n);
    let a = 50;
    const rng = new Mt19937(3);
    const steps: number[] = [];
    for (let r = 0; r < rows; r++) {
      const step = (rng.nextFloat() - 0.5) * 6;
      steps.push(step);
      a += step;
      values[r * n] = a;
      values[r * n + 1] = 50 + (r > 0 ? steps.slice(0, r).reduce((s, x) => s + x, 0) : 0);
      values[r * n + 2] = 50 - (r > 0 ? steps.slice(0, r).reduce((s, x) => s + x, 0) : 0);
    }
    const all = graphFromEdges(3, [0, 1, 2].flatMap((i) => [0, 1, 2].filter((j) => j !== i).map((j) => ({ from: i, to: j, weight: 1 }))));
    const lead = leadGraph(all, values, rows);
    const neighbours = (i: number) => Array.from(lead.col.subarray(lead.rowStart[i], lead.rowStart[i + 1]));
    // Road 1: road 0 leads it (almost perfectly); road 2's changes are unrelated to road 1's next.
    const w = (i: number, j: number) => (neighbours(i).includes(j) ? lead.weight[lead.rowStart[i] + neighbours(i).indexOf(j)] : 0);
    expect(w(1, 0)).toBeGreaterThan(0.8);
    expect(neighbours(2)).not.toContain(0);
  });
});
