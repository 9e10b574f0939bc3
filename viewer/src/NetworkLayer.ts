/**
 * The static network: road beds, lane ribbons coloured by congestion, junction areas and faint
 * lane links. Geometry is merged per kind and per ground tile (see tiles.ts): a handful of draw
 * calls, and tiles off screen are culled when zoomed in. Zoomed out, where a lane is narrower
 * than a pixel and a ribbon would break up into dots, each road is drawn as one one-pixel line
 * instead, coloured by the mean speed ratio of its lanes (its lanes would share that pixel
 * anyway), and beds and links are skipped. Lane colours are per-vertex and rewritten in
 * place when a `lanes` update arrives.
 */
import {
  Box3,
  BufferAttribute,
  BufferGeometry,
  Color,
  DynamicDrawUsage,
  Float32BufferAttribute,
  Group,
  LineBasicMaterial,
  LineSegments,
  Mesh,
  MeshBasicMaterial,
  PlaneGeometry,
  Vector3,
  type Material,
} from 'three';
import { mergeGeometries } from 'three/addons/utils/BufferGeometryUtils.js';
import type { NetworkView } from './api.ts';
import { congestionIndex, congestionLut, NO_DATA_HEX, SCENE_HEX } from './palette.ts';
import { ribbonGeometry } from './ribbon.ts';
import { TileGrid } from './tiles.ts';

/** Room left at a lane's end for its stop bar (m). */
export const STOP_BAR_DEPTH = 2.5;

/**
 * Below this many screen pixels per metre a lane ribbon (about 2 m wide) is under a pixel:
 * lanes become lines. A little hysteresis keeps the switch from flickering at the threshold.
 */
export const RIBBON_MIN_PX_PER_M = 0.35;
const HYSTERESIS = 1.1;

/**
 * Ground-level layers are painted in `order` without depth testing or writing, so layers a few
 * centimetres apart cannot flicker at a distance, and vehicles drawn later always show on top.
 */
export function flat<O extends Mesh | LineSegments>(obj: O, order: number): O {
  for (const m of Array.isArray(obj.material) ? obj.material : [obj.material]) {
    m.depthWrite = false;
    m.depthTest = false;
  }
  obj.renderOrder = order;
  return obj;
}

/** Merges the geometries of each tile (null where a tile has none) and disposes the parts. */
function mergeByTile(parts: (BufferGeometry | null)[], tileOf: (k: number) => number, tiles: number): (BufferGeometry | null)[] {
  const lists: BufferGeometry[][] = Array.from({ length: tiles }, () => []);
  parts.forEach((g, k) => {
    if (g) lists[tileOf(k)].push(g);
  });
  const out = lists.map((l) => (l.length > 0 ? mergeGeometries(l) : null));
  for (const g of parts) g?.dispose();
  return out;
}

export class NetworkLayer {
  readonly group = new Group();
  readonly bounds = new Box3();
  readonly tiles: TileGrid;
  /** Close-up detail (ribbons, beds, links), per tile. */
  readonly near = new Group();
  /** Far view: one line per road (its middle lane's polyline), one draw call. */
  readonly far: LineSegments;
  private detailed = true;
  /** Per tile: the lane ribbons' colour attribute (null where a tile has no lanes). */
  private readonly tileColors: (BufferAttribute | null)[];
  private readonly tileTouched: Uint8Array;
  /** Tile, first vertex and vertex count of each lane's ribbon in its tile's geometry. */
  private readonly laneTile: Uint16Array;
  private readonly laneStart: Uint32Array;
  private readonly laneCount: Uint32Array;
  /** First vertex and vertex count of each road's segments in the far line geometry. */
  private readonly lineStart: Uint32Array;
  private readonly lineCount: Uint32Array;
  private readonly laneRoad: Int32Array;
  private readonly roadTouched: Uint8Array;
  private readonly lineColors: BufferAttribute;
  /** LUT index last written per lane (-2 = never), to skip unchanged lanes. */
  private readonly laneShown: Int16Array;
  private readonly lut = congestionLut();
  private readonly noData = new Color(NO_DATA_HEX);
  private readonly materials: Material[] = [];

