/**
 * What the panels draw on the map: highlighted roads (a what-if's closures, an emergency route),
 * rings at intersections (pre-empted signals, an alert's place), and point markers (route origin
 * and destination, the emergency vehicle). Each named set is one mesh, rebuilt only when the
 * panel changes it (rare), so it adds a draw call, never per-frame work.
 */
import { BufferGeometry, CircleGeometry, Group, Mesh, MeshBasicMaterial, RingGeometry } from 'three';
import { mergeGeometries } from 'three/addons/utils/BufferGeometryUtils.js';
import type { NetworkView } from './api.ts';
import { flat } from './NetworkLayer.ts';
import { ribbonGeometry } from './ribbon.ts';

export class MapOverlay {
  readonly group = new Group();
  private readonly sets = new Map<string, Mesh>();
  /** Called whenever what the overlay shows changed (to ask for a frame). */
  onChange: (() => void) | null = null;

  constructor(private readonly net: NetworkView) {
    this.group.name = 'overlay';
  }

  private replace(key: string, geometry: BufferGeometry | null, hex: string, order: number, opacity = 0.9): void {
    const old = this.sets.get(key);
    if (old) {
      this.group.remove(old);
      old.geometry.dispose();
      (old.material as MeshBasicMaterial).dispose();
      this.sets.delete(key);
      this.onChange?.();
    }
    if (!geometry) return;
    const mesh = flat(new Mesh(geometry, new MeshBasicMaterial({ color: hex, transparent: true, opacity })), order);
    mesh.name = `overlay-${key}`;
    this.sets.set(key, mesh);
    this.group.add(mesh);
    this.onChange?.();
  }

  /** Highlights whole roads (network road indices), drawn over the lane colours. */
  setRoads(key: string, roads: readonly number[], hex: string): void {
    const parts: BufferGeometry[] = [];
    for (const r of roads) {
      const road = this.net.roads[r];
      if (!road) continue;
      for (const l of road.lanes) {
        const lane = this.net.lanes[l];
        if (lane) parts.push(ribbonGeometry(lane.line, lane.width * 0.5, 0));
      }
    }
    this.replace(key, parts.length ? mergeGeometries(parts) : null, hex, 5, 0.8);
    for (const g of parts) g.dispose();
  }

  /** Rings around intersections (network indices). */
  setRings(key: string, intersections: readonly number[], hex: string): void {
    const parts: BufferGeometry[] = [];
    for (const k of intersections) {
      const i = this.net.intersections[k];
      if (!i) continue;
      const r = Math.max(i.width, 10) * 1.6;
      const g = new RingGeometry(r * 0.8, r, 40);
      g.translate(i.x, i.y, 0);
      parts.push(g);
    }
    this.replace(key, parts.length ? mergeGeometries(parts) : null, hex, 7);
    for (const g of parts) g.dispose();
  }

  /** A disc marker at a point (null removes it). */
  setMarker(key: string, at: { x: number; y: number } | null, hex: string, radius = 9): void {
    if (!at) return this.replace(key, null, hex, 8);
    const g = new CircleGeometry(radius, 32);
    g.translate(at.x, at.y, 0);
    this.replace(key, g, hex, 8, 0.95);
  }

  /** Moves an existing marker without rebuilding it (a vehicle's live position). */
  moveMarker(key: string, at: { x: number; y: number }, hex: string, radius = 7): void {
    let m = this.sets.get(key);
    if (!m) {
      this.replace(key, new CircleGeometry(radius, 24), hex, 9, 1);
      m = this.sets.get(key)!;
    }
    m.position.set(at.x, at.y, 0);
    this.onChange?.();
  }

  clear(prefix: string): void {
    for (const key of [...this.sets.keys()]) if (key.startsWith(prefix)) this.replace(key, null, '#000', 0);
  }

  dispose(): void {
    for (const key of [...this.sets.keys()]) this.replace(key, null, '#000', 0);
  }
}

/** Nearest road to a ground point (by its lanes' centre lines), within `maxDistance` metres, or -1. */
export function nearestRoad(net: NetworkView, x: number, y: number, maxDistance = 25): number {
  let best = -1;
  let bestD = maxDistance * maxDistance;
  for (const lane of net.lanes) {
    const l = lane.line;
    for (let k = 0; k + 3 < l.length; k += 2) {
      const d = segmentDistance2(x, y, l[k], l[k + 1], l[k + 2], l[k + 3]);
      if (d < bestD) {
        bestD = d;
        best = lane.road;
      }
    }
  }
  return best;
}

/** Nearest intersection to a ground point (virtual ones included: routes may start at the edge), or -1. */
export function nearestIntersection(net: NetworkView, x: number, y: number, maxDistance = 80): number {
  let best = -1;
  let bestD = maxDistance * maxDistance;
  net.intersections.forEach((i, k) => {
    const d = (i.x - x) ** 2 + (i.y - y) ** 2;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  });
  return best;
}

function segmentDistance2(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2)) : 0;
  const qx = ax + t * dx - px;
  const qy = ay + t * dy - py;
  return qx * qx + qy * qy;
}
