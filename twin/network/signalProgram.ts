/**
 * Fixed signal programs written into generated roadnets (`trafficLight.lightphases`).
 *
 * Phase numbering follows the CityFlow benchmark files (Jinan, Hangzhou) so that controllers
 * written against them work unchanged on generated networks:
 *
 *   0  clearance: right turns only (the benchmark's 5 s "yellow" phase)
 *   1  EW straight        2  NS straight        3  EW left        4  NS left
 *   5  from west alone    6  from east alone    7  from south alone    8  from north alone
 *
 * "From west" is the approach whose traffic travels east (direction 0). Right turns are in
 * every phase, as in the benchmark. The `fourPhase` program is phases 0–4 of the same list,
 * i.e. exactly the subset the literature calls "phases [1,2,3,4]".
 */
import { z } from 'zod';

/** Travel directions of grid roads, as the last digit of `road_i_j_d`: 0 E, 1 N, 2 W, 3 S. */
export type Direction = 0 | 1 | 2 | 3;

export const GreenSplitSchema = z.union([
  z.number().positive(),
  z.object({ ew: z.number().positive(), ns: z.number().positive() }),
]);
/** Green time (s) of each green phase, or separately for east–west and north–south phases. */
export type GreenSplit = z.infer<typeof GreenSplitSchema>;

export const SignalProgramSchema = z.object({
  program: z.enum(['benchmark', 'fourPhase']).default('benchmark'),
  /** Phase 0 (right turns only). Positive, because phase 0 must exist to keep the numbering. */
  clearance: z.number().positive().default(5),
  green: GreenSplitSchema.default(30),
});
export type SignalProgramOptions = z.infer<typeof SignalProgramSchema>;
export type SignalProgramInput = z.input<typeof SignalProgramSchema>;

export interface Greens {
  ew: number;
  ns: number;
}

export function greensOf(split: GreenSplit): Greens {
  return typeof split === 'number' ? { ew: split, ns: split } : { ew: split.ew, ns: split.ns };
}

/** Road-link indices of one approach (incoming travel direction), by turn; -1 if absent. */
export interface ApproachLinks {
  straight: number;
  left: number;
  right: number;
}

export interface LightPhase {
  time: number;
  availableRoadLinks: number[];
}

/**
 * The light phases of one intersection. `approaches[d]` holds the road-link indices of the
 * traffic travelling in direction d (so approaches[0] is the west approach). Missing
 * movements (-1) are simply left out, which keeps T-junctions valid.
 */
export function buildLightPhases(
  approaches: readonly ApproachLinks[],
  program: SignalProgramOptions['program'],
  clearance: number,
  greens: Greens,
): LightPhase[] {
  const rights = approaches.map((a) => a.right);
  const phase = (time: number, links: number[]): LightPhase => ({
    time,
    availableRoadLinks: [...links, ...rights].filter((i) => i >= 0).sort((a, b) => a - b),
  });
  const s = (d: Direction) => approaches[d].straight;
  const l = (d: Direction) => approaches[d].left;
  // The benchmark files list phase 0 as [north right, west right, south right, east right];
  // keeping that order makes a generated 4×4 grid identical to the Hangzhou roadnet.
  const clearancePhase: LightPhase = { time: clearance, availableRoadLinks: [3, 0, 1, 2].map((d) => rights[d]).filter((i) => i >= 0) };
  const phases: LightPhase[] = [
    clearancePhase,
    phase(greens.ew, [s(0), s(2)]),
    phase(greens.ns, [s(1), s(3)]),
    phase(greens.ew, [l(0), l(2)]),
    phase(greens.ns, [l(1), l(3)]),
  ];
  if (program === 'benchmark') {
    phases.push(
      phase(greens.ew, [s(0), l(0)]),
      phase(greens.ew, [s(2), l(2)]),
      phase(greens.ns, [s(1), l(1)]),
      phase(greens.ns, [s(3), l(3)]),
    );
  }
  return phases;
}

/** Phase times for virtual intersections: the benchmark files give them the same program, empty. */
export function emptyLightPhases(
  program: SignalProgramOptions['program'],
  clearance: number,
  greens: Greens,
): LightPhase[] {
  const none: ApproachLinks = { straight: -1, left: -1, right: -1 };
  return buildLightPhases([none, none, none, none], program, clearance, greens);
}
