/**
 * Loader of the Los-loop data set (T-GCN's slice of METR-LA): 207 loop detectors on Los Angeles
 * freeways, speeds in mph every 5 minutes from Thursday 1 March 2012, 00:00, for 7 days.
 *   los_speed.csv: a header of sensor ids, then one row per step;
 *   los_adj.csv:   207×207 weighted adjacency in [0, 1] (road-distance kernel), no header.
 * Files are validated with zod; a bad file fails naming the file, row and column.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { graphFromDense, type RoadGraph } from './RoadGraph.ts';
import { makeSeries, type SensorSeries, type TimeGrid } from './series.ts';

/** 1 March 2012 was a Thursday (0 = Monday). */
export const LOS_LOOP_GRID: TimeGrid = { stepMinutes: 5, startDayOfWeek: 3, startSlot: 0 };

export interface LosLoopData {
  readonly series: SensorSeries;
  /** Dense n×n adjacency as given. */
  readonly adjacency: Float32Array;
  readonly graph: RoadGraph;
}

export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
}

const SensorIdSchema = z.string().trim().min(1);
const SpeedSchema = z.number().finite().min(0).max(200);
const WeightSchema = z.number().finite().min(0).max(1);

function parseCsvNumbers(text: string, file: string, width: number, cell: z.ZodNumber): { rows: number; values: Float32Array } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const values = new Float32Array(lines.length * width);
  lines.forEach((line, r) => {
    const cells = line.split(',');
    if (cells.length !== width) throw new DataFormatError(`${file}: row ${r + 1} has ${cells.length} columns, expected ${width}`);
    cells.forEach((c, j) => {
      const parsed = cell.safeParse(Number(c));
      if (!parsed.success) throw new DataFormatError(`${file}: row ${r + 1}, column ${j + 1}: bad value "${c}"`);
      values[r * width + j] = parsed.data;
    });
  });
  return { rows: lines.length, values };
}

export function parseLosLoop(speedCsv: string, adjacencyCsv: string): LosLoopData {
  const newline = speedCsv.indexOf('\n');
  const header = (newline < 0 ? speedCsv : speedCsv.slice(0, newline)).trim().split(',');
  const ids = z.array(SensorIdSchema).min(1).safeParse(header);
  if (!ids.success) throw new DataFormatError('los_speed.csv: the header must list the sensor ids');
  const n = ids.data.length;
  const speeds = parseCsvNumbers(newline < 0 ? '' : speedCsv.slice(newline + 1), 'los_speed.csv', n, SpeedSchema);
  if (speeds.rows === 0) throw new DataFormatError('los_speed.csv: no data rows');
  const adj = parseCsvNumbers(adjacencyCsv, 'los_adj.csv', n, WeightSchema);
  if (adj.rows !== n) throw new DataFormatError(`los_adj.csv: ${adj.rows} rows, expected ${n} (one per sensor)`);
  return {
    series: makeSeries(ids.data, LOS_LOOP_GRID, speeds.values),
    adjacency: adj.values,
    graph: graphFromDense(n, adj.values),
  };
}

export async function loadLosLoop(dir: string): Promise<LosLoopData> {
  const [speed, adjacency] = await Promise.all([
    readFile(join(dir, 'los_speed.csv'), 'utf8'),
    readFile(join(dir, 'los_adj.csv'), 'utf8'),
  ]);
  return parseLosLoop(speed, adjacency);
}
