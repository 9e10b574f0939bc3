/**
 * Frame timing: the interval between frames (what the operator sees as smoothness) and the CPU
 * time the viewer spends per frame (updates + render calls, the headroom). Kept in fixed ring
 * buffers; the readout is refreshed twice a second and only while it is shown.
 */
import { h } from './dom.ts';

const RING = 600;

export interface FrameMeasurement {
  frames: number;
  seconds: number;
  fps: number;
  medianFrameMs: number;
  p95FrameMs: number;
  medianCpuMs: number;
  p95CpuMs: number;
}

function percentile(sorted: Float32Array, n: number, q: number): number {
  if (n === 0) return Number.NaN;
  return sorted[Math.min(n - 1, Math.floor(q * (n - 1) + 0.5))];
}

export class FrameStats {
  readonly element: HTMLElement;
  private readonly intervals = new Float32Array(RING);
  private readonly cpu = new Float32Array(RING);
  private readonly scratch = new Float32Array(RING);
  private n = 0;
  private head = 0;
  private lastFrame = Number.NaN;
  private frameStart = 0;
  private lastReadout = 0;
  private visible = false;
  frames = 0;
  private measuring: { intervals: number[]; cpu: number[]; start: number; until: number; done: (m: FrameMeasurement) => void } | null = null;
  /** Extra text for the readout (draw calls, vehicles), asked for only when it is refreshed. */
  describe: () => string = () => '';

  constructor() {
    this.element = h('div', { class: 'frame-stats', hidden: true, 'aria-label': 'Frame statistics' });
  }

  get shown(): boolean {
    return this.visible;
  }

  setVisible(on: boolean): void {
    this.visible = on;
    this.element.hidden = !on;
  }

  beginFrame(): void {
    this.frameStart = performance.now();
  }

  endFrame(t: number): void {
    const cpu = performance.now() - this.frameStart;
    this.frames++;
    if (Number.isFinite(this.lastFrame)) {
      const dt = t - this.lastFrame;
      this.intervals[this.head] = dt;
      this.cpu[this.head] = cpu;
      this.head = (this.head + 1) % RING;
      if (this.n < RING) this.n++;
      const m = this.measuring;
      if (m) {
        m.intervals.push(dt);
        m.cpu.push(cpu);
        if (t >= m.until) this.finishMeasure(t);
      }
    }
    this.lastFrame = t;
    if (this.visible && t - this.lastReadout > 500) {
      this.lastReadout = t;
      this.readout();
    }
  }

  private stats(src: Float32Array | number[], n: number): { median: number; p95: number; mean: number } {
    const s = this.scratch.length >= n ? this.scratch : new Float32Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) {
      s[k] = src[k];
      sum += src[k];
    }
    const view = s.subarray(0, n).sort();
    return { median: percentile(view, n, 0.5), p95: percentile(view, n, 0.95), mean: n ? sum / n : Number.NaN };
  }

  private readout(): void {
    const f = this.stats(this.intervals, this.n);
    const c = this.stats(this.cpu, this.n);
    const extra = this.describe();
    this.element.textContent = `${(1000 / f.mean).toFixed(0)} fps · frame ${f.median.toFixed(1)} ms (p95 ${f.p95.toFixed(1)}) · cpu ${c.median.toFixed(1)} ms${extra ? ` · ${extra}` : ''}`;
  }

  /** Measures frames over `ms` of wall time from the next frame on. */
  measure(ms: number): Promise<FrameMeasurement> {
    return new Promise((done) => {
      const start = performance.now();
      this.measuring = { intervals: [], cpu: [], start, until: start + ms, done };
    });
  }

  private finishMeasure(t: number): void {
    const m = this.measuring;
    if (!m) return;
    this.measuring = null;
    const f = this.stats(m.intervals, m.intervals.length);
    const c = this.stats(m.cpu, m.cpu.length);
    const seconds = (t - m.start) / 1000;
    m.done({ frames: m.intervals.length, seconds, fps: m.intervals.length / seconds, medianFrameMs: f.median, p95FrameMs: f.p95, medianCpuMs: c.median, p95CpuMs: c.p95 });
  }
}