  constructor(readonly net: NetworkView) {
    this.group.name = 'network';
    this.near.name = 'network-near';
    const p = new Vector3();
    for (const l of net.lanes) {
      const pad = l.width;
      for (let k = 0; k + 1 < l.line.length; k += 2) {
        this.bounds.expandByPoint(p.set(l.line[k] - pad, l.line[k + 1] - pad, 0));
        this.bounds.expandByPoint(p.set(l.line[k] + pad, l.line[k + 1] + pad, 0));
      }
    }
    if (this.bounds.isEmpty()) this.bounds.set(new Vector3(-100, -100, 0), new Vector3(100, 100, 0));
    const tiles = (this.tiles = new TileGrid(this.bounds));
    const mid = (line: readonly number[]) => {
      const n = line.length;
      return tiles.of((line[0] + line[n - 2]) / 2, (line[1] + line[n - 1]) / 2);
    };
    this.laneTile = Uint16Array.from(net.lanes, (l) => mid(l.line));
    const hasOutgoing = new Uint8Array(net.lanes.length);
    for (const link of net.laneLinks) if (link.fromLane < hasOutgoing.length) hasOutgoing[link.fromLane] = 1;

    // Road beds: the full lane width, one neutral colour.
    const bedMaterial = this.material(new MeshBasicMaterial({ color: SCENE_HEX.roadBed }));
    const beds = new Group();
    beds.name = 'road-beds';
    for (const g of mergeByTile(
      net.lanes.map((l) => ribbonGeometry(l.line, l.width / 2 + 0.15, 0)),
      (k) => this.laneTile[k],
      tiles.count,
    )) {
      if (g) beds.add(flat(new Mesh(g, bedMaterial), 1));
    }

    // Lane ribbons: narrower than the bed so lane edges read as dark lines; shortened where a
    // stop bar will stand.
    const ribbons = net.lanes.map((l, k) => ribbonGeometry(l.line, l.width * 0.34, 0, hasOutgoing[k] ? STOP_BAR_DEPTH + 0.3 : 0));
    this.laneStart = new Uint32Array(ribbons.length);
    this.laneCount = new Uint32Array(ribbons.length);
    const fill = new Uint32Array(tiles.count);
    ribbons.forEach((g, k) => {
      const t = this.laneTile[k];
      this.laneStart[k] = fill[t];
      this.laneCount[k] = g.getAttribute('position').count;
      fill[t] += this.laneCount[k];
    });
    const laneMaterial = this.material(new MeshBasicMaterial({ vertexColors: true }));
    const lanes = new Group();
    lanes.name = 'lanes';
    this.tileColors = mergeByTile(ribbons, (k) => this.laneTile[k], tiles.count).map((g) => {
      if (!g) return null;
      const colors = new Float32BufferAttribute(new Float32Array(g.getAttribute('position').count * 3), 3);
      colors.setUsage(DynamicDrawUsage); // rewritten on lanes updates
      g.setAttribute('color', colors);
      lanes.add(flat(new Mesh(g, laneMaterial), 3));
      return colors;
    });
    this.tileTouched = new Uint8Array(tiles.count);

    // Lane links: thin faint lines through the junctions.
    const linkMaterial = this.material(new LineBasicMaterial({ color: SCENE_HEX.laneLink, transparent: true, opacity: 0.22 }));
    // Transparent objects are drawn after opaque ones, vehicles included: keep the depth test
    // so a faint link line never paints over a vehicle.
    linkMaterial.depthWrite = false;
    const linkPos: number[][] = Array.from({ length: tiles.count }, () => []);
    for (const link of net.laneLinks) {
      const l = link.line;
      const out = linkPos[mid(l)];
      for (let k = 0; k + 3 < l.length; k += 2) out.push(l[k], l[k + 1], 0, l[k + 2], l[k + 3], 0);
    }
    const links = new Group();
    links.name = 'lane-links';
    for (const pos of linkPos) {
      if (pos.length === 0) continue;
      const g = new BufferGeometry();
      g.setAttribute('position', new Float32BufferAttribute(pos, 3));
      const seg = new LineSegments(g, linkMaterial);
      seg.renderOrder = 4;
      links.add(seg);
    }
    this.near.add(beds, lanes, links);

    // Far view: each road as its middle lane's centre line.
    this.laneRoad = new Int32Array(net.lanes.length).fill(-1);
    this.roadTouched = new Uint8Array(net.roads.length);
    this.lineStart = new Uint32Array(net.roads.length);
    this.lineCount = new Uint32Array(net.roads.length);
    const roadLine = net.roads.map((r, k) => {
      for (const l of r.lanes) if (l < net.lanes.length) this.laneRoad[l] = k;
      return net.lanes[r.lanes[Math.floor(r.lanes.length / 2)]]?.line ?? [];
    });
    let nv = 0;
    roadLine.forEach((line, k) => {
      this.lineStart[k] = nv;
      this.lineCount[k] = Math.max(0, line.length / 2 - 1) * 2;
      nv += this.lineCount[k];
    });
    const linePos = new Float32Array(nv * 3);
    roadLine.forEach((line, k) => {
      let o = this.lineStart[k] * 3;
      for (let p = 0; p + 3 < line.length; p += 2) {
        linePos[o] = line[p];
        linePos[o + 1] = line[p + 1];
        linePos[o + 3] = line[p + 2];
        linePos[o + 4] = line[p + 3];
        o += 6;
      }
    });
    const lineGeometry = new BufferGeometry();
    lineGeometry.setAttribute('position', new Float32BufferAttribute(linePos, 3));
    this.lineColors = new Float32BufferAttribute(new Float32Array(nv * 3), 3);
    this.lineColors.setUsage(DynamicDrawUsage);
    lineGeometry.setAttribute('color', this.lineColors);
    this.far = flat(new LineSegments(lineGeometry, this.material(new LineBasicMaterial({ vertexColors: true }))), 3);
    this.far.name = 'lane-lines';
    this.far.visible = false;

    // Junction areas of signalised (non-virtual) intersections: few triangles, one mesh.
    const junctions: BufferGeometry[] = [];
    for (const i of net.intersections) {
      if (i.virtual || i.width <= 0) continue;
      const g = new PlaneGeometry(i.width * 2, i.width * 2);
      g.translate(i.x, i.y, 0);
      junctions.push(g);
    }
    this.group.add(this.near, this.far);
    if (junctions.length > 0) {
      const jMesh = flat(new Mesh(mergeGeometries(junctions), this.material(new MeshBasicMaterial({ color: SCENE_HEX.junction }))), 2);
      jMesh.name = 'junctions';
      this.group.add(jMesh);
      for (const g of junctions) g.dispose();
    }

    this.laneShown = new Int16Array(net.lanes.length).fill(-2);
    this.setSpeedRatios([]);
  }

