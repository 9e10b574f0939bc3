/**
 * Forecast error metrics of the T-GCN protocol, accumulated over any number of (forecast,
 * truth) pairs so a whole test set is scored without holding it in memory:
 * RMSE, MAE, and accuracy = 1 − ‖Y − Ŷ‖_F / ‖Y‖_F.
 */
export interface ErrorMetrics {
  readonly rmse: number;
  readonly mae: number;
  readonly accuracy: number;
  readonly count: number;
}

export interface ErrorAccumulator {
  sumSquaredError: number;
  sumAbsoluteError: number;
  sumSquaredTruth: number;
  count: number;
}

export function newAccumulator(): ErrorAccumulator {
  return { sumSquaredError: 0, sumAbsoluteError: 0, sumSquaredTruth: 0, count: 0 };
}

/** Adds every pair; a pair whose truth or forecast is not finite is an error (never skipped silently). */
export function accumulateErrors(acc: ErrorAccumulator, truth: ArrayLike<number>, forecast: ArrayLike<number>): void {
  if (truth.length !== forecast.length) throw new Error('truth and forecast lengths differ');
  for (let i = 0; i < truth.length; i++) {
    const y = truth[i];
    const e = y - forecast[i];
    if (!Number.isFinite(e)) throw new Error(`non-finite pair at ${i}: truth ${y}, forecast ${forecast[i]}`);
    acc.sumSquaredError += e * e;
    acc.sumAbsoluteError += Math.abs(e);
    acc.sumSquaredTruth += y * y;
    acc.count += 1;
  }
}

export function finishMetrics(acc: ErrorAccumulator): ErrorMetrics {
  if (acc.count === 0) return { rmse: NaN, mae: NaN, accuracy: NaN, count: 0 };
  return {
    rmse: Math.sqrt(acc.sumSquaredError / acc.count),
    mae: acc.sumAbsoluteError / acc.count,
    accuracy: 1 - Math.sqrt(acc.sumSquaredError) / Math.sqrt(acc.sumSquaredTruth),
    count: acc.count,
  };
}

export function errorMetrics(truth: ArrayLike<number>, forecast: ArrayLike<number>): ErrorMetrics {
  const acc = newAccumulator();
  accumulateErrors(acc, truth, forecast);
  return finishMetrics(acc);
}
