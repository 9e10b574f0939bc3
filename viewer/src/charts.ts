/**
 * Small SVG charts for the panels: a line over time with its range and latest value, and the
 * phase ring (the plan's cycle as a clock face: each phase's green, yellow and all-red arcs in
 * running order, a hand at the running phase's position and the time to change in the middle).
 */
import { h, svg } from './dom.ts';
import { SIGNAL_HEX } from './palette.ts';

export interface Series {
  time: readonly number[];
  values: readonly (number | null)[];
}

/** A line chart `width`×`height` px; gaps (null) break the line. */
export function sparkline(title: string, unit: string, s: Series, width = 300, height = 64): HTMLElement {
  const pts = s.values.map((v, k) => ({ t: s.time[k], v })).filter((p): p is { t: number; v: number } => p.v !== null && Number.isFinite(p.v));
  const last = pts.length ? pts[pts.length - 1].v : null;
  const head = h('div', { class: 'chart-head' }, h('span', {}, title), h('span', { class: 'mono' }, last === null ? '–' : `${fmt(last)} ${unit}`));
  if (pts.length < 2) return h('figure', { class: 'chart', 'data-chart': title }, head, h('p', { class: 'muted small' }, pts.length ? 'one sample so far (one a simulated minute)' : 'no samples yet (one a simulated minute)'));
  const t0 = s.time[0];
  const t1 = s.time[s.time.length - 1];
  const max = Math.max(1e-9, ...pts.map((p) => p.v));
  const pad = 4;
  const x = (t: number) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (width - 2 * pad);
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  const d = linePath(s, x, y);
  const chart = svg(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', width, height, role: 'img', 'aria-label': `${title} over the last ${Math.round((t1 - t0) / 60)} min` },
    svg('line', { x1: pad, x2: width - pad, y1: height - pad, y2: height - pad, class: 'chart-axis' }),
    svg('path', { d, class: 'chart-line' }),
  );
  return h(
    'figure',
    { class: 'chart', 'data-chart': title },
    head,
    chart,
    h('div', { class: 'chart-foot muted small' }, h('span', {}, `−${Math.round((t1 - t0) / 60)} min`), h('span', {}, `max ${fmt(max)} ${unit}`), h('span', {}, 'now')),
  );
}

