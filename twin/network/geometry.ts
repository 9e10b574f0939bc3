/**
 * Plane geometry of roads, lanes and lane links, as CityFlow builds it
 * (cityflow-model.md §1.2–1.4): trimmed and offset lane polylines, Bézier lane links and
 * segment intersections for conflict points.
 */
import type { Point } from './cityflowFormat.ts';

export type Polyline = Point[];

const EPS = 1e-8;

export function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

export function polylineLength(line: Polyline): number {
  let len = 0;
  for (let i = 1; i < line.length; i++) len += distance(line[i - 1], line[i]);
  return len;
}

function unit(dx: number, dy: number): Point {
  const n = Math.hypot(dx, dy);
  return n === 0 ? { x: 0, y: 0 } : { x: dx / n, y: dy / n };
}

/** Moves `from` toward `to` by `d` metres. */
function moveToward(from: Point, to: Point, d: number): Point {
  const u = unit(to.x - from.x, to.y - from.y);
  return { x: from.x + u.x * d, y: from.y + u.y * d };
}

/** A road's polyline with each end pulled back by the width of a real intersection there. */
export function trimRoad(points: Polyline, startWidth: number, endWidth: number): Polyline {
  const p = points.map((q) => ({ x: q.x, y: q.y }));
  const n = p.length;
  if (startWidth > 0) p[0] = moveToward(points[0], points[1], startWidth);
  if (endWidth > 0) p[n - 1] = moveToward(points[n - 1], points[n - 2], endWidth);
  return p;
}

/**
 * Offsets a polyline to the right of its travel direction. Interior points move along the
 * normal of the unit bisector without miter scaling, as CityFlow does.
 */
export function offsetRight(points: Polyline, offset: number): Polyline {
  const n = points.length;
  const out: Polyline = new Array(n);
  for (let i = 0; i < n; i++) {
    let u: Point;
    if (i === 0) u = unit(points[1].x - points[0].x, points[1].y - points[0].y);
    else if (i === n - 1) u = unit(points[n - 1].x - points[n - 2].x, points[n - 1].y - points[n - 2].y);
    else {
      const a = unit(points[i].x - points[i - 1].x, points[i].y - points[i - 1].y);
      const b = unit(points[i + 1].x - points[i].x, points[i + 1].y - points[i].y);
      u = unit(a.x + b.x, a.y + b.y);
    }
    // Right of (ux, uy) is (uy, -ux).
    out[i] = { x: points[i].x + u.y * offset, y: points[i].y - u.x * offset };
  }
  return out;
}

/** The point at arc length `d` along a polyline, and the unit direction there. */
export function pointAtDistance(line: Polyline, d: number): { point: Point; dir: Point } {
  let rest = d;
  for (let i = 1; i < line.length; i++) {
    const seg = distance(line[i - 1], line[i]);
    const dir = unit(line[i].x - line[i - 1].x, line[i].y - line[i - 1].y);
    if (rest <= seg || i === line.length - 1) {
      return { point: { x: line[i - 1].x + dir.x * rest, y: line[i - 1].y + dir.y * rest }, dir };
    }
    rest -= seg;
  }
  return { point: { ...line[0] }, dir: { x: 1, y: 0 } };
}

/**
 * CityFlow's default lane-link curve when a file gives no points: an 11-point cubic Bézier
 * from S (on the start lane, `endWidth` before its end) to E (on the end lane, `startWidth`
 * after its start), including the sign quirk on a short end arm.
 */
export function bezierLaneLink(
  startLane: Polyline,
  endLane: Polyline,
  intersectionWidth: number,
): Polyline {
  const startLen = polylineLength(startLane);
  const s = pointAtDistance(startLane, startLen - intersectionWidth);
  const e = pointAtDistance(endLane, intersectionWidth);
  const L = distance(s.point, e.point);
  let armS = L / 2;
  let armE = L / 2;
  let c2: Point;
  if (armS < 5 && intersectionWidth >= 5) armS = 5;
  const c1 = { x: s.point.x + s.dir.x * armS, y: s.point.y + s.dir.y * armS };
  if (armE < 5 && intersectionWidth >= 5) {
    armE = 5;
    c2 = { x: e.point.x + e.dir.x * armE, y: e.point.y + e.dir.y * armE };
  } else {
    c2 = { x: e.point.x - e.dir.x * armE, y: e.point.y - e.dir.y * armE };
  }
  const pts: Polyline = [];
  for (let i = 0; i <= 10; i++) {
    const t = i / 10;
    const a = (1 - t) ** 3;
    const b = 3 * t * (1 - t) ** 2;
    const c = 3 * t * t * (1 - t);
    const d = t ** 3;
    pts.push({
      x: a * s.point.x + b * c1.x + c * c2.x + d * e.point.x,
      y: a * s.point.y + b * c1.y + c * c2.y + d * e.point.y,
    });
  }
  return pts;
}

/**
 * First intersection of two polylines, scanning A's segments from its start and, for each,
 * B's segments from its start. Returns arc lengths along A and B, or null.
 */
export function firstCrossing(a: Polyline, b: Polyline): { pA: number; pB: number } | null {
  let baseA = 0;
  for (let i = 1; i < a.length; i++) {
    const x1 = a[i - 1];
    const x2 = a[i];
    const dxA = x2.x - x1.x;
    const dyA = x2.y - x1.y;
    let baseB = 0;
    for (let j = 1; j < b.length; j++) {
      const y1 = b[j - 1];
      const y2 = b[j];
      const dxB = y2.x - y1.x;
      const dyB = y2.y - y1.y;
      const cross = dxA * dyB - dyA * dxB;
      if (Math.abs(cross) >= EPS) {
        const t = ((y1.x - x1.x) * dyB - (y1.y - x1.y) * dxB) / cross;
        const px = x1.x + dxA * t;
        const py = x1.y + dyA * t;
        if (onSegment(px, py, x1, x2) && onSegment(px, py, y1, y2)) {
          return {
            pA: baseA + Math.hypot(px - x1.x, py - x1.y),
            pB: baseB + Math.hypot(px - y1.x, py - y1.y),
          };
        }
      }
      baseB += Math.hypot(dxB, dyB);
    }
    baseA += Math.hypot(dxA, dyA);
  }
  return null;
}

function onSegment(px: number, py: number, s1: Point, s2: Point): boolean {
  const dot = (px - s1.x) * (px - s2.x) + (py - s1.y) * (py - s2.y);
  return dot <= EPS;
}
