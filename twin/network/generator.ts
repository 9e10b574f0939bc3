/**
 * Synthetic networks in the CityFlow roadnet format: signalised grids and arterial corridors,
 * and the product's demo city (`data/demo-city.json`). The importer turns them into the
 * internal model, so valid CityFlow JSON with the benchmark conventions (see `streetGrid.ts`)
 * is the contract. Networks are pure functions of their options; demand (`demand.ts`) is
 * where the seed comes in.
 */
import { z } from 'zod';
import demoCitySpec from '../../data/demo-city.json' with { type: 'json' };
import type { CityFlowRoadnet, FlowFile } from './cityflowFormat.ts';
import { DemandOptionsSchema, generateDemand, withRealisticPeak } from './demand.ts';
import { GreenSplitSchema, SignalProgramSchema, greensOf, type Greens } from './signalProgram.ts';
import { parseSpec } from './specError.ts';
import { buildStreetGrid, type StreetClass } from './streetGrid.ts';

// Demand lives in its own module; re-exported so one import gives the whole generator.
export { generateDemand, realisticPeak, withRealisticPeak, DemandOptionsSchema, BENCHMARK_VEHICLE } from './demand.ts';
export type { DemandOptions, DemandOptionsInput, RealisticPeak, RealisticPeakOptions } from './demand.ts';

/** Benchmark lane speed (40 km/h) and lane width. */
export const BENCHMARK_SPEED_LIMIT = 11.111;
export const BENCHMARK_LANE_WIDTH = 4;

/** Distances between consecutive intersections (m): one value for all, or one per gap. */
const SpacingSchema = z.union([z.number().positive(), z.array(z.number().positive())]);
type Spacing = z.infer<typeof SpacingSchema>;

const LanesSchema = z.number().int().min(1).max(4);

const AvenueSchema = z.object({
  /** `ew`: the row `index` of EW roads; `ns`: the column `index` of NS roads (1-based, as in the ids). */
  axis: z.enum(['ew', 'ns']),
  index: z.number().int().min(1),
  lanes: LanesSchema.optional(),
  speedLimit: z.number().positive().optional(),
  turnBays: z.boolean().optional(),
  /** Green (s) of this avenue's phases at every intersection on it. */
  green: z.number().positive().optional(),
});

