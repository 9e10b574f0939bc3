/**
 * The intersection panel: id, running phase and how long it has run, each movement's live signal
 * state, the current timing plan with its phase ring (time to change), the controller's last
 * report, the approaches' detector readings, queue and delay over the last hour, and the phase
 * list drawn as phase diagrams. Plan, controller and readings come from
 * GET /api/intersections/{id} (polled while the panel is open), the charts from its /history.
 */
import type { NetworkView } from './api.ts';
import { controllerBadge } from './ControllerMode.ts';
import { h } from './dom.ts';
import { boundOf, turnArrow, turnWord } from './movementNames.ts';
import { phaseDiagram } from './PhaseDiagram.ts';
import { SIGNAL_NAMES, type SignalState } from './SignalState.ts';
import { formatSimTime } from './SimClock.ts';
import { phaseRing, sparkline } from './charts.ts';
import type { ApiClient } from './http.ts';
import { z } from 'zod';

const PhaseSchema = z.object({ id: z.number(), movements: z.array(z.number()), minGreen: z.number(), maxGreen: z.number(), green: z.number(), yellow: z.number(), allRed: z.number() });
const Fault = z.object({ reason: z.string(), detail: z.string(), since: z.number() }).nullable();
export const IntersectionDetailSchema = z.object({
  id: z.string(),
  time: z.number(),
  plan: z
    .object({ version: z.number(), publishedAt: z.string(), createdBy: z.string(), control: z.string(), cycle: z.number(), offset: z.number(), sequence: z.array(z.number()), phases: z.array(PhaseSchema) })
    .nullable(),
  controller: z
    .object({
      id: z.string(),
      online: z.boolean(),
      mode: z.string().nullable(),
      lastHeartbeatMs: z.number().nullable(),
      lastLoopLatencyMs: z.number().nullable(),
      phase: z.number().nullable(),
      interval: z.string().nullable(),
      timeToChange: z.number().nullable(),
      planVersion: z.number().nullable(),
    })
    .nullable(),
  detectors: z.array(z.object({ id: z.string(), kind: z.string(), lane: z.string(), road: z.string(), count: z.number().nullable(), window: z.number(), occupancy: z.number(), age: z.number().nullable(), trusted: z.boolean(), fault: Fault })),
  cameras: z.array(z.object({ id: z.string(), road: z.string(), lanes: z.array(z.object({ lane: z.string(), inView: z.number(), queue: z.number() })), age: z.number().nullable(), trusted: z.boolean(), fault: Fault })),
});
export type IntersectionDetail = z.infer<typeof IntersectionDetailSchema>;
export const IntersectionHistorySchema = z.object({ id: z.string(), every: z.number(), time: z.array(z.number()), queue: z.array(z.number()), delay: z.array(z.number().nullable()) });

const DETAIL_EVERY_MS = 2000;
const HISTORY_EVERY_MS = 15_000;

export class IntersectionPanel {
  readonly element: HTMLElement;
  private index = -1;
  private readonly body: HTMLElement;
  private phaseText: HTMLElement | null = null;
  private sinceText: HTMLElement | null = null;
  private movementDots = new Map<number, HTMLElement>();
  private phaseCards: HTMLElement[] = [];
  private timer: number | null = null;
  private planBox: HTMLElement | null = null;
  private ringBox: HTMLElement | null = null;
  private controllerBox: HTMLElement | null = null;
  private detectorBox: HTMLElement | null = null;
  private chartBox: HTMLElement | null = null;
  private detail: IntersectionDetail | null = null;
  private detailAt = 0;
  private historyAt = 0;
  private loading = false;
  /** Bumped on every show(): answers for a previous intersection are dropped. */
  private generation = 0;
  onClose: (() => void) | null = null;

  constructor(
    private readonly net: NetworkView,
    private readonly signals: SignalState,
    private readonly simNow: () => number,
    private readonly api: ApiClient,
  ) {
    this.body = h('div', { class: 'panel-body' });
    const close = h('button', { class: 'icon-button', type: 'button', title: 'Close (Esc)', 'aria-label': 'Close intersection panel' }, '✕');
    close.addEventListener('click', () => this.onClose?.());
    this.element = h('aside', { class: 'intersection-panel panel', hidden: true, 'aria-label': 'Intersection' }, close, this.body);
    signals.onChange((movements, intersections) => this.onSignals(movements, intersections));
  }

