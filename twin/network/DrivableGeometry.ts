/**
 * Fast point-and-heading lookup along lanes and lane links, for drawing vehicles: every drivable's
 * polyline is kept as flat typed arrays with cumulative lengths, in the engine's drivable order
 * (lanes, then lane links).
 */
import type { RoadNetwork } from './RoadNetwork.ts';

export class DrivableGeometry {
  private readonly start: Int32Array;
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private readonly cum: Float64Array;

  constructor(net: RoadNetwork) {
    const lines = [...net.lanes.map((l) => l.polyline), ...net.laneLinks.map((l) => l.polyline)];
    this.start = new Int32Array(lines.length + 1);
    let n = 0;
    lines.forEach((p, i) => {
      this.start[i] = n;
      n += p.length;
    });
    this.start[lines.length] = n;
    this.xs = new Float64Array(n);
    this.ys = new Float64Array(n);
    this.cum = new Float64Array(n);
    lines.forEach((p, i) => {
      let k = this.start[i];
      let acc = 0;
      p.forEach((q, j) => {
        if (j > 0) acc += Math.hypot(q.x - p[j - 1].x, q.y - p[j - 1].y);
        this.xs[k] = q.x;
        this.ys[k] = q.y;
        this.cum[k] = acc;
        k++;
      });
    });
  }

  /** Writes x, y and heading (radians) of the point `dis` metres along drivable `d` into out[o..o+2]. */
  locate(d: number, dis: number, out: Float32Array | Float64Array, o: number): void {
    const a = this.start[d];
    const b = this.start[d + 1] - 1;
    let k = a;
    while (k < b - 1 && this.cum[k + 1] < dis) k++;
    const seg = this.cum[k + 1] - this.cum[k];
    const t = seg > 0 ? Math.min(1, Math.max(0, (dis - this.cum[k]) / seg)) : 0;
    const dx = this.xs[k + 1] - this.xs[k];
    const dy = this.ys[k + 1] - this.ys[k];
    out[o] = this.xs[k] + dx * t;
    out[o + 1] = this.ys[k] + dy * t;
    out[o + 2] = Math.atan2(dy, dx);
  }
}
