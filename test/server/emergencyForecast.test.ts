/** The forecaster's speeds as a routing forecast hook (server/EmergencyService.ts). */
import { describe, expect, it } from 'vitest';
import { forecastHook } from '../../server/EmergencyService.ts';
import type { ForecastsState } from '../../server/ForecastService.ts';
import { generateGrid } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';

const net = importRoadnet(generateGrid({ rows: 2, cols: 2 }), 'grid');

function state(source: 'model' | 'persistence', speed: number | null, forecast: (number | null)[]): ForecastsState {
  return {
    time: 0,
    minute: 0,
    backend: null,
    source,
    servedWeights: [15, 30, 60].map(() => (source === 'model' ? { model: 1 } : { persistence: 1 })),
    unit: 'km/h',
    horizonsMinutes: [15, 30, 60],
    model: { state: 'ready', loadedFrom: null, rowsRecorded: 0, rowsNeeded: 0, updates: 0, lastTrainedAt: null, error: null },
    roads: [{ road: net.roads[0].id, speed, flow: 0, forecast, level: [null, null, null] }],
    accuracy: [],
  };
}

describe('forecast hook for emergency routing', () => {
  it('turns forecast speeds into travel-time factors, interpolated over the horizons', () => {
    const hook = forecastHook(state('model', 40, [20, 40, 80]), net)!;
    expect(hook(0, 0)).toBe(1);
    expect(hook(0, 15 * 60)).toBeCloseTo(2, 12); // half the speed: twice the time
    expect(hook(0, 7.5 * 60)).toBeCloseTo(1.5, 12);
    expect(hook(0, 30 * 60)).toBeCloseTo(1, 12);
    expect(hook(0, 45 * 60)).toBeCloseTo(0.75, 12);
    expect(hook(0, 3 * 3600)).toBeCloseTo(0.5, 12);
    // Roads without a forecast keep their time.
    expect(hook(1, 900)).toBe(1);
  });

  it('is bounded and absent without a learned model', () => {
    expect(forecastHook(state('model', 60, [1, null, 1000]), net)!(0, 15 * 60)).toBe(3);
    expect(forecastHook(state('persistence', 40, [20, 20, 20]), net)).toBeUndefined();
    expect(forecastHook(state('model', null, [20, 20, 20]), net)).toBeUndefined();
    expect(forecastHook(null, net)).toBeUndefined();
  });
});