/** SVG path data of a series through the scales `x` and `y`; gaps (null) lift the pen. */
function linePath(s: Series, x: (t: number) => number, y: (v: number) => number): string {
  let d = '';
  let pen = false;
  s.values.forEach((v, k) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(s.time[k]).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

export interface NamedSeries {
  name: string;
  /** CSS class of the line (its colour and dash). */
  cls: string;
  series: Series;
}

/**
 * Several series on one time axis and one scale (e.g. a speed and its forecasts), each named in
 * a key under the chart. The scale spans the values shown, not 0 to the top, so that the
 * differences between the lines can be read. `now` (same unit as the times) marks the present;
 * forecasts reach past it.
 */
export function multiLineChart(title: string, unit: string, lines: readonly NamedSeries[], now: number, width = 300, height = 96): HTMLElement {
  const times = lines.flatMap((l) => l.series.time.filter((_, k) => l.series.values[k] !== null));
  const values = lines.flatMap((l) => l.series.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const head = h('div', { class: 'chart-head' }, h('span', {}, title));
  if (times.length < 2) return h('figure', { class: 'chart', 'data-chart': title }, head, h('p', { class: 'muted small' }, 'not enough stored rows yet (one every 5 simulated minutes)'));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, now);
  const min = Math.min(...values);
  const max = Math.max(min + 1e-9, ...values);
  const pad = 4;
  const x = (t: number) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (width - 2 * pad);
  const y = (v: number) => height - pad - ((v - min) / (max - min)) * (height - 2 * pad);
  const chart = svg(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', width, height, role: 'img', 'aria-label': `${title}: ${lines.map((l) => l.name).join(', ')}` },
    svg('line', { x1: pad, x2: width - pad, y1: height - pad, y2: height - pad, class: 'chart-axis' }),
    svg('line', { x1: x(now), x2: x(now), y1: pad, y2: height - pad, class: 'chart-now' }),
    ...lines.map((l) => svg('path', { d: linePath(l.series, x, y), class: `chart-line ${l.cls}`, 'data-series': l.name })),
  );
  return h(
    'figure',
    { class: 'chart', 'data-chart': title },
    head,
    chart,
    h('div', { class: 'chart-foot muted small' }, h('span', {}, `−${Math.round((now - t0) / 60)} min`), h('span', {}, `${fmt(min)}–${fmt(max)} ${unit}`), h('span', {}, `+${Math.round((t1 - now) / 60)} min`)),
    h('div', { class: 'chart-key small' }, ...lines.map((l) => h('span', { class: `key ${l.cls}` }, l.name))),
  );
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export interface RingPhase {
  /** Roadnet phase id the plan phase shows. */
  id: number;
  green: number;
  yellow: number;
  allRed: number;
}

/**
 * The ring: `phases` in running order; `current` the running roadnet phase (or -1), `elapsed`
 * seconds since it began (its green start). Returns the SVG and the time to change shown.
 */
export function phaseRing(phases: readonly RingPhase[], cycle: number, current: number, elapsed: number): { element: SVGSVGElement; timeToChange: number | null } {
  const R = 46;
  const r = 34;
  const root = svg('svg', { viewBox: '-60 -60 120 120', class: 'phase-ring', role: 'img' });
  const total = Math.max(cycle, phases.reduce((s, p) => s + p.green + p.yellow + p.allRed, 0));
  let at = 0;
  let hand: number | null = null;
  let ttc: number | null = null;
  const arc = (from: number, len: number, hex: string, cls: string) => {
    if (len <= 0) return;
    const a0 = (from / total) * 2 * Math.PI - Math.PI / 2;
    const a1 = ((from + len) / total) * 2 * Math.PI - Math.PI / 2;
    const large = a1 - a0 > Math.PI ? 1 : 0;
    const p = (rad: number, a: number) => `${(rad * Math.cos(a)).toFixed(2)},${(rad * Math.sin(a)).toFixed(2)}`;
    root.append(svg('path', { d: `M${p(R, a0)} A${R},${R} 0 ${large} 1 ${p(R, a1)} L${p(r, a1)} A${r},${r} 0 ${large} 0 ${p(r, a0)} Z`, fill: hex, class: cls }));
  };
  phases.forEach((ph, k) => {
    const running = ph.id === current;
    arc(at, ph.green, SIGNAL_HEX[1], running ? 'ring-green running' : 'ring-green');
    arc(at + ph.green, ph.yellow, SIGNAL_HEX[2], 'ring-yellow');
    arc(at + ph.green + ph.yellow, ph.allRed, SIGNAL_HEX[0], 'ring-red');
    const mid = ((at + ph.green / 2) / total) * 2 * Math.PI - Math.PI / 2;
    root.append(svg('text', { x: (56 * Math.cos(mid)).toFixed(1), y: (56 * Math.sin(mid) + 2).toFixed(1), class: 'ring-label', 'text-anchor': 'middle' }));
    (root.lastChild as SVGTextElement).textContent = `P${ph.id}`;
    if (running && Number.isFinite(elapsed)) {
      const e = Math.max(0, Math.min(elapsed, ph.green + ph.yellow + ph.allRed));
      hand = at + e;
      ttc = Math.max(0, ph.green - elapsed);
    }
    at += ph.green + ph.yellow + ph.allRed;
    void k;
  });
  if (hand !== null) {
    const a = (hand / total) * 2 * Math.PI - Math.PI / 2;
    root.append(svg('line', { x1: 0, y1: 0, x2: (R * Math.cos(a)).toFixed(2), y2: (R * Math.sin(a)).toFixed(2), class: 'ring-hand' }));
  }
  const label = svg('text', { x: 0, y: 4, class: 'ring-centre', 'text-anchor': 'middle' });
  label.textContent = ttc === null ? `${Math.round(cycle)} s` : `${Math.ceil(ttc)} s`;
  root.append(label);
  return { element: root, timeToChange: ttc };
}
