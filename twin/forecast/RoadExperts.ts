/**
 * Road experts: one small ridge regression per road, from the shared features to the road's
 * change at each horizon. The forecaster's network is shared by every road and sees a road only
 * through its features; an expert gives it what is particular to one road (which neighbour
 * matters to it, how far its history can be trusted) at a few dozen parameters a road, where a
 * learned road identity over-fits. Their predictions become inputs of the network.
 *
 * Fitted in closed form (normal equations, Cholesky), on inputs standardised per road, with the
 * standardisation folded back into the stored coefficients.
 */

export interface RoadExperts {
  readonly roads: number;
  readonly inputs: number;
  readonly outputs: number;
  /** roads × outputs × (inputs + 1): weights, then the intercept. */
  readonly coef: Float32Array;
}

/**
 * Fits one expert per road on the rows of that road (`road[r]`): `x` rows × `width` of which the
 * first `inputs` columns are used, `y` rows × outputs. `lambda` is the ridge penalty per sample
 * on standardised inputs. A road with too few rows gets a zero expert (predicts no change).
 */
export function fitRoadExperts(
  x: Float32Array,
  width: number,
  inputs: number,
  y: Float32Array,
  outputs: number,
  road: Int32Array,
  roads: number,
  lambda: number,
): RoadExperts {
  const rows = road.length;
  const byRoad: number[][] = Array.from({ length: roads }, () => []);
  for (let r = 0; r < rows; r++) byRoad[road[r]].push(r);
  const coef = new Float32Array(roads * outputs * (inputs + 1));
  const p = inputs;
  const mean = new Float64Array(p);
  const sd = new Float64Array(p);
  const a = new Float64Array(p * p);
  const b = new Float64Array(p * outputs);
  const z = new Float64Array(p);
  for (let j = 0; j < roads; j++) {
    const rs = byRoad[j];
    const m = rs.length;
    if (m < 2 * p) continue;
    mean.fill(0);
    sd.fill(0);
    for (const r of rs) for (let k = 0; k < p; k++) mean[k] += x[r * width + k];
    for (let k = 0; k < p; k++) mean[k] /= m;
    for (const r of rs) for (let k = 0; k < p; k++) sd[k] += (x[r * width + k] - mean[k]) ** 2;
    for (let k = 0; k < p; k++) sd[k] = Math.sqrt(sd[k] / m) || 1;
    const yMean = new Float64Array(outputs);
    for (const r of rs) for (let h = 0; h < outputs; h++) yMean[h] += y[r * outputs + h];
    for (let h = 0; h < outputs; h++) yMean[h] /= m;
    a.fill(0);
    b.fill(0);
    for (const r of rs) {
      for (let k = 0; k < p; k++) z[k] = (x[r * width + k] - mean[k]) / sd[k];
      for (let k = 0; k < p; k++) {
        const zk = z[k];
        if (zk === 0) continue;
        for (let l = 0; l <= k; l++) a[k * p + l] += zk * z[l];
        for (let h = 0; h < outputs; h++) b[k * outputs + h] += zk * (y[r * outputs + h] - yMean[h]);
      }
    }
    for (let k = 0; k < p; k++) {
      a[k * p + k] += lambda * m;
      for (let l = 0; l < k; l++) a[l * p + k] = a[k * p + l];
    }
    const beta = solveSymmetric(a, b, p, outputs);
    for (let h = 0; h < outputs; h++) {
      const o = (j * outputs + h) * (p + 1);
      let intercept = yMean[h];
      for (let k = 0; k < p; k++) {
        const w = beta[k * outputs + h] / sd[k];
        coef[o + k] = w;
        intercept -= w * mean[k];
      }
      coef[o + p] = intercept;
    }
  }
  return { roads, inputs, outputs, coef };
}

/** Road `j`'s predictions from its inputs (`x` at `offset`, `inputs` values) into `out` at `outOffset`. */
export function applyRoadExpert(e: RoadExperts, j: number, x: Float32Array, offset: number, out: Float32Array, outOffset: number): void {
  const p = e.inputs;
  for (let h = 0; h < e.outputs; h++) {
    const o = (j * e.outputs + h) * (p + 1);
    let s = e.coef[o + p];
    for (let k = 0; k < p; k++) s += e.coef[o + k] * x[offset + k];
    out[outOffset + h] = s;
  }
}

/** Solves A X = B for symmetric positive definite A (p × p) and B (p × q), by Cholesky. */
function solveSymmetric(a: Float64Array, b: Float64Array, p: number, q: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j];
      for (let k = 0; k < j; k++) s -= l[i * p + k] * l[j * p + k];
      l[i * p + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * p + j];
    }
  }
  const x = Float64Array.from(b);
  for (let c = 0; c < q; c++) {
    for (let i = 0; i < p; i++) {
      let s = x[i * q + c];
      for (let k = 0; k < i; k++) s -= l[i * p + k] * x[k * q + c];
      x[i * q + c] = s / l[i * p + i];
    }
    for (let i = p - 1; i >= 0; i--) {
      let s = x[i * q + c];
      for (let k = i + 1; k < p; k++) s -= l[k * p + i] * x[k * q + c];
      x[i * q + c] = s / l[i * p + i];
    }
  }
  return x;
}
