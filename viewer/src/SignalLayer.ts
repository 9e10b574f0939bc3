/**
 * Stop bars at the end of every lane that leads into a junction, one segment per movement that
 * leaves the lane (left turn on the left, right turn on the right), coloured by that movement's
 * live signal state.
 *
 * Close up, each segment is a flat quad (the layer is painted flat on the road, so a box's sides
 * would never show), merged per ground tile into one static geometry with per-vertex colours:
 * a recolour rewrites four colours, and tiles off screen are culled. (Not instanced: software
 * rasterisers such as SwiftShader pay per instance almost what they pay per draw call.) Far out,
 * where a bar is a fraction of a pixel, each segment is a point of a few pixels instead, so the
 * signals still show at city scale.
 */
import { BufferAttribute, BufferGeometry, Color, DynamicDrawUsage, Float32BufferAttribute, Group, Mesh, MeshBasicMaterial, Points, PointsMaterial } from 'three';
import type { NetworkView } from './api.ts';
import { flat, STOP_BAR_DEPTH } from './NetworkLayer.ts';
import { SIGNAL_HEX } from './palette.ts';
import type { SignalState } from './SignalState.ts';
import type { TileGrid } from './tiles.ts';

const TURN_ORDER: Record<string, number> = { turn_left: 0, turn_u: 0, go_straight: 1, turn_right: 2 };
/** Size of a stop-bar point in the far view (CSS pixels). */
const POINT_PX = 2.5;

export class SignalLayer {
  readonly group = new Group();
  /** Close-up quads, one mesh per tile. */
  readonly bars = new Group();
  /** Far view: a point per segment. */
  readonly points: Points;
  /** Segments of each movement: movSeg[movStart[m] … movStart[m+1]). */
  private readonly movStart: Uint32Array;
  private readonly movSeg: Uint32Array;
  /** Tile of each segment and its first vertex in that tile's geometry. */
  private readonly segTile: Uint16Array;
  private readonly segVertex: Uint32Array;
  private readonly tileColors: (BufferAttribute | null)[];
  private readonly tileTouched: Uint8Array;
  private readonly pointColors: BufferAttribute;
  private readonly colors = SIGNAL_HEX.map((h) => new Color(h));
  private readonly barMaterial = new MeshBasicMaterial({ vertexColors: true });
  private readonly pointMaterial = new PointsMaterial({ size: POINT_PX, sizeAttenuation: false, vertexColors: true });
  /** Segments drawn (a test and benchmark figure). */
  readonly segments: number;

