/**
 * Safety and bookkeeping invariants checked step by step while a simulation runs:
 * vehicles on a lane never overlap, a vehicle that can stop never passes a red stop line,
 * and every created vehicle is finished, running or waiting to enter.
 */
import type { Engine, VehicleView } from '../../twin/sim/Engine.ts';

export interface InvariantReport {
  overlaps: string[];
  redRunners: string[];
  accounting: string[];
  steps: number;
  maxRunning: number;
}

const EPS = 1e-9;

export function stepChecked(engine: Engine, steps: number, beforeStep?: (e: Engine, s: number) => void): InvariantReport {
  const report: InvariantReport = { overlaps: [], redRunners: [], accounting: [], steps: 0, maxRunning: 0 };
  for (let s = 0; s < steps; s++) {
    beforeStep?.(engine, s);
    // Vehicles that must stop: on a lane, heading for a red link, able to stop before its start.
    const mustStop = new Map<string, number>();
    for (const v of engine.vehicleViews()) {
      if (v.drivable >= engine.nLanes || v.nextDrivable < 0) continue;
      const link = v.nextDrivable - engine.nLanes;
      const r = engine.drivableLength(v.drivable) - v.dis;
      if (!engine.linkGreen(link) && (v.speed * v.speed) / (2 * v.maxNegAcc) <= r) mustStop.set(v.id, v.drivable);
    }
    engine.step();
    report.steps++;
    const views = engine.vehicleViews();
    report.maxRunning = Math.max(report.maxRunning, views.length);
    for (const v of views) {
      const lane = mustStop.get(v.id);
      if (lane !== undefined && v.drivable !== lane) report.redRunners.push(`t=${engine.time} ${v.id} left lane ${lane} on red`);
    }
    checkOverlaps(engine, views, report);
    const m = engine.metrics();
    if (m.created !== m.finished + m.running + m.waiting)
      report.accounting.push(`t=${engine.time}: created ${m.created} ≠ finished ${m.finished} + running ${m.running} + waiting ${m.waiting}`);
  }
  return report;
}

function checkOverlaps(engine: Engine, views: VehicleView[], report: InvariantReport): void {
  const byLane = new Map<number, VehicleView[]>();
  for (const v of views) {
    if (v.drivable >= engine.nLanes) continue;
    let list = byLane.get(v.drivable);
    if (!list) byLane.set(v.drivable, (list = []));
    list.push(v);
  }
  for (const list of byLane.values()) {
    list.sort((a, b) => b.dis - a.dis);
    for (let k = 1; k < list.length; k++) {
      const front = list[k - 1];
      const back = list[k];
      const gap = front.dis - front.length - back.dis;
      if (gap < -EPS) report.overlaps.push(`t=${engine.time} ${back.id} overlaps ${front.id} by ${(-gap).toFixed(3)} m`);
    }
  }
}
