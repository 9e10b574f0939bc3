/**
 * The simulation clock as the viewer sees it: the last time the server reported, advanced between
 * messages at the observed rate (simulated seconds per wall second), so motion can be
 * extrapolated smoothly whatever SPEED the service runs at.
 */
export class SimClock {
  private lastSim = Number.NaN;
  private lastWall = 0;
  /** Simulated seconds per wall second, smoothed. */
  rate = 1;
  /** Simulated seconds between updates, smoothed (bounds extrapolation). */
  updateInterval = 1;

  /** Records a report of simulation time `sim` received at wall time `wallMs`. */
  observe(sim: number, wallMs: number): void {
    if (Number.isFinite(this.lastSim) && sim > this.lastSim) {
      const dSim = sim - this.lastSim;
      const dWall = (wallMs - this.lastWall) / 1000;
      if (dWall > 0.01) this.rate = this.rate * 0.7 + (dSim / dWall) * 0.3;
      this.updateInterval = this.updateInterval * 0.7 + dSim * 0.3;
    }
    if (!Number.isFinite(this.lastSim) || sim >= this.lastSim) {
      this.lastSim = sim;
      this.lastWall = wallMs;
    } else {
      // Time went backwards: the service restarted. Start over.
      this.lastSim = sim;
      this.lastWall = wallMs;
      this.rate = 1;
    }
  }

  get known(): boolean {
    return Number.isFinite(this.lastSim);
  }

  /** Estimated simulation time now, never more than two update intervals past the last report. */
  now(wallMs: number): number {
    if (!this.known) return Number.NaN;
    const ahead = ((wallMs - this.lastWall) / 1000) * this.rate;
    return this.lastSim + Math.min(ahead, 2 * this.updateInterval);
  }
}

/** Simulation seconds as h:mm:ss. */
export function formatSimTime(t: number): string {
  if (!Number.isFinite(t)) return '–:––:––';
  const s = Math.max(0, Math.floor(t));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}
