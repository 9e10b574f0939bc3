/**
 * Active alerts from the 'alerts' topic: faulty detectors, spill-back, controllers offline or in
 * fallback. Each links to its place: a click flies the camera there and rings it on the map.
 * The rail button shows the count even while the panel is closed.
 */
import { h } from '../dom.ts';
import { formatSimTime } from '../SimClock.ts';
import type { Alert, AlertsState } from '../streamSchemas.ts';
import type { NetworkPanel, PanelContext } from './PanelContext.ts';

const KIND_LABEL: Record<string, string> = { 'sensor-feed': 'Sensor feed down', 'sensor-fault': 'Faulty sensor', 'spill-back': 'Spill-back', 'controller-fallback': 'Controller in fallback', 'controller-offline': 'Controller offline', 'controller-no-plan': 'No central plan' };

export class AlertsPanel implements NetworkPanel {
  readonly id = 'alerts';
  readonly title = 'Alerts';
  readonly element: HTMLElement;
  private readonly list = h('ol', { class: 'alerts' });
  private readonly head = h('p', { class: 'muted small' }, 'Waiting for the alerts stream…');
  private state: AlertsState | null = null;
  private open = false;
  private readonly idIndex = new Map<string, number>();
  private readonly items = new Map<string, HTMLElement>();
  /** Told the number of active alerts (the rail badge). */
  onCount: ((n: number, critical: number) => void) | null = null;

  constructor(private readonly ctx: PanelContext) {
    ctx.net.intersections.forEach((i, k) => this.idIndex.set(i.id, k));
    this.element = h('div', { class: 'alerts-panel' }, h('section', { class: 'panel-section' }, this.head, this.list));
  }

  update(s: AlertsState): void {
    if (this.state && this.state.version === s.version) return;
    this.state = s;
    this.onCount?.(s.alerts.length, s.alerts.filter((a) => a.severity === 'critical').length);
    if (this.open) this.render();
  }

  opened(): void {
    this.open = true;
    this.render();
  }

  closed(): void {
    this.open = false;
    this.ctx.overlay.clear('alert');
  }

  private render(): void {
    const s = this.state;
    if (!s) return;
    const order = (a: Alert) => (a.severity === 'critical' ? 0 : 1);
    const alerts = [...s.alerts].sort((a, b) => order(a) - order(b) || b.since - a.since);
    this.head.textContent = alerts.length ? `${alerts.length} active · click one to go there` : 'No active alerts.';
    // Keyed by alert id: an alert that stays keeps its element, so a click or keyboard focus is
    // not lost when the stream sends a new version every tick.
    const shown = alerts.slice(0, 200);
    const keep = new Set(shown.map((a) => a.id));
    for (const [id, li] of this.items) {
      if (keep.has(id)) continue;
      li.remove();
      this.items.delete(id);
    }
    const wanted = shown.map((a) => {
      let li = this.items.get(a.id);
      if (!li) {
        li = h('li', { 'data-alert': a.id, tabindex: 0, role: 'button' });
        li.addEventListener('click', () => this.goToId(a.id));
        li.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter') this.goToId(a.id);
        });
        this.items.set(a.id, li);
      }
      const cls = `alert ${a.severity}`;
      if (li.className !== cls) li.className = cls;
      if (li.dataset.kind !== a.kind) li.dataset.kind = a.kind;
      const sig = `${a.severity}|${a.kind}|${a.since}|${a.message}`;
      if (li.dataset.sig !== sig) {
        li.dataset.sig = sig;
        li.replaceChildren(
          h('div', { class: 'alert-head' }, h('span', { class: `badge ${a.severity === 'critical' ? 'bad' : 'warn'}` }, KIND_LABEL[a.kind] ?? a.kind), h('span', { class: 'muted small mono' }, `since ${formatSimTime(a.since)}`)),
          h('div', { class: 'small' }, a.message),
        );
      }
      return li;
    });
    const current = Array.from(this.list.children);
    if (current.length !== wanted.length || current.some((el, i) => el !== wanted[i])) this.list.replaceChildren(...wanted);
  }

  private goToId(id: string): void {
    const a = this.state?.alerts.find((x) => x.id === id);
    if (a) this.goTo(a);
  }

  private goTo(a: Alert): void {
    this.ctx.flyTo(a.place.x, a.place.y);
    this.ctx.overlay.setMarker('alert-place', a.place, a.severity === 'critical' ? '#ff4d57' : '#ffc83d', 6);
    const k = a.place.intersection ? this.idIndex.get(a.place.intersection) : undefined;
    if (k !== undefined && !this.ctx.net.intersections[k].virtual) this.ctx.overlay.setRings('alert-ring', [k], '#ffc83d');
    else this.ctx.overlay.clear('alert-ring');
  }
}