  private material<M extends Material>(m: M): M {
    this.materials.push(m);
    return m;
  }

  get laneTotal(): number {
    return this.net.lanes.length;
  }

  /** Whether ribbons (true) or lines (false) are drawn. */
  get isDetailed(): boolean {
    return this.detailed;
  }

  /** Picks ribbons or lines for the scale of the view; true when that changed. */
  setDetail(pixelsPerMetre: number): boolean {
    const want = this.detailed ? pixelsPerMetre >= RIBBON_MIN_PX_PER_M / HYSTERESIS : pixelsPerMetre >= RIBBON_MIN_PX_PER_M * HYSTERESIS;
    if (want === this.detailed) return false;
    this.detailed = want;
    this.near.visible = want;
    this.far.visible = !want;
    return true;
  }

  /**
   * Colours lanes by speed ratio (mean speed / limit, 1 = free flow). A missing or non-finite
   * value shows as "no data". Only lanes whose colour step changed are rewritten, and only the
   * tiles holding them are uploaded again. Returns whether anything changed.
   */
  setSpeedRatios(ratios: readonly number[]): boolean {
    let touched = false;
    for (let l = 0; l < this.laneShown.length; l++) {
      const idx = l < ratios.length ? congestionIndex(ratios[l]) : -1;
      if (idx === this.laneShown[l]) continue;
      this.laneShown[l] = idx;
      touched = true;
      const r = idx < 0 ? this.noData.r : this.lut[idx * 3];
      const g = idx < 0 ? this.noData.g : this.lut[idx * 3 + 1];
      const b = idx < 0 ? this.noData.b : this.lut[idx * 3 + 2];
      const t = this.laneTile[l];
      const colors = this.tileColors[t];
      if (colors) {
        const arr = colors.array as Float32Array;
        this.tileTouched[t] = 1;
        const end = (this.laneStart[l] + this.laneCount[l]) * 3;
        for (let o = this.laneStart[l] * 3; o < end; o += 3) {
          arr[o] = r;
          arr[o + 1] = g;
          arr[o + 2] = b;
        }
      }
      if (this.laneRoad[l] >= 0) this.roadTouched[this.laneRoad[l]] = 1;
    }
    if (!touched) return false;
    this.colorRoadLines();
    for (let t = 0; t < this.tileTouched.length; t++) {
      const colors = this.tileColors[t];
      if (this.tileTouched[t] && colors) colors.needsUpdate = true;
      this.tileTouched[t] = 0;
    }
    return true;
  }

  /** Far-view road colours: the mean colour step of a road's lanes that have data. */
  private colorRoadLines(): void {
    const lines = this.lineColors.array as Float32Array;
    for (let k = 0; k < this.roadTouched.length; k++) {
      if (!this.roadTouched[k]) continue;
      this.roadTouched[k] = 0;
      let sum = 0;
      let n = 0;
      for (const l of this.net.roads[k].lanes) {
        const idx = this.laneShown[l] ?? -1;
        if (idx >= 0) {
          sum += idx;
          n++;
        }
      }
      const idx = n > 0 ? Math.round(sum / n) : -1;
      const r = idx < 0 ? this.noData.r : this.lut[idx * 3];
      const g = idx < 0 ? this.noData.g : this.lut[idx * 3 + 1];
      const b = idx < 0 ? this.noData.b : this.lut[idx * 3 + 2];
      const end = (this.lineStart[k] + this.lineCount[k]) * 3;
      for (let o = this.lineStart[k] * 3; o < end; o += 3) {
        lines[o] = r;
        lines[o + 1] = g;
        lines[o + 2] = b;
      }
    }
    this.lineColors.needsUpdate = true;
  }

  dispose(): void {
    this.group.traverse((o) => {
      if (o instanceof Mesh || o instanceof LineSegments) o.geometry.dispose();
    });
    for (const m of this.materials) m.dispose();
  }
}