  get shown(): number {
    return this.index;
  }

  show(index: number): void {
    this.index = index;
    this.generation++;
    this.detail = null;
    this.detailAt = 0;
    this.historyAt = 0;
    this.render();
    this.element.hidden = false;
    if (this.timer === null) this.timer = window.setInterval(() => this.tick(), 500);
  }

  hide(): void {
    this.index = -1;
    this.element.hidden = true;
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
  }

  private render(): void {
    const net = this.net;
    const i = net.intersections[this.index];
    this.movementDots.clear();
    this.phaseText = h('span', { class: 'phase-now' });
    this.sinceText = h('span', { class: 'muted' });

    const rows = i.movements.map((m) => {
      const mv = net.movements[m];
      const dot = h('span', { class: 'sig-dot' });
      this.movementDots.set(m, dot);
      return h(
        'tr',
        { 'data-movement': m },
        h('td', {}, dot),
        h('td', { class: 'mono' }, boundOf(net, mv.fromRoad)),
        h('td', {}, h('span', { class: 'turn' }, turnArrow(mv.type)), ' ', turnWord(mv.type)),
        h('td', { class: 'mono muted small', title: `${mv.id}: ${net.roads[mv.fromRoad]?.id ?? '?'} → ${net.roads[mv.toRoad]?.id ?? '?'}` }, `→ ${net.roads[mv.toRoad]?.id ?? '?'}`),
      );
    });

    // Phases list movements by their local index (position in the intersection's roadLinks).
    this.phaseCards = i.phases.map((local, p) => {
      const movs = local.map((k) => i.movements[k]).filter((m): m is number => m !== undefined);
      const summary = movs
        .map((m) => net.movements[m])
        .filter((mv) => mv !== undefined && mv.type !== 'turn_right')
        .map((mv) => `${boundOf(net, mv.fromRoad)} ${turnWord(mv.type)}`);
      return h(
        'figure',
        { class: 'phase-card', 'data-phase': p, title: movs.map((m) => net.movements[m]?.id ?? m).join(', ') },
        phaseDiagram(net, this.index, movs),
        h('figcaption', {}, h('strong', {}, `Phase ${p}`), h('span', { class: 'muted small' }, summary.length ? summary.join(' · ') : 'right turns only')),
      );
    });

    this.body.replaceChildren(
      h('header', { class: 'panel-header' }, h('div', { class: 'eyebrow' }, 'Intersection'), h('h2', { class: 'mono' }, i.id)),
      h('section', { class: 'panel-section now' }, h('div', {}, 'Running ', this.phaseText), this.sinceText),
      h('section', { class: 'panel-section' }, h('h4', {}, 'Movements ', h('span', { class: 'muted small' }, 'live')), h('table', { class: 'movements' }, h('tbody', {}, ...rows))),
      h('section', { class: 'panel-section' }, h('h4', {}, `Phases (${i.phases.length})`), h('div', { class: 'phase-grid' }, ...this.phaseCards)),
    );
    this.body.insertBefore(this.liveSections(), this.body.children[3] ?? null);
    this.updateSignals();
    this.tick();
  }

  private onSignals(movements: readonly number[], intersections: readonly number[]): void {
    if (this.index < 0) return;
    const mine = this.net.intersections[this.index].movements;
    if (intersections.includes(this.index) || movements.some((m) => mine.includes(m))) this.updateSignals();
  }

  private updateSignals(): void {
    for (const [m, dot] of this.movementDots) {
      const name = SIGNAL_NAMES[this.signals.movement[m]] ?? 'unknown';
      if (dot.dataset.state !== name) {
        dot.dataset.state = name;
        dot.title = name;
      }
    }
    const phase = this.signals.phase[this.index];
    if (this.phaseText) this.phaseText.textContent = phase >= 0 ? `phase ${phase}` : 'phase unknown';
    this.phaseCards.forEach((card, p) => card.classList.toggle('current', p === phase));
  }

