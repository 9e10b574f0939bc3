/**
 * The static network: road beds, lane ribbons coloured by congestion, junction areas and faint
 * lane links. Each kind is one merged geometry (one draw call); lane colours are per-vertex and
 * rewritten in place when a `lanes` update arrives.
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
  type Material,
} from 'three';
import { mergeGeometries } from 'three/addons/utils/BufferGeometryUtils.js';
import type { NetworkView } from './api.ts';
import { congestionIndex, congestionLut, NO_DATA_HEX, SCENE_HEX } from './palette.ts';
import { ribbonGeometry } from './ribbon.ts';

/** Room left at a lane's end for its stop bar (m). */
export const STOP_BAR_DEPTH = 2.5;

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

export class NetworkLayer {
  readonly group = new Group();
  readonly bounds = new Box3();
  private readonly laneColors: BufferAttribute;
  /** First vertex and vertex count of each lane in the merged lane geometry. */
  private readonly laneStart: Uint32Array;
  private readonly laneCount: Uint32Array;
  /** LUT index last written per lane (-2 = never), to skip unchanged lanes. */
  private readonly laneShown: Int16Array;
  private readonly lut = congestionLut();
  private readonly noData = new Color(NO_DATA_HEX);

  constructor(readonly net: NetworkView) {
    this.group.name = 'network';
    const hasOutgoing = new Uint8Array(net.lanes.length);
    for (const link of net.laneLinks) if (link.fromLane < hasOutgoing.length) hasOutgoing[link.fromLane] = 1;

    // Road beds: the full lane width, one neutral colour.
    const beds = net.lanes.map((l) => ribbonGeometry(l.line, l.width / 2 + 0.15, 0));
    const bedMesh = flat(new Mesh(mergeGeometries(beds), new MeshBasicMaterial({ color: SCENE_HEX.roadBed })), 1);
    bedMesh.name = 'road-beds';
    for (const g of beds) g.dispose();

    // Junction areas of signalised (non-virtual) intersections.
    const junctions: BufferGeometry[] = [];
    for (const i of net.intersections) {
      if (i.virtual || i.width <= 0) continue;
      const g = new PlaneGeometry(i.width * 2, i.width * 2);
      g.translate(i.x, i.y, 0);
      junctions.push(g);
    }
    if (junctions.length > 0) {
      const jMesh = flat(new Mesh(mergeGeometries(junctions), new MeshBasicMaterial({ color: SCENE_HEX.junction })), 2);
      jMesh.name = 'junctions';
      this.group.add(jMesh);
      for (const g of junctions) g.dispose();
    }

    // Lane ribbons: narrower than the bed so lane edges read as dark lines; shortened where a
    // stop bar will stand.
    const ribbons = net.lanes.map((l, k) => ribbonGeometry(l.line, l.width * 0.34, 0, hasOutgoing[k] ? STOP_BAR_DEPTH + 0.3 : 0));
    this.laneStart = new Uint32Array(ribbons.length);
    this.laneCount = new Uint32Array(ribbons.length);
    let v = 0;
    ribbons.forEach((g, k) => {
      this.laneStart[k] = v;
      this.laneCount[k] = g.getAttribute('position').count;
      v += this.laneCount[k];
    });
    const laneGeometry = mergeGeometries(ribbons);
    for (const g of ribbons) g.dispose();
    this.laneColors = new Float32BufferAttribute(new Float32Array(v * 3), 3);
    this.laneColors.setUsage(DynamicDrawUsage); // rewritten on lanes updates
    laneGeometry.setAttribute('color', this.laneColors);
    const laneMesh = flat(new Mesh(laneGeometry, new MeshBasicMaterial({ vertexColors: true })), 3);
    laneMesh.name = 'lanes';
    this.laneShown = new Int16Array(net.lanes.length).fill(-2);
    this.setSpeedRatios([]);

    // Lane links: thin faint lines through the junctions.
    const linkPos: number[] = [];
    for (const link of net.laneLinks) {
      const l = link.line;
      for (let k = 0; k + 3 < l.length; k += 2) linkPos.push(l[k], l[k + 1], 0, l[k + 2], l[k + 3], 0);
    }
    const linkGeometry = new BufferGeometry();
    linkGeometry.setAttribute('position', new Float32BufferAttribute(linkPos, 3));
    const links = flat(new LineSegments(linkGeometry, new LineBasicMaterial({ color: SCENE_HEX.laneLink, transparent: true, opacity: 0.22 })), 4);
    links.name = 'lane-links';
    // Transparent objects are drawn after opaque ones, vehicles included: keep the depth test
    // so a faint link line never paints over a vehicle.
    links.material.depthTest = true;

    this.group.add(bedMesh, laneMesh, links);
    bedMesh.geometry.computeBoundingBox();
    this.bounds.copy(bedMesh.geometry.boundingBox ?? new Box3());
  }

  get laneTotal(): number {
    return this.net.lanes.length;
  }

  /**
   * Colours lanes by speed ratio (mean speed / limit, 1 = free flow). A missing or non-finite
   * value shows as "no data". Only lanes whose colour step changed are rewritten.
   */
  setSpeedRatios(ratios: readonly number[]): void {
    const arr = this.laneColors.array as Float32Array;
    let touched = false;
    for (let l = 0; l < this.laneShown.length; l++) {
      const idx = l < ratios.length ? congestionIndex(ratios[l]) : -1;
      if (idx === this.laneShown[l]) continue;
      this.laneShown[l] = idx;
      touched = true;
      const r = idx < 0 ? this.noData.r : this.lut[idx * 3];
      const g = idx < 0 ? this.noData.g : this.lut[idx * 3 + 1];
      const b = idx < 0 ? this.noData.b : this.lut[idx * 3 + 2];
      const end = (this.laneStart[l] + this.laneCount[l]) * 3;
      for (let o = this.laneStart[l] * 3; o < end; o += 3) {
        arr[o] = r;
        arr[o + 1] = g;
        arr[o + 2] = b;
      }
    }
    if (touched) this.laneColors.needsUpdate = true;
  }

  dispose(): void {
    this.group.traverse((o) => {
      if (o instanceof Mesh || o instanceof LineSegments) {
        o.geometry.dispose();
        (o.material as Material).dispose();
      }
    });
  }
}
