import { describe, expect, it } from 'vitest';
import { DataFormatError, parseLosLoop } from '../../twin/forecast/losLoop.ts';
import { timeOfRow } from '../../twin/forecast/series.ts';

// A hand-made file in the Los-loop layout (never the real data in tests).
const speed = 'a,b,c\n60,61,62\n55.5,0,40\n';
const adjacency = '1,0.5,0\n0.5,1,0.25\n0,0.25,1\n';

describe('Los-loop loader', () => {
  it('reads sensors, speeds and the adjacency, starting on a Thursday at midnight', () => {
    const d = parseLosLoop(speed, adjacency);
    expect(d.series.sensors).toEqual(['a', 'b', 'c']);
    expect(d.series.rows).toBe(2);
    expect(Array.from(d.series.values)).toEqual([60, 61, 62, 55.5, 0, 40]);
    expect(timeOfRow(d.series.grid, 0)).toEqual({ slot: 0, dayOfWeek: 3 });
    expect(d.graph.nodeCount).toBe(3);
    expect(Array.from(d.graph.col)).toEqual([1, 0, 2, 1]); // self-loops dropped
  });

  it('names the file, row and column of a bad value', () => {
    expect(() => parseLosLoop('a,b\n60,x\n', '1,0\n0,1\n')).toThrow(DataFormatError);
    expect(() => parseLosLoop('a,b\n60,x\n', '1,0\n0,1\n')).toThrow(/los_speed.csv: row 1, column 2/);
    expect(() => parseLosLoop('a,b\n60,61\n', '1,0\n')).toThrow(/los_adj.csv/);
    expect(() => parseLosLoop('a,b\n60\n', '1,0\n0,1\n')).toThrow(/1 columns, expected 2/);
  });
});