  private liveSections(): DocumentFragment {
    const f = document.createDocumentFragment();
    this.ringBox = h('div', { class: 'ring-box' });
    this.planBox = h('div', { class: 'plan-box' }, h('p', { class: 'muted small' }, 'loading…'));
    this.controllerBox = h('div', {}, h('p', { class: 'muted small' }, 'loading…'));
    this.detectorBox = h('div', {}, h('p', { class: 'muted small' }, 'loading…'));
    this.chartBox = h('div', { class: 'charts' }, h('p', { class: 'muted small' }, 'loading…'));
    f.append(
      h('section', { class: 'panel-section', 'data-section': 'plan' }, h('h4', {}, 'Timing plan'), h('div', { class: 'plan-row' }, this.ringBox, this.planBox)),
      h('section', { class: 'panel-section', 'data-section': 'controller' }, h('h4', {}, 'Controller'), this.controllerBox),
      h('section', { class: 'panel-section', 'data-section': 'detectors' }, h('h4', {}, 'Detectors ', h('span', { class: 'muted small' }, 'approaches, last minute')), this.detectorBox),
      h('section', { class: 'panel-section', 'data-section': 'kpis' }, h('h4', {}, 'Last hour ', h('span', { class: 'muted small' }, "twin's estimate")), this.chartBox),
    );
    return f;
  }

  private async refresh(): Promise<void> {
    if (this.index < 0 || this.loading) return;
    const now = performance.now();
    const id = this.net.intersections[this.index].id;
    const gen = this.generation;
    const wantDetail = now - this.detailAt >= DETAIL_EVERY_MS;
    const wantHistory = now - this.historyAt >= HISTORY_EVERY_MS;
    if (!wantDetail && !wantHistory) return;
    this.loading = true;
    try {
      const path = `api/intersections/${encodeURIComponent(id)}`;
      if (wantDetail) {
        this.detailAt = now;
        const r = await this.api.get(path, IntersectionDetailSchema);
        if (gen !== this.generation) return;
        if (r.ok) {
          this.detail = r.data;
          this.renderDetail(r.data);
        } else this.planBox?.replaceChildren(h('p', { class: 'na' }, `Cannot load: ${r.message}`));
      }
      if (wantHistory) {
        this.historyAt = now;
        const r = await this.api.get(`${path}/history?minutes=60`, IntersectionHistorySchema);
        if (gen !== this.generation) return;
        if (r.ok) this.chartBox?.replaceChildren(sparkline('Queue', 'veh', { time: r.data.time, values: r.data.queue }), sparkline('Delay', 's/veh', { time: r.data.time, values: r.data.delay }));
        else this.chartBox?.replaceChildren(h('p', { class: 'na' }, `Cannot load: ${r.message}`));
      }
    } finally {
      this.loading = false;
    }
  }

