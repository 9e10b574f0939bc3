/**
 * The demo's edge controllers: one per signalised intersection, wired to the simulated field's
 * signal heads. They start on their local plan (the roadnet's own program made safe by the
 * state machine) and, once connected, talk to the centre over the same HTTP API a roadside
 * controller uses (register, long-poll plans, heartbeats) and follow its plans.
 */
import type { Engine } from '../twin/sim/Engine.ts';
import { EdgeAgent } from '../signal-controllers/edge/EdgeAgent.ts';
import { EdgeController, type EdgeTiming } from '../signal-controllers/edge/EdgeController.ts';
import { safetyModels } from '../signal-controllers/fieldSignals.ts';
import { fixedTimePolicy } from '../signal-controllers/policies/fixedTime.ts';
import type { AuthService } from './auth/AuthService.ts';
import { FieldCabinets } from './FieldCabinets.ts';

interface Member {
  intersection: number;
  id: string;
  controller: EdgeController;
  agent: EdgeAgent | null;
}

export class EdgeFleet {
  private readonly members: Member[] = [];
  private readonly byIndex = new Map<number, Member>();
  /** The field's cabinets: the heads follow a live edge process, else these standby controllers. */
  readonly cabinets: FieldCabinets;

  /**
   * `timing` is in field seconds. The agents hear from the centre about once a wall second
   * (heartbeats), so at a speed factor the centre counts as lost only after a few wall seconds.
   */
  constructor(
    private readonly engine: Engine,
    speed = 1,
    timing: EdgeTiming = { lostAfter: Math.max(3, 3 * speed), holdFor: Math.max(60, 6 * speed) },
  ) {
    const net = engine.net;
    const safety = safetyModels(net);
    for (const c of fixedTimePolicy(net).controllers) {
      const inter = net.intersections[c.intersection];
      const controller = new EdgeController([{ safety: safety.get(c.intersection)!, fallback: c.plan }], engine.time, timing);
      const m = { intersection: inter.index, id: inter.id, controller, agent: null };
      this.members.push(m);
      this.byIndex.set(inter.index, m);
    }
    // An edge process silent for 1.5 wall seconds (its reports come several times a second) no longer drives its heads.
    this.cabinets = new FieldCabinets(this.members.map((m) => safety.get(m.intersection)!), engine, Math.max(2, 1.5 * speed), speed);
  }

  get agents(): EdgeAgent[] {
    return this.members.flatMap((m) => (m.agent ? [m.agent] : []));
  }

  /** The edge controller running an intersection (by id). */
  controllerOf(intersection: string): EdgeController | undefined {
    return this.members.find((m) => m.id === intersection)?.controller;
  }

  /** Connects every controller to the centre as its own edge agent with its own controller token. */
  async connect(auth: AuthService, serverUrl: string): Promise<void> {
    for (const m of this.members) {
      const token = await auth.issueToken(`edge-${m.id}`, 'controller', [m.id]);
      m.agent = new EdgeAgent({ server: serverUrl, token, id: `edge-${m.id}`, controller: m.controller, now: () => this.engine.time });
    }
    await Promise.all(this.agents.map((a) => a.start()));
  }

  /**
   * Runs every in-process edge controller to the field's time and sets the heads (before each
   * field step) through the cabinets, which give an intersection to its edge process while one
   * reports and to the in-process controller (standby) otherwise.
   */
  tick(): void {
    const now = this.engine.time;
    for (const m of this.members) m.controller.tick(now);
    this.cabinets.apply(this.standby);
  }

  private readonly standby = {
    available: (intersection: number) => this.runnerOf(intersection).available(),
    shown: (intersection: number) => this.runnerOf(intersection).shownPhase(),
  };

  private runnerOf(intersection: number) {
    const m = this.byIndex.get(intersection);
    if (!m) throw new RangeError(`no edge controller for intersection ${intersection}`);
    return m.controller.runners.get(m.id)!;
  }

  stop(): void {
    for (const a of this.agents) a.stop();
  }
}
