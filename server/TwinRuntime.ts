/**
 * The running service's loop: the field (the demo city's simulation, standing in for the real
 * city) advanced in real time by a speed factor, and what is streamed from it. Each tick steps
 * the field by one Δt and runs the hooks registered by the parts that live on it (sensors posting
 * to ingest, edge controllers, the twin's estimator, controllers).
 */
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import { DrivableGeometry } from '../twin/network/DrivableGeometry.ts';
import type { Flow } from '../twin/network/importCityFlow.ts';
import { networkView, type NetworkView } from '../twin/network/NetworkView.ts';
import { Engine } from '../twin/sim/Engine.ts';
import type { SignalMode } from '../twin/sim/TrafficLights.ts';
import { TruthObserver } from '../twin/state/TrafficObservation.ts';
import { SignalSafetyMonitor } from '../signal-controllers/SafetyValidator.ts';
import type { Metrics } from './Metrics.ts';
import type { TopicSource } from './streams/StreamHub.ts';

export interface RuntimeOptions {
  name: string;
  network: RoadNetwork;
  flows: Flow[];
  /** Simulated seconds per wall second. */
  speed: number;
  seed?: number;
  signalMode?: SignalMode;
  /** Most vehicles sent on the vehicles topic. */
  maxStreamedVehicles?: number;
}

export type TickHook = (engine: Engine) => void | Promise<void>;

export interface SignalsState {
  time: number;
  /** Phase per intersection (-1 for virtual ones). */
  phases: number[];
  /** 'G' or 'R' per movement. */
  movements: string;
}

export interface LanesState {
  time: number;
  source: 'truth' | 'estimate';
  vehicles: number[];
  queue: number[];
  /** Mean speed over the speed limit, 0–1 (1 = free flow). */
  speedRatio: number[];
}

export class TwinRuntime {
  readonly engine: Engine;
  readonly view: NetworkView;
  readonly truth: TruthObserver;
  /** Checks the field's heads before every step with the shared validator. */
  readonly safety: SignalSafetyMonitor;
  private readonly geometry: DrivableGeometry;
  private readonly before: TickHook[] = [];
  private readonly hooks: TickHook[] = [];
  private readonly afterTick: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private nextDue = 0;
  private lagSeconds = 0;
  private running = false;
  private busy = false;

  constructor(
    readonly options: RuntimeOptions,
    private readonly metrics: Metrics,
  ) {
    this.engine = new Engine(options.network, options.flows, { seed: options.seed ?? 0, signalMode: options.signalMode ?? 'program' });
    this.view = networkView(options.network, options.name);
    this.truth = new TruthObserver(this.engine, 60);
    this.safety = new SignalSafetyMonitor(options.network);
    this.geometry = new DrivableGeometry(options.network);
  }

  get network(): RoadNetwork {
    return this.options.network;
  }

  get tickLagSeconds(): number {
    return this.lagSeconds;
  }

  /** Registers work to run before each field step (edge controllers setting the heads). */
  onBeforeStep(hook: TickHook): void {
    this.before.push(hook);
  }

  /** Registers work to run after each field step (in registration order). */
  onTick(hook: TickHook): void {
    this.hooks.push(hook);
  }

  /** Registers a callback after the hooks of each tick (stream publishing). */
  onAfterTick(fn: () => void): void {
    this.afterTick.push(fn);
  }

  /** Runs one tick now: a field step and every hook. */
  async tick(): Promise<void> {
    const t0 = performance.now();
    for (const h of this.before) await h(this.engine);
    const unsafeBefore = this.safety.unsafeStates;
    this.safety.check(this.engine.lights.movementGreen, this.engine.time);
    if (this.safety.unsafeStates > unsafeBefore) this.metrics.unsafeSignalStates.inc(this.safety.unsafeStates - unsafeBefore);
    this.engine.step();
    this.truth.update();
    for (const h of this.hooks) await h(this.engine);
    for (const f of this.afterTick) f();
    this.metrics.tickSeconds.observe((performance.now() - t0) / 1000);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.nextDue = performance.now();
    const periodMs = (this.engine.dt * 1000) / this.options.speed;
    const loop = async () => {
      if (!this.running) return;
      if (!this.busy) {
        this.busy = true;
        try {
          await this.tick();
        } catch (e) {
          console.error('tick failed:', e);
        } finally {
          this.busy = false;
        }
      }
      this.nextDue += periodMs;
      const now = performance.now();
      this.lagSeconds = Math.max(0, (now - this.nextDue) / 1000);
      this.metrics.tickLagSeconds.set(this.lagSeconds);
      // Far behind (a stall): skip ahead rather than run a burst of catch-up ticks.
      if (now - this.nextDue > 5000) this.nextDue = now;
      this.timer = setTimeout(loop, Math.max(0, this.nextDue - now));
    };
    this.timer = setTimeout(loop, 0);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // ---------------------------------------------------------------- stream topics

  signalsSource(): TopicSource<SignalsState> {
    return {
      snapshot: () => {
        const e = this.engine;
        const green = e.lights.movementGreen;
        let s = '';
        for (let m = 0; m < green.length; m++) s += green[m] ? 'G' : 'R';
        return { time: e.time, phases: Array.from(e.lights.phase), movements: s };
      },
      delta: (prev, next) => {
        if (!prev) return next;
        const changed: [number, string][] = [];
        for (let m = 0; m < next.movements.length; m++) if (prev.movements[m] !== next.movements[m]) changed.push([m, next.movements[m]]);
        const phases: [number, number][] = [];
        next.phases.forEach((p, i) => {
          if (prev.phases[i] !== p) phases.push([i, p]);
        });
        return { time: next.time, movements: changed, phases };
      },
    };
  }

  lanesSource(estimate?: () => LanesState | null): TopicSource<LanesState> {
    return {
      snapshot: () => {
        const est = estimate?.();
        if (est) return est;
        const o = this.truth.observe();
        const net = this.network;
        return {
          time: o.time,
          source: 'truth',
          vehicles: Array.from(o.laneVehicles),
          queue: Array.from(o.laneQueue),
          speedRatio: Array.from(o.laneSpeed, (s, l) => Math.round((s / net.lanes[l].maxSpeed) * 100) / 100),
        };
      },
    };
  }

  vehiclesSource(): TopicSource<{ time: number; count: number; id: number[]; x: number[]; y: number[]; heading: number[]; speed: number[]; cls: string[] }> {
    const max = this.options.maxStreamedVehicles ?? 5000;
    const buf = new Float64Array(3);
    return {
      snapshot: () => {
        const e = this.engine;
        const id: number[] = [];
        const x: number[] = [];
        const y: number[] = [];
        const heading: number[] = [];
        const speed: number[] = [];
        const cls: string[] = [];
        let count = 0;
        for (let d = 0; d < e.nDrv; d++) {
          e.forEachOn(d, (slot, dis, spd) => {
            count++;
            if (x.length >= max) return;
            this.geometry.locate(d, dis, buf, 0);
            id.push(e.vehicleUid(slot));
            x.push(Math.round(buf[0] * 10) / 10);
            y.push(Math.round(buf[1] * 10) / 10);
            heading.push(Math.round(buf[2] * 100) / 100);
            speed.push(Math.round(spd * 10) / 10);
            cls.push(e.vehicleClass(slot));
          });
        }
        return { time: e.time, count, id, x, y, heading, speed, cls };
      },
    };
  }
}
