/**
 * Alerts for the operators, each tied to a place on the map: sensors the twin's fault detector
 * flagged, lanes whose queue spills back to their upstream end (the twin's estimate), and edge
 * controllers that went offline, fell back to their local plan, or have waited too long for a
 * central plan (the planner is on but publishes nothing for them). The set is recomputed from the
 * sources each time; an alert keeps the time it was first raised while it stays active.
 */
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { SensorLayout } from '../twin/sensors/SensorLayout.ts';
import type { SensorFlag } from '../twin/state/TwinContext.ts';
import type { ControllerInfo } from './ControllerRegistry.ts';

export const ALERT_KINDS = ['sensor-feed', 'sensor-fault', 'spill-back', 'controller-fallback', 'controller-offline', 'controller-no-plan'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface Alert {
  id: string;
  kind: AlertKind;
  severity: 'warning' | 'critical';
  message: string;
  /** Simulation time it was first raised (s). */
  since: number;
  /** Where to look: a point, and the intersection / lane it concerns. */
  place: { x: number; y: number; intersection?: string; lane?: string };
}

export interface AlertsState {
  time: number;
  /** Bumped whenever the set of active alerts changes (a client skips unchanged states). */
  version: number;
  alerts: Alert[];
}

export interface AlertSources {
  sensorFlags(): readonly SensorFlag[];
  laneQueue(): ArrayLike<number> | null;
  controllers(): ControllerInfo[];
  /** Seconds since the newest reading of any sensor (the feed as a whole). */
  feedSilentSeconds?(): number;
  /**
   * Simulated seconds a controller may run its local plans in `local` mode (the centre answers but
   * has no plan for it) before that is an alert; absent when no central plans are expected (the
   * central planner off: plans come from engineers, if at all).
   */
  centralPlanExpectedWithin?: number;
}

/** The whole sensor feed silent this long (s) is an alert of its own (per-sensor checks pause). */
const FEED_SILENT_AFTER = 30;

/** Space per standing vehicle (m): length plus gap, the usual jam spacing. */
const JAM_SPACING = 7.5;
/** A queue filling this share of a lane spills back; it clears below the lower share. */
const SPILL_ON = 0.85;
const SPILL_OFF = 0.6;

export class AlertMonitor {
  private active = new Map<string, Alert>();
  private version = 0;
  private time = 0;
  private readonly spilling = new Set<number>();
  /** Since when (simulated s) each controller has reported `local`. */
  private readonly localSince = new Map<string, number>();
  private readonly idIndex = new Map<string, number>();

  constructor(
    private readonly net: RoadNetwork,
    private readonly layout: SensorLayout,
    private readonly sources: AlertSources,
  ) {
    net.intersections.forEach((i) => this.idIndex.set(i.id, i.index));
  }

  /** Re-evaluates every source at simulation time `time`. */
  update(time: number): void {
    this.time = time;
    const next = new Map<string, Alert>();
    const keep = (a: Omit<Alert, 'since'>) => next.set(a.id, { ...a, since: this.active.get(a.id)?.since ?? time });

    const feedSilent = this.sources.feedSilentSeconds?.() ?? 0;
    if (feedSilent > FEED_SILENT_AFTER && this.layout.detectors.length + this.layout.cameras.length > 0) {
      const c = this.centre();
      keep({
        id: 'sensor-feed',
        kind: 'sensor-feed',
        severity: 'critical',
        message: `No sensor reading for ${Math.round(feedSilent)} s from any detector or camera: the feed is down or late (single sensors are not blamed meanwhile)`,
        place: c,
      });
    }

    for (const f of this.sources.sensorFlags()) {
      const lane = f.kind === 'loop' ? this.layout.detectors[f.index]?.lane : this.layout.cameras[f.index]?.lanes[0];
      if (lane === undefined) continue;
      keep({
        id: `sensor:${f.sensorId}`,
        kind: 'sensor-fault',
        severity: 'warning',
        message: `${f.kind === 'loop' ? 'Loop detector' : 'Camera'} ${f.sensorId}: ${f.reason} (${f.detail})`,
        place: this.lanePlace(lane, f.kind === 'loop' ? this.layout.detectors[f.index].position : undefined),
      });
    }

    const queue = this.sources.laneQueue();
    if (queue) {
      for (let l = 0; l < this.net.lanes.length; l++) {
        const capacity = this.net.lanes[l].length / JAM_SPACING;
        const share = capacity > 0 ? queue[l] / capacity : 0;
        if (share >= SPILL_ON) this.spilling.add(l);
        else if (share < SPILL_OFF) this.spilling.delete(l);
      }
      for (const l of this.spilling) {
        const lane = this.net.lanes[l];
        keep({
          id: `spill:${lane.id}`,
          kind: 'spill-back',
          severity: 'critical',
          message: `Queue on ${lane.id} reaches back to its upstream end (${Math.round(queue[l])} standing, room for ${Math.round(lane.length / JAM_SPACING)})`,
          place: this.lanePlace(l, 0),
        });
      }
    }

    const controllers = this.sources.controllers();
    const local = new Set(controllers.filter((c) => c.online && c.state?.mode === 'local').map((c) => c.id));
    for (const id of this.localSince.keys()) if (!local.has(id)) this.localSince.delete(id);
    for (const id of local) if (!this.localSince.has(id)) this.localSince.set(id, time);
    const noPlanAfter = this.sources.centralPlanExpectedWithin;
    for (const c of controllers) {
      const first = c.intersections[0];
      const k = first !== undefined ? this.idIndex.get(first) : undefined;
      if (k === undefined) continue;
      const p = this.net.intersections[k].point;
      const place = { x: p.x, y: p.y, intersection: first };
      if (!c.online) keep({ id: `controller:${c.id}`, kind: 'controller-offline', severity: 'critical', message: `Controller ${c.id} (${c.intersections.join(', ')}) is offline`, place });
      else if (c.state?.mode === 'fallback')
        keep({ id: `controller:${c.id}`, kind: 'controller-fallback', severity: 'warning', message: `Controller ${c.id} (${c.intersections.join(', ')}) runs its local fallback plan`, place });
      else if (noPlanAfter !== undefined && local.has(c.id) && time - this.localSince.get(c.id)! > noPlanAfter) {
        const minutes = Math.round((time - this.localSince.get(c.id)!) / 60);
        keep({
          id: `controller:${c.id}`,
          kind: 'controller-no-plan',
          severity: 'warning',
          message: `Controller ${c.id} (${c.intersections.join(', ')}) has had no central plan for ${minutes} min and runs its local plan: is the central planner publishing?`,
          place,
        });
      }
    }

    if (next.size !== this.active.size || [...next.keys()].some((id) => this.active.get(id)?.kind !== next.get(id)!.kind || this.active.get(id)?.message !== next.get(id)!.message)) this.version++;
    this.active = next;
  }

  state(): AlertsState {
    return { time: this.time, version: this.version, alerts: [...this.active.values()] };
  }

  /** The middle of the network (for alerts about the whole city). */
  private centre(): Alert['place'] {
    const xs = this.net.intersections.map((i) => i.point.x);
    const ys = this.net.intersections.map((i) => i.point.y);
    return { x: (Math.min(...xs) + Math.max(...xs)) / 2, y: (Math.min(...ys) + Math.max(...ys)) / 2 };
  }

  /** A point on lane l, `at` metres from its start (default: its downstream end). */
  private lanePlace(l: number, at?: number): Alert['place'] {
    const lane = this.net.lanes[l];
    const pts = lane.polyline;
    const target = at === undefined ? lane.length : Math.max(0, Math.min(at, lane.length));
    let x = pts[0].x;
    let y = pts[0].y;
    let run = 0;
    for (let k = 1; k < pts.length; k++) {
      const seg = Math.hypot(pts[k].x - pts[k - 1].x, pts[k].y - pts[k - 1].y);
      if (run + seg >= target && seg > 0) {
        const f = (target - run) / seg;
        x = pts[k - 1].x + f * (pts[k].x - pts[k - 1].x);
        y = pts[k - 1].y + f * (pts[k].y - pts[k - 1].y);
        break;
      }
      run += seg;
      x = pts[k].x;
      y = pts[k].y;
    }
    const road = this.net.roads[lane.road];
    return { x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10, intersection: this.net.intersections[road.to].id, lane: lane.id };
  }
}
