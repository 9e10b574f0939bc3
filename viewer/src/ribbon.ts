/**
 * A flat ribbon along a polyline: the lane surface. Three has no polyline-offset geometry, so the
 * offset is built here with mitred joins (the joins of lane polylines are gentle; the mitre is
 * capped so a sharp one cannot spike).
 */
import { BufferGeometry, Float32BufferAttribute, Vector2 } from 'three';

const dirPrev = new Vector2();
const dirNext = new Vector2();
const normal = new Vector2();
const miter = new Vector2();

/**
 * Ribbon of half-width `half` along `line` ([x0,y0,x1,y1,…]) at height z, trimmed by `trimEnd`
 * metres at its end (room for a stop bar). Indexed triangles, positions only.
 */
export function ribbonGeometry(line: readonly number[], half: number, z: number, trimEnd = 0): BufferGeometry {
  const pts: Vector2[] = [];
  for (let k = 0; k + 1 < line.length; k += 2) {
    const p = new Vector2(line[k], line[k + 1]);
    // Repeated points would give a zero-length direction.
    if (pts.length === 0 || p.distanceToSquared(pts[pts.length - 1]) > 1e-6) pts.push(p);
  }
  if (pts.length < 2) pts.push(pts[0].clone().add(new Vector2(0.01, 0)));
  if (trimEnd > 0) {
    const last = pts[pts.length - 1];
    const prev = pts[pts.length - 2];
    const len = last.distanceTo(prev);
    if (len > trimEnd + 0.5) last.lerp(prev, trimEnd / len);
  }
  const n = pts.length;
  const pos = new Float32Array(n * 2 * 3);
  for (let i = 0; i < n; i++) {
    const p = pts[i];
    if (i > 0) dirPrev.subVectors(p, pts[i - 1]).normalize();
    if (i < n - 1) dirNext.subVectors(pts[i + 1], p).normalize();
    if (i === 0) dirPrev.copy(dirNext);
    if (i === n - 1) dirNext.copy(dirPrev);
    // Left normal of the averaged direction; its length stretched so the ribbon keeps its width.
    miter.addVectors(dirPrev, dirNext).normalize();
    if (miter.lengthSq() < 1e-9) miter.copy(dirNext);
    normal.set(-miter.y, miter.x);
    const cos = Math.max(0.5, normal.dot(new Vector2(-dirNext.y, dirNext.x)));
    normal.multiplyScalar(half / cos);
    pos.set([p.x + normal.x, p.y + normal.y, z, p.x - normal.x, p.y - normal.y, z], i * 6);
  }
  const index: number[] = [];
  for (let i = 0; i < n - 1; i++) {
    const a = i * 2;
    // Counter-clockwise seen from above (+z), so the ribbon faces the camera.
    index.push(a, a + 1, a + 3, a, a + 3, a + 2);
  }
  const g = new BufferGeometry();
  g.setAttribute('position', new Float32BufferAttribute(pos, 3));
  g.setIndex(index);
  return g;
}
