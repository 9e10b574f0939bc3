/**
 * The intersection panel: id, running phase and how long it has run, each movement's live signal
 * state, and the phase list drawn as phase diagrams. The plan, detector, KPI and controller
 * sections are placeholders until the server streams that data; they say so instead of
 * showing invented numbers.
 */
import type { NetworkView } from './api.ts';
import { h } from './dom.ts';
import { boundOf, turnArrow, turnWord } from './movementNames.ts';
import { phaseDiagram } from './PhaseDiagram.ts';
import { SIGNAL_NAMES, type SignalState } from './SignalState.ts';
import { formatSimTime } from './SimClock.ts';

/** Sections later issues fill; each names what the server has to provide first. */
export const INTERSECTION_PLACEHOLDERS: readonly { id: string; title: string; needs: string }[] = [
  { id: 'plan', title: 'Timing plan', needs: 'needs the active timing plan per intersection (cycle, splits, offset) from the server' },
  { id: 'detectors', title: 'Detectors', needs: 'needs loop-detector and camera readings per approach (a detectors topic)' },
  { id: 'kpis', title: 'KPIs over time', needs: 'needs per-intersection delay, queue and throughput history' },
  { id: 'controller', title: 'Controller', needs: 'needs controller health and RTAS placement (the controllers topic)' },
];

export function placeholderSection(id: string, title: string, needs: string): HTMLElement {
  return h('section', { class: 'panel-section placeholder', 'data-placeholder': id }, h('h4', {}, title), h('p', { class: 'na' }, 'Not available yet'), h('p', { class: 'muted small' }, needs));
}

export class IntersectionPanel {
  readonly element: HTMLElement;
  private index = -1;
  private readonly body: HTMLElement;
  private phaseText: HTMLElement | null = null;
  private sinceText: HTMLElement | null = null;
  private movementDots = new Map<number, HTMLElement>();
  private phaseCards: HTMLElement[] = [];
  private timer: number | null = null;
  onClose: (() => void) | null = null;

  constructor(
    private readonly net: NetworkView,
    private readonly signals: SignalState,
    private readonly simNow: () => number,
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
      ...INTERSECTION_PLACEHOLDERS.map((p) => placeholderSection(p.id, p.title, p.needs)),
    );
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

  private tick(): void {
    if (this.index < 0 || !this.sinceText) return;
    const since = this.signals.phaseSince[this.index];
    const now = this.simNow();
    this.sinceText.textContent = Number.isFinite(since) && Number.isFinite(now) ? `for ${Math.max(0, Math.round(now - since))} s (since ${formatSimTime(since)})` : 'start time not seen yet';
  }
}
