/**
 * Queue bars: for each lane, a thin raised strip from the stop line back along the lane, as long
 * as its queue (stopped vehicles × a jam spacing). Readable at network scale, where single
 * vehicles are specks, and it works for the twin's estimates, which have queues but no vehicles.
 * The strip follows the lane's last segment (lanes are straight near the stop line).
 */
import { BoxGeometry, DynamicDrawUsage, InstancedMesh, Matrix4, MeshBasicMaterial, Quaternion, Vector3 } from 'three';
import type { NetworkView } from './api.ts';
import { flat, STOP_BAR_DEPTH } from './NetworkLayer.ts';

/** Lane length a stopped vehicle takes (m): a car plus the minimum gap. */
const JAM_SPACING = 7;

export class QueueLayer {
  readonly mesh: InstancedMesh;
  private readonly shown: Float32Array;
  private readonly m4 = new Matrix4();
  private readonly q = new Quaternion();
  private readonly axis = new Vector3(0, 0, 1);
  private readonly pos = new Vector3();
  private readonly scale = new Vector3();

  constructor(private readonly net: NetworkView) {
    const g = new BoxGeometry(1, 1, 1);
    g.translate(-0.5, 0, 0.5); // anchored at its front end, so it grows backwards from the stop line
    this.mesh = flat(new InstancedMesh(g, new MeshBasicMaterial({ color: '#f2f4f8', transparent: true, opacity: 0.85 }), Math.max(1, net.lanes.length)), 7);
    this.mesh.name = 'queues';
    this.mesh.instanceMatrix.setUsage(DynamicDrawUsage);
    this.mesh.frustumCulled = false;
    this.mesh.visible = false;
    this.shown = new Float32Array(net.lanes.length).fill(-1);
    this.setQueues([]);
  }

  /** `queue[l]` = stopped vehicles on lane l. */
  setQueues(queue: readonly number[]): void {
    let touched = false;
    for (let l = 0; l < this.shown.length; l++) {
      const lane = this.net.lanes[l];
      const len = Math.min(lane.length, (l < queue.length ? queue[l] : 0) * JAM_SPACING);
      if (len === this.shown[l]) continue;
      this.shown[l] = len;
      touched = true;
      const line = lane.line;
      const n = line.length;
      const ex = line[n - 2];
      const ey = line[n - 1];
      const heading = Math.atan2(ey - line[n - 3], ex - line[n - 4]);
      this.q.setFromAxisAngle(this.axis, heading);
      // Start just behind the stop bar; a zero-length strip is scaled flat (invisible).
      this.pos.set(ex - Math.cos(heading) * STOP_BAR_DEPTH, ey - Math.sin(heading) * STOP_BAR_DEPTH, 0);
      this.scale.set(Math.max(len, 1e-3), len > 0 ? lane.width * 0.22 : 1e-3, 0.6);
      this.mesh.setMatrixAt(l, this.m4.compose(this.pos, this.q, this.scale));
    }
    if (touched) this.mesh.instanceMatrix.needsUpdate = true;
  }

  dispose(): void {
    this.mesh.geometry.dispose();
    (this.mesh.material as MeshBasicMaterial).dispose();
    this.mesh.dispose();
  }
}