export const GridOptionsSchema = z
  .object({
    rows: z.number().int().min(1).max(400),
    cols: z.number().int().min(1).max(400),
    /** Block length (m). `ew`: between columns (along EW roads); `ns`: between rows. */
    blockLength: z.union([z.number().positive(), z.object({ ew: SpacingSchema, ns: SpacingSchema })]).default(300),
    /** Length of the roads to/from the virtual boundary nodes; default: the outermost block. */
    boundaryLength: z.number().positive().optional(),
    lanesPerRoad: LanesSchema.default(3),
    laneWidth: z.number().positive().default(BENCHMARK_LANE_WIDTH),
    speedLimit: z.number().positive().default(BENCHMARK_SPEED_LIMIT),
    intersectionWidth: z.number().positive().default(15),
    turnBays: z.boolean().default(false),
    /** Streets that differ from the rest: more lanes, higher speed, bays, longer green. */
    avenues: z.array(AvenueSchema).default([]),
    signals: SignalProgramSchema.prefault({}),
  })
  .superRefine((o, ctx) => {
    const spacing = typeof o.blockLength === 'number' ? { ew: o.blockLength, ns: o.blockLength } : o.blockLength;
    checkSpacing(spacing.ew, o.cols - 1, o.intersectionWidth, ['blockLength', 'ew'], ctx);
    checkSpacing(spacing.ns, o.rows - 1, o.intersectionWidth, ['blockLength', 'ns'], ctx);
    if (o.boundaryLength !== undefined && o.boundaryLength <= o.intersectionWidth + 1) {
      ctx.addIssue({ code: 'custom', path: ['boundaryLength'], message: `must exceed intersectionWidth + 1 m` });
    }
    const seen = new Set<string>();
    o.avenues.forEach((a, k) => {
      const max = a.axis === 'ew' ? o.rows : o.cols;
      if (a.index > max) {
        ctx.addIssue({ code: 'custom', path: ['avenues', k, 'index'], message: `${a.axis} avenue index ${a.index} outside 1..${max}` });
      }
      const key = `${a.axis}${a.index}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['avenues', k], message: `duplicate avenue ${a.axis} ${a.index}` });
      seen.add(key);
    });
  });
export type GridOptions = z.infer<typeof GridOptionsSchema>;
export type GridOptionsInput = z.input<typeof GridOptionsSchema>;

export const ArterialOptionsSchema = z
  .object({
    /** Signalised intersections along the main road (which runs east–west, row 1). */
    intersections: z.number().int().min(1).max(2000).default(5),
    /** Spacing between consecutive intersections (m); may vary per block. */
    spacing: SpacingSchema.default(400),
    /** Length of the main road's end sections from/to the boundary. */
    approachLength: z.number().positive().default(400),
    mainLanes: LanesSchema.default(3),
    sideLanes: LanesSchema.default(1),
    /** Length of each side street arm (north and south of each intersection). */
    sideStreetLength: z.number().positive().default(250),
    mainSpeedLimit: z.number().positive().default(13.889),
    sideSpeedLimit: z.number().positive().default(BENCHMARK_SPEED_LIMIT),
    laneWidth: z.number().positive().default(BENCHMARK_LANE_WIDTH),
    intersectionWidth: z.number().positive().default(15),
    /** Left-turn bays on the main road's approaches. */
    turnBays: z.boolean().default(false),
    signals: SignalProgramSchema.extend({ green: GreenSplitSchema.default({ ew: 40, ns: 20 }) }).prefault({}),
  })
  .superRefine((o, ctx) => {
    checkSpacing(o.spacing, o.intersections - 1, o.intersectionWidth, ['spacing'], ctx);
    for (const f of ['approachLength', 'sideStreetLength'] as const) {
      if (o[f] <= o.intersectionWidth + 1) ctx.addIssue({ code: 'custom', path: [f], message: 'must exceed intersectionWidth + 1 m' });
    }
  });
export type ArterialOptions = z.infer<typeof ArterialOptionsSchema>;
export type ArterialOptionsInput = z.input<typeof ArterialOptionsSchema>;

/** Blocks must leave room for both intersections' width (lanes are trimmed by it at each end). */
function checkSpacing(spacing: Spacing, gaps: number, width: number, path: (string | number)[], ctx: z.RefinementCtx): void {
  if (Array.isArray(spacing)) {
    if (spacing.length !== gaps) {
      ctx.addIssue({ code: 'custom', path, message: `expected ${gaps} block lengths (one per gap), got ${spacing.length}` });
      return;
    }
  }
  const values = Array.isArray(spacing) ? spacing : [spacing];
  values.forEach((v, k) => {
    if (v <= 2 * width + 1) {
      ctx.addIssue({ code: 'custom', path: Array.isArray(spacing) ? [...path, k] : path, message: `block of ${v} m is too short for intersections ${width} m wide` });
    }
  });
}

function gapsOf(spacing: Spacing, gaps: number): number[] {
  return Array.isArray(spacing) ? [...spacing] : Array.from({ length: gaps }, () => spacing);
}

function positions(gaps: readonly number[]): number[] {
  const out = [0];
  for (const g of gaps) out.push(out[out.length - 1] + g);
  return out;
}

const DEFAULT_BOUNDARY = 300;

/**
 * A rows × cols grid of signalised intersections with virtual boundary nodes at every edge
 * end. Fast enough for 100×100 (10,000 intersections, ~4 M lane-link points) in a few seconds.
 */
export function generateGrid(options: GridOptionsInput): CityFlowRoadnet {
  const o = parseSpec(GridOptionsSchema, options, 'grid options');
  const spacing = typeof o.blockLength === 'number' ? { ew: o.blockLength, ns: o.blockLength } : o.blockLength;
  const ewGaps = gapsOf(spacing.ew, o.cols - 1);
  const nsGaps = gapsOf(spacing.ns, o.rows - 1);
  // Boundary roads as long as the outermost block, like the benchmark files.
  const edge = (s: Spacing, gaps: number[], first: boolean) =>
    o.boundaryLength ?? (typeof s === 'number' ? s : gaps.length > 0 ? gaps[first ? 0 : gaps.length - 1] : DEFAULT_BOUNDARY);
  const base: StreetClass = { lanes: o.lanesPerRoad, speedLimit: o.speedLimit, turnBays: o.turnBays };
  const street = (axis: 'ew' | 'ns', index: number): StreetClass => {
    const a = o.avenues.find((v) => v.axis === axis && v.index === index);
    return a ? { lanes: a.lanes ?? base.lanes, speedLimit: a.speedLimit ?? base.speedLimit, turnBays: a.turnBays ?? base.turnBays } : base;
  };
  const baseGreens = greensOf(o.signals.green);
  const greenOf = (axis: 'ew' | 'ns', index: number): number | undefined =>
    o.avenues.find((v) => v.axis === axis && v.index === index)?.green;
  return buildStreetGrid({
    xs: positions(ewGaps),
    ys: positions(nsGaps),
    boundary: {
      west: edge(spacing.ew, ewGaps, true),
      east: edge(spacing.ew, ewGaps, false),
      south: edge(spacing.ns, nsGaps, true),
      north: edge(spacing.ns, nsGaps, false),
    },
    rowStreets: Array.from({ length: o.rows }, (_, k) => street('ew', k + 1)),
    colStreets: Array.from({ length: o.cols }, (_, k) => street('ns', k + 1)),
    laneWidth: o.laneWidth,
    intersectionWidth: o.intersectionWidth,
    program: o.signals.program,
    clearance: o.signals.clearance,
    greens: (i, j): Greens => ({ ew: greenOf('ew', j) ?? baseGreens.ew, ns: greenOf('ns', i) ?? baseGreens.ns }),
  });
}

/**
 * A corridor: N signalised intersections along an east–west main road (`intersection_1_1` …
 * `intersection_N_1`), each crossed by a single side street, with virtual nodes at both ends
 * of the main road and of every side street. Same conventions as the grid (it is a 1-row grid
 * whose row is the main road).
 */
export function generateArterial(options: ArterialOptionsInput = {}): CityFlowRoadnet {
  const o = parseSpec(ArterialOptionsSchema, options, 'arterial options');
  const main: StreetClass = { lanes: o.mainLanes, speedLimit: o.mainSpeedLimit, turnBays: o.turnBays };
  const side: StreetClass = { lanes: o.sideLanes, speedLimit: o.sideSpeedLimit, turnBays: false };
  const greens = greensOf(o.signals.green);
  return buildStreetGrid({
    xs: positions(gapsOf(o.spacing, o.intersections - 1)),
    ys: [0],
    boundary: { west: o.approachLength, east: o.approachLength, south: o.sideStreetLength, north: o.sideStreetLength },
    rowStreets: [main],
    colStreets: Array.from({ length: o.intersections }, () => side),
    laneWidth: o.laneWidth,
    intersectionWidth: o.intersectionWidth,
    program: o.signals.program,
    clearance: o.signals.clearance,
    greens: () => greens,
  });
}

// ---------------------------------------------------------------------------------------------
// The demo city: built from the operator-editable spec `data/demo-city.json`, validated with zod;
// a malformed spec fails with a SpecError naming the field (e.g. `network.avenues[0].index`).

export const CitySpecSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  network: GridOptionsSchema,
  /** Demand without the seed (that is the caller's); `"realistic"` scales to the network. */
  demand: DemandOptionsSchema.omit({ seed: true })
    .extend({ peakVehPerHourPerLane: z.union([z.number().nonnegative(), z.literal('realistic')]).default('realistic') })
    .prefault({}),
});
export type CitySpec = z.infer<typeof CitySpecSchema>;
export type CitySpecInput = z.input<typeof CitySpecSchema>;

export interface City {
  name: string;
  roadnet: CityFlowRoadnet;
  flows: FlowFile;
  /** Time of day (s after midnight) at simulation time 0. */
  dayOffset: number;
}

/** Validates a city spec (parsed JSON); `source` names it in errors. */
export function parseCitySpec(input: unknown, source = 'city spec'): CitySpec {
  return parseSpec(CitySpecSchema, input, source);
}

/** A city from a spec: pure function of the spec and the demand seed. */
export function demoCityFromSpec(input: unknown, seed = 0, source = 'city spec'): City {
  const spec = parseCitySpec(input, source);
  const roadnet = generateGrid(spec.network);
  const { peakVehPerHourPerLane, ...rest } = spec.demand;
  const demand =
    peakVehPerHourPerLane === 'realistic' ? withRealisticPeak(roadnet, { ...rest, seed }) : { ...rest, peakVehPerHourPerLane, seed };
  return { name: spec.name, roadnet, flows: generateDemand(roadnet, demand), dayOffset: spec.demand.dayOffset };
}

/** The demo city shipped in `data/demo-city.json`. */
export function demoCity(seed = 0): City {
  return demoCityFromSpec(demoCitySpec, seed, 'data/demo-city.json');
}
