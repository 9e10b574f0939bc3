/**
 * Persistence baseline: every horizon is forecast as the last observed reading. Hard to beat at
 * 5–15 minutes on freeway speeds, which is why every learned model must be scored against it.
 */
import { isValidReading } from './series.ts';

/**
 * Forecast from the most recent rows `window` (rows × sensors, oldest first): each sensor's
 * last valid reading (NaN if the window holds none), the same at every horizon.
 */
export function persistenceForecast(window: Float32Array, sensorCount: number): Float32Array {
  const rows = window.length / sensorCount;
  const out = new Float32Array(sensorCount).fill(NaN);
  for (let j = 0; j < sensorCount; j++) {
    for (let r = rows - 1; r >= 0; r--) {
      const v = window[r * sensorCount + j];
      if (isValidReading(v)) {
        out[j] = v;
        break;
      }
    }
  }
  return out;
}