  private renderDetail(d: IntersectionDetail): void {
    const p = d.plan;
    this.planBox?.replaceChildren(
      ...(p
        ? [
            h('div', { class: 'plan-head' }, h('strong', { 'data-plan-version': p.version }, `Version ${p.version}`), h('span', { class: 'muted small' }, ` ${p.control} · by ${p.createdBy}`)),
            h('div', { class: 'mono small' }, `cycle ${round1(p.cycle)} s · offset ${round1(p.offset)} s`),
            h(
              'table',
              { class: 'plan-phases' },
              h('thead', {}, h('tr', {}, h('th', {}, 'Phase'), h('th', {}, 'Green'), h('th', {}, 'Y'), h('th', {}, 'AR'), h('th', {}, 'Min–max'))),
              h('tbody', {}, ...p.sequence.map((k) => p.phases[k]).filter((ph) => ph !== undefined).map((ph) => h('tr', { 'data-phase-id': ph.id }, h('td', {}, `P${ph.id}`), h('td', { class: 'mono' }, `${round1(ph.green)} s`), h('td', { class: 'mono' }, round1(ph.yellow)), h('td', { class: 'mono' }, round1(ph.allRed)), h('td', { class: 'mono muted' }, `${round1(ph.minGreen)}–${round1(ph.maxGreen)}`)))),
            ),
          ]
        : [h('p', { class: 'na' }, 'No central plan yet'), h('p', { class: 'muted small' }, 'The edge controller runs its local plan until the centre publishes one.')]),
    );
    const c = d.controller;
    const age = c?.lastHeartbeatMs ? Math.max(0, Math.round((Date.now() - c.lastHeartbeatMs) / 1000)) : null;
    this.controllerBox?.replaceChildren(
      c
        ? h(
            'dl',
            { class: 'facts' },
            h('dt', {}, 'Id'),
            h('dd', { class: 'mono' }, c.id),
            h('dt', {}, 'State'),
            h('dd', {}, controllerBadge(c.online, c.mode)),
            h('dt', {}, 'Heartbeat'),
            h('dd', {}, age === null ? 'never' : `${age} s ago`),
            h('dt', {}, 'Loop latency'),
            h('dd', { class: 'mono' }, c.lastLoopLatencyMs === null ? '–' : `${Math.round(c.lastLoopLatencyMs)} ms`),
            h('dt', {}, 'Reported'),
            h('dd', {}, c.phase === null ? '–' : `P${c.phase} ${c.interval ?? ''}, ${c.timeToChange === null ? '?' : round1(c.timeToChange)} s to change, plan v${c.planVersion ?? '–'}`),
          )
        : h('p', { class: 'muted small' }, 'No edge controller has registered for this intersection.'),
    );
    const rows = d.detectors.map((x) =>
      h(
        'tr',
        { 'data-detector': x.id, class: x.fault ? 'faulty' : '' },
        h('td', { class: 'mono small', title: x.id }, x.lane),
        h('td', {}, x.kind),
        h('td', { class: 'mono' }, x.count === null ? '–' : String(Math.round(x.count))),
        h('td', { class: 'mono' }, `${Math.round(x.occupancy * 100)}%`),
        h('td', { class: 'mono muted' }, x.age === null ? 'never' : `${x.age} s`),
        h('td', {}, x.fault ? h('span', { class: 'badge bad', title: x.fault.detail }, x.fault.reason) : x.trusted ? h('span', { class: 'badge ok' }, 'ok') : h('span', { class: 'badge warn' }, 'distrusted')),
      ),
    );
    const cams = d.cameras.map((cam) => h('li', { class: 'small' }, h('span', { class: 'mono' }, cam.road), `: ${cam.lanes.reduce((s, l) => s + l.queue, 0)} queued, ${cam.lanes.reduce((s, l) => s + l.inView, 0)} in view`, cam.fault ? h('span', { class: 'badge bad' }, cam.fault.reason) : null));
    this.detectorBox?.replaceChildren(
      d.detectors.length
        ? h('table', { class: 'detectors' }, h('thead', {}, h('tr', {}, h('th', {}, 'Lane'), h('th', {}, 'Loop'), h('th', {}, 'Count'), h('th', {}, 'Occ'), h('th', {}, 'Age'), h('th', {}, ''))), h('tbody', {}, ...rows))
        : h('p', { class: 'muted small' }, 'No loop detectors on these approaches.'),
      ...(cams.length ? [h('ul', { class: 'cameras' }, ...cams)] : []),
    );
    this.drawRing();
  }

  private drawRing(): void {
    const p = this.detail?.plan;
    if (!this.ringBox) return;
    if (!p) {
      this.ringBox.replaceChildren();
      return;
    }
    const phase = this.signals.phase[this.index];
    const since = this.signals.phaseSince[this.index];
    const now = this.simNow();
    const ring = phaseRing(
      p.sequence.map((k) => p.phases[k]).filter((x) => x !== undefined),
      p.cycle,
      phase,
      Number.isFinite(since) && Number.isFinite(now) ? now - since : Number.NaN,
    );
    this.ringBox.replaceChildren(ring.element, h('div', { class: 'small muted ttc' }, ring.timeToChange === null ? 'running phase not in this plan' : `${Math.ceil(ring.timeToChange)} s to change`));
  }

  private tick(): void {
    void this.refresh();
    this.drawRing();
    if (this.index < 0 || !this.sinceText) return;
    const since = this.signals.phaseSince[this.index];
    const now = this.simNow();
    this.sinceText.textContent = Number.isFinite(since) && Number.isFinite(now) ? `for ${Math.max(0, Math.round(now - since))} s (since ${formatSimTime(since)})` : 'start time not seen yet';
  }
}

function round1(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