  constructor(
    net: NetworkView,
    private readonly state: SignalState,
    tiles: TileGrid,
  ) {
    this.group.name = 'stop-bars';
    this.bars.name = 'stop-bar-quads';
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
    const n = (this.segments = segments.length);

    // Corners of each segment's quad, and its centre for the far view.
    const corners = new Float32Array(n * 12);
    const centres = new Float32Array(n * 3);
    this.segTile = new Uint16Array(n);
    segments.forEach((s, k) => {
      const lane = net.lanes[s.lane];
      const l = lane.line;
      const len = l.length;
      const ex = l[len - 2];
      const ey = l[len - 1];
      let dx = ex - l[len - 4];
      let dy = ey - l[len - 3];
      const d = Math.hypot(dx, dy) || 1;
      dx /= d;
      dy /= d;
      const width = lane.width * 0.86;
      const segWidth = width / s.of;
      // Lateral offset along the lane's left normal (-dy, dx): slot 0 is the leftmost.
      const lateral = width / 2 - segWidth * (s.slot + 0.5);
      const cx = ex - dx * (STOP_BAR_DEPTH / 2) - dy * lateral;
      const cy = ey - dy * (STOP_BAR_DEPTH / 2) + dx * lateral;
      const hl = STOP_BAR_DEPTH / 2;
      const hw = Math.max(0.4, segWidth - 0.35) / 2;
      // Counter-clockwise seen from above: back-right, front-right, front-left, back-left.
      const c = [-hl, -hw, hl, -hw, hl, hw, -hl, hw];
      for (let v = 0; v < 4; v++) {
        corners[k * 12 + v * 3] = cx + dx * c[v * 2] - dy * c[v * 2 + 1];
        corners[k * 12 + v * 3 + 1] = cy + dy * c[v * 2] + dx * c[v * 2 + 1];
      }
      centres[k * 3] = cx;
      centres[k * 3 + 1] = cy;
      this.segTile[k] = tiles.of(cx, cy);
    });

    // Close up: per tile, the quads of its segments.
    const perTile = new Uint32Array(tiles.count);
    this.segVertex = new Uint32Array(n);
    for (let k = 0; k < n; k++) this.segVertex[k] = 4 * perTile[this.segTile[k]]++;
    this.tileColors = Array.from(perTile, (count, t) => {
      if (count === 0) return null;
      const pos = new Float32Array(count * 12);
      const index: number[] = [];
      for (let q = 0; q < count; q++) index.push(4 * q, 4 * q + 1, 4 * q + 2, 4 * q, 4 * q + 2, 4 * q + 3);
      for (let k = 0; k < n; k++) if (this.segTile[k] === t) pos.set(corners.subarray(k * 12, k * 12 + 12), this.segVertex[k] * 3);
      const g = new BufferGeometry();
      g.setAttribute('position', new Float32BufferAttribute(pos, 3));
      const colors = new Float32BufferAttribute(new Float32Array(count * 12), 3).setUsage(DynamicDrawUsage);
      g.setAttribute('color', colors);
      g.setIndex(index);
      this.bars.add(flat(new Mesh(g, this.barMaterial), 5));
      return colors;
    });
    this.tileTouched = new Uint8Array(tiles.count);

    const pg = new BufferGeometry();
    pg.setAttribute('position', new Float32BufferAttribute(centres, 3));
    this.pointColors = new Float32BufferAttribute(new Float32Array(n * 3), 3).setUsage(DynamicDrawUsage);
    pg.setAttribute('color', this.pointColors);
    this.points = new Points(pg, this.pointMaterial);
    this.points.name = 'stop-bar-points';
    this.pointMaterial.depthTest = false;
    this.pointMaterial.depthWrite = false;
    this.points.renderOrder = 5;
    this.points.visible = false;
    this.group.add(this.bars, this.points);

    // Movement → its segments, as flat arrays (compressed rows).
    const counts = new Uint32Array(net.movements.length + 1);
    for (const s of segments) if (s.movement < net.movements.length) counts[s.movement + 1]++;
    for (let m = 0; m < net.movements.length; m++) counts[m + 1] += counts[m];
    this.movStart = counts;
    this.movSeg = new Uint32Array(n);
    const fill = counts.slice(0, net.movements.length);
    segments.forEach((s, k) => {
      if (s.movement < net.movements.length) this.movSeg[fill[s.movement]++] = k;
    });
    for (let k = 0; k < n; k++) this.paint(k, this.colors[3]);
    this.flush();

    state.onChange((movements) => this.recolor(movements));
  }

  /** Called after segments were recoloured (to ask for a frame). */
  onChange: (() => void) | null = null;

  /** Quads close up (true) or points far out (false), matching the lanes' level of detail. */
  setDetailed(on: boolean, pixelRatio: number): void {
    this.bars.visible = on;
    this.points.visible = !on;
    this.pointMaterial.size = POINT_PX * pixelRatio;
  }

  private paint(k: number, color: Color): void {
    const t = this.segTile[k];
    const tile = this.tileColors[t];
    if (tile) {
      const a = tile.array as Float32Array;
      for (let v = 0, o = this.segVertex[k] * 3; v < 4; v++, o += 3) {
        a[o] = color.r;
        a[o + 1] = color.g;
        a[o + 2] = color.b;
      }
      this.tileTouched[t] = 1;
    }
    const p = this.pointColors.array as Float32Array;
    p[k * 3] = color.r;
    p[k * 3 + 1] = color.g;
    p[k * 3 + 2] = color.b;
  }

  /** Uploads the tiles that changed. */
  private flush(): void {
    for (let t = 0; t < this.tileTouched.length; t++) {
      const tile = this.tileColors[t];
      if (this.tileTouched[t] && tile) tile.needsUpdate = true;
      this.tileTouched[t] = 0;
    }
    this.pointColors.needsUpdate = true;
  }

  private recolor(movements: readonly number[]): void {
    for (const m of movements) {
      const color = this.colors[this.state.movement[m]] ?? this.colors[3];
      for (let k = this.movStart[m]; k < this.movStart[m + 1]; k++) this.paint(this.movSeg[k], color);
    }
    if (movements.length > 0) {
      this.flush();
      this.onChange?.();
    }
  }

  dispose(): void {
    for (const m of this.bars.children) (m as Mesh).geometry.dispose();
    this.points.geometry.dispose();
    this.barMaterial.dispose();
    this.pointMaterial.dispose();
  }
}
