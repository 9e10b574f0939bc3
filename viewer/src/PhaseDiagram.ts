/**
 * A phase as engineers draw it: the junction seen from above, north up, with an arrow for each
 * movement the phase lets go, traced from the movement's own lane-link geometry.
 */
import type { NetworkView } from './api.ts';
import { svg } from './dom.ts';

let markerSeq = 0;

const TYPE_HEX: Record<string, string> = { turn_left: '#4cc9f0', go_straight: '#e8edf3', turn_right: '#9aa8ba' };
const OTHER_HEX = '#c8a6ff';

/** `movements` are global movement indices. */
export function phaseDiagram(net: NetworkView, intersection: number, movements: readonly number[]): SVGSVGElement {
  const i = net.intersections[intersection];
  const w = Math.max(i.width, 8);
  const half = w * 2.1;
  const seq = ++markerSeq;
  const root = svg('svg', { viewBox: `${-half} ${-half} ${half * 2} ${half * 2}`, class: 'phase-diagram', role: 'img' });
  // One arrowhead per colour (ids are document-wide, hence the sequence number).
  const defs = svg('defs');
  const markerFor = new Map<string, string>();
  for (const hex of [...Object.values(TYPE_HEX), OTHER_HEX]) {
    const id = `pd-arrow-${seq}-${hex.slice(1)}`;
    markerFor.set(hex, id);
    defs.append(svg('marker', { id, viewBox: '0 0 10 10', refX: 5, refY: 5, markerWidth: 3.2, markerHeight: 3.2, orient: 'auto' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: hex })));
  }
  root.append(defs);
  // Approach stubs and the junction box.
  root.append(svg('rect', { x: -w, y: -w, width: w * 2, height: w * 2, class: 'pd-box' }));
  for (const road of net.roads) {
    const lane = net.lanes[road.lanes[0]];
    if (!lane) continue;
    const touches = road.to === i.id || road.from === i.id;
    if (!touches) continue;
    const l = lane.line;
    const atEnd = road.to === i.id;
    const px = (atEnd ? l[l.length - 2] : l[0]) - i.x;
    const py = (atEnd ? l[l.length - 1] : l[1]) - i.y;
    const len = Math.hypot(px, py) || 1;
    root.append(svg('line', { x1: px, y1: -py, x2: (px / len) * half, y2: (-py / len) * half, class: 'pd-stub' }));
  }
  for (const m of movements) {
    const mv = net.movements[m];
    const link = mv ? net.laneLinks[mv.laneLinks[Math.floor(mv.laneLinks.length / 2)]] : undefined;
    if (!mv || !link) continue;
    const l = link.line;
    const n = l.length;
    // Extend the link back along the approach and on along the exit, so the arrow reads at a glance.
    const ext = w * 0.7;
    const d0 = Math.hypot(l[2] - l[0], l[3] - l[1]) || 1;
    const d1 = Math.hypot(l[n - 2] - l[n - 4], l[n - 1] - l[n - 3]) || 1;
    const pts: string[] = [];
    pts.push(`${l[0] - i.x - ((l[2] - l[0]) / d0) * ext},${-(l[1] - i.y - ((l[3] - l[1]) / d0) * ext)}`);
    for (let k = 0; k < n; k += 2) pts.push(`${l[k] - i.x},${-(l[k + 1] - i.y)}`);
    pts.push(`${l[n - 2] - i.x + ((l[n - 2] - l[n - 4]) / d1) * ext},${-(l[n - 1] - i.y + ((l[n - 1] - l[n - 3]) / d1) * ext)}`);
    const hex = TYPE_HEX[mv.type] ?? OTHER_HEX;
    root.append(svg('polyline', { points: pts.join(' '), class: 'pd-move', stroke: hex, 'marker-end': `url(#${markerFor.get(hex) ?? ''})` }));
  }
  return root;
}
