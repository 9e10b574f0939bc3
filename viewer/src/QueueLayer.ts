/**
 * Queue bars: for each lane, a thin strip from the stop line back along the lane, as long as its
 * queue (stopped vehicles × a jam spacing). Readable at network scale, where single vehicles are
 * specks, and it works for the twin's estimates, which have queues but no vehicles. The strip
 * follows the lane's last segment (lanes are straight near the stop line).
 *
 * Flat quads (two triangles) in one dynamic geometry, packed so only lanes with a queue are
 * drawn: in a big city most lanes have none at any moment. (Not instanced: software rasterisers
 * pay per instance about what they pay per draw call.)
 */
import { BufferAttribute, BufferGeometry, DynamicDrawUsage, Float32BufferAttribute, Mesh, MeshBasicMaterial } from 'three';
import type { NetworkView } from './api.ts';
import { flat, STOP_BAR_DEPTH } from './NetworkLayer.ts';

/** Lane length a stopped vehicle takes (m): a car plus the minimum gap. */
const JAM_SPACING = 7;

export class QueueLayer {
  readonly mesh: Mesh;
  private readonly positions: BufferAttribute;
  private count = 0;
  private readonly shown: Float32Array;
  /** Per lane: where the strip starts (just behind the stop bar) and its direction. */
  private readonly startX: Float32Array;
  private readonly startY: Float32Array;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;

  constructor(private readonly net: NetworkView) {
    const n = net.lanes.length;
    const g = new BufferGeometry();
    this.positions = new Float32BufferAttribute(new Float32Array(Math.max(1, n) * 12), 3).setUsage(DynamicDrawUsage);
    g.setAttribute('position', this.positions);
    const index = new Uint32Array(Math.max(1, n) * 6);
    for (let q = 0; q < n; q++) index.set([4 * q, 4 * q + 1, 4 * q + 2, 4 * q, 4 * q + 2, 4 * q + 3], q * 6);
    g.setIndex(new BufferAttribute(index, 1));
    g.setDrawRange(0, 0);
    this.mesh = flat(new Mesh(g, new MeshBasicMaterial({ color: '#f2f4f8', transparent: true, opacity: 0.85 })), 7);
    this.mesh.name = 'queues';
    this.mesh.frustumCulled = false; // the bars change; a stale bounding sphere would cull them
    this.mesh.visible = false;
    this.shown = new Float32Array(n);
    this.startX = new Float32Array(n);
    this.startY = new Float32Array(n);
    this.cos = new Float32Array(n);
    this.sin = new Float32Array(n);
    net.lanes.forEach((lane, l) => {
      const line = lane.line;
      const k = line.length;
      const heading = Math.atan2(line[k - 1] - line[k - 3], line[k - 2] - line[k - 4]);
      this.cos[l] = Math.cos(heading);
      this.sin[l] = Math.sin(heading);
      this.startX[l] = line[k - 2] - this.cos[l] * STOP_BAR_DEPTH;
      this.startY[l] = line[k - 1] - this.sin[l] * STOP_BAR_DEPTH;
    });
  }

  /** Lanes with a bar drawn. */
  get bars(): number {
    return this.count;
  }

  /** `queue[l]` = stopped vehicles on lane l. Returns whether any bar changed. */
  setQueues(queue: readonly number[]): boolean {
    let touched = false;
    for (let l = 0; l < this.shown.length; l++) {
      const len = Math.min(this.net.lanes[l].length, (l < queue.length ? queue[l] : 0) * JAM_SPACING);
      if (len !== this.shown[l]) {
        this.shown[l] = len;
        touched = true;
      }
    }
    if (!touched) return false;
    // Rewrite the quads of the lanes with a queue, packed from the start.
    const p = this.positions.array as Float32Array;
    let k = 0;
    for (let l = 0; l < this.shown.length; l++) {
      const len = this.shown[l];
      if (!(len > 0)) continue;
      // From the strip's start back along the lane by `len`, `w` either side of its centre line.
      const c = this.cos[l];
      const s = this.sin[l];
      const w = this.net.lanes[l].width * 0.11;
      const fx = this.startX[l];
      const fy = this.startY[l];
      const bx = fx - c * len;
      const by = fy - s * len;
      const o = k * 12;
      // Counter-clockwise seen from above: back-right, front-right, front-left, back-left.
      p[o] = bx + s * w;
      p[o + 1] = by - c * w;
      p[o + 3] = fx + s * w;
      p[o + 4] = fy - c * w;
      p[o + 6] = fx - s * w;
      p[o + 7] = fy + c * w;
      p[o + 9] = bx - s * w;
      p[o + 10] = by + c * w;
      k++;
    }
    this.count = k;
    this.mesh.geometry.setDrawRange(0, k * 6);
    this.positions.clearUpdateRanges();
    this.positions.addUpdateRange(0, Math.max(1, k) * 12);
    this.positions.needsUpdate = true;
    return true;
  }

  dispose(): void {
    this.mesh.geometry.dispose();
    (this.mesh.material as MeshBasicMaterial).dispose();
  }
}
