/**
 * Stop bars at the end of every lane that leads into a junction, one segment per movement that
 * leaves the lane (left turn on the left, right turn on the right), coloured by that movement's
 * live signal state. One InstancedMesh; only the segments of changed movements are recoloured.
 */
import { BoxGeometry, Color, DynamicDrawUsage, InstancedMesh, Matrix4, MeshBasicMaterial, Quaternion, Vector3 } from 'three';
import type { NetworkView } from './api.ts';
import { flat, STOP_BAR_DEPTH } from './NetworkLayer.ts';
import { SIGNAL_HEX } from './palette.ts';
import type { SignalState } from './SignalState.ts';

const TURN_ORDER: Record<string, number> = { turn_left: 0, turn_u: 0, go_straight: 1, turn_right: 2 };

export class SignalLayer {
  readonly mesh: InstancedMesh;
  /** Instances of each movement: movInst[movStart[m] … movStart[m+1]). */
  private readonly movStart: Uint32Array;
  private readonly movInst: Uint32Array;
  private readonly colors = SIGNAL_HEX.map((h) => new Color(h));

  constructor(
    net: NetworkView,
    private readonly state: SignalState,
  ) {
    // Movements leaving each lane, ordered left → right.
    const byLane = new Map<number, number[]>();
    for (const link of net.laneLinks) {
      const list = byLane.get(link.fromLane) ?? [];
      if (!list.includes(link.movement)) list.push(link.movement);
      byLane.set(link.fromLane, list);
    }
    const segments: { lane: number; movement: number; slot: number; of: number }[] = [];
    for (const [lane, movs] of byLane) {
      movs.sort((a, b) => (TURN_ORDER[net.movements[a]?.type ?? ''] ?? 3) - (TURN_ORDER[net.movements[b]?.type ?? ''] ?? 3));
      movs.forEach((m, slot) => segments.push({ lane, movement: m, slot, of: movs.length }));
    }

    const geometry = new BoxGeometry(1, 1, 1);
    geometry.translate(0, 0, 0.5);
    this.mesh = new InstancedMesh(geometry, new MeshBasicMaterial(), Math.max(1, segments.length));
    flat(this.mesh, 5);
    this.mesh.name = 'stop-bars';
    this.mesh.count = segments.length;
    this.mesh.instanceMatrix.setUsage(DynamicDrawUsage);

    const m4 = new Matrix4();
    const q = new Quaternion();
    const axis = new Vector3(0, 0, 1);
    const pos = new Vector3();
    const scale = new Vector3();
    segments.forEach((s, k) => {
      const lane = net.lanes[s.lane];
      const l = lane.line;
      const n = l.length;
      const ex = l[n - 2];
      const ey = l[n - 1];
      let dx = ex - l[n - 4];
      let dy = ey - l[n - 3];
      const len = Math.hypot(dx, dy) || 1;
      dx /= len;
      dy /= len;
      const width = lane.width * 0.86;
      const segWidth = width / s.of;
      // Lateral offset along the lane's left normal (-dy, dx): slot 0 is the leftmost.
      const lateral = width / 2 - segWidth * (s.slot + 0.5);
      pos.set(ex - dx * (STOP_BAR_DEPTH / 2) - dy * lateral, ey - dy * (STOP_BAR_DEPTH / 2) + dx * lateral, 0);
      q.setFromAxisAngle(axis, Math.atan2(dy, dx));
      scale.set(STOP_BAR_DEPTH, Math.max(0.4, segWidth - 0.35), 0.4);
      this.mesh.setMatrixAt(k, m4.compose(pos, q, scale));
      this.mesh.setColorAt(k, this.colors[3]);
    });

    // Movement → its segments, as flat arrays (compressed rows).
    const counts = new Uint32Array(net.movements.length + 1);
    for (const s of segments) if (s.movement < net.movements.length) counts[s.movement + 1]++;
    for (let m = 0; m < net.movements.length; m++) counts[m + 1] += counts[m];
    this.movStart = counts;
    this.movInst = new Uint32Array(segments.length);
    const fill = counts.slice(0, net.movements.length);
    segments.forEach((s, k) => {
      if (s.movement < net.movements.length) this.movInst[fill[s.movement]++] = k;
    });
    this.mesh.instanceColor?.setUsage(DynamicDrawUsage);

    state.onChange((movements) => this.recolor(movements));
  }

  private recolor(movements: readonly number[]): void {
    const mesh = this.mesh;
    for (const m of movements) {
      const color = this.colors[this.state.movement[m]] ?? this.colors[3];
      for (let k = this.movStart[m]; k < this.movStart[m + 1]; k++) mesh.setColorAt(this.movInst[k], color);
    }
    if (mesh.instanceColor && movements.length > 0) mesh.instanceColor.needsUpdate = true;
  }

  dispose(): void {
    this.mesh.geometry.dispose();
    (this.mesh.material as MeshBasicMaterial).dispose();
    this.mesh.dispose();
  }
}
