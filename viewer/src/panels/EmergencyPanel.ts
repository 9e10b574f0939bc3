/**
 * Emergency routing: pick the origin and destination on the map, ask for the fastest route with
 * signal pre-emption, and follow it live: the route and its alternatives on the map, the ETA, the
 * vehicle's position and each pre-empted signal's window and state ('emergency' topic, with a
 * poll of the route as a safety net).
 */
import { z } from 'zod';
import { h } from '../dom.ts';
import { nearestIntersection } from '../MapOverlay.ts';
import { formatSimTime } from '../SimClock.ts';
import { PreemptionSchema, type EmergencyLive, type EmergencyMessage } from '../streamSchemas.ts';
import type { NetworkPanel, PanelContext } from './PanelContext.ts';

const Ref = z.union([z.string(), z.number()]);
const RouteSchema = z.object({ roads: z.array(Ref), intersections: z.array(Ref).optional(), etaSeconds: z.number() }).loose();
const EmergencySchema = z
  .object({
    id: z.string(),
    status: z.string(),
    route: RouteSchema.nullable().optional(),
    alternatives: z.array(RouteSchema).optional(),
    preemptions: z.array(PreemptionSchema).optional(),
    etaSeconds: z.number().nullable().optional(),
    eta: z.number().nullable().optional(),
    arrivedAt: z.number().nullable().optional(),
    travelSeconds: z.number().nullable().optional(),
    position: z.object({ x: z.number(), y: z.number() }).nullable().optional(),
  })
  .loose();
type Emergency = z.infer<typeof EmergencySchema>;

const ROUTE_HEX = '#4cc9f0';
const ALT_HEX = '#7b8797';
const PREEMPT_HEX = '#20d39a';
const FINISHED = new Set(['arrived', 'done', 'completed', 'cancelled', 'failed', 'released']);

export class EmergencyPanel implements NetworkPanel {
  readonly id = 'emergency';
  readonly title = 'Emergency';
  readonly element: HTMLElement;
  private origin = -1;
  private destination = -1;
  private picking: 'origin' | 'destination' | null = null;
  private readonly originButton = h('button', { type: 'button', class: 'tool', 'data-action': 'emergency-origin' }, 'Pick origin');
  private readonly destButton = h('button', { type: 'button', class: 'tool', 'data-action': 'emergency-destination' }, 'Pick destination');
  private readonly ends = h('p', { class: 'small mono' });
  private readonly preempt = h('input', { type: 'checkbox', checked: true, 'aria-label': 'Pre-empt signals' });
  private readonly goButton = h('button', { type: 'button', class: 'primary', 'data-action': 'emergency-route', disabled: true }, 'Route');
  private readonly cancelButton = h('button', { type: 'button', class: 'tool', 'data-action': 'emergency-cancel', hidden: true }, 'Cancel');
  private readonly status = h('p', { class: 'small emergency-status', 'aria-live': 'polite' });
  private readonly live = h('div', { class: 'emergency-live' });
  private current: Emergency | null = null;
  private poll: number | null = null;
  private readonly idIndex = new Map<string, number>();
  private readonly roadIndex = new Map<string, number>();

  constructor(private readonly ctx: PanelContext) {
    ctx.net.intersections.forEach((i, k) => this.idIndex.set(i.id, k));
    ctx.net.roads.forEach((r, k) => this.roadIndex.set(r.id, k));
    this.originButton.addEventListener('click', () => this.pick('origin'));
    this.destButton.addEventListener('click', () => this.pick('destination'));
    this.goButton.addEventListener('click', () => void this.request());
    this.cancelButton.addEventListener('click', () => void this.cancel());
    this.element = h(
      'div',
      { class: 'emergency-panel' },
      h(
        'section',
        { class: 'panel-section' },
        h('h4', {}, 'Route an emergency vehicle'),
        h('div', { class: 'form-row' }, this.originButton, this.destButton),
        this.ends,
        h('div', { class: 'form-row' }, h('label', { class: 'small' }, this.preempt, ' pre-empt signals on the route')),
        h('div', { class: 'form-row' }, this.goButton, this.cancelButton),
        this.status,
      ),
      h('section', { class: 'panel-section' }, h('h4', {}, 'Live'), this.live),
    );
    this.renderEnds();
  }

  opened(): void {
    this.drawRoute();
    void this.ctx.api.hasRoute('POST', '/api/emergency/routes').then((has) => {
      this.available = has;
      if (!has) {
        this.status.dataset.state = 'unavailable';
        this.status.textContent = 'Not available: this service has no emergency routing API yet.';
      }
      this.renderEnds();
    });
  }

  private available = true;

  closed(): void {
    this.setPicking(null);
    this.ctx.overlay.clear('em-');
  }

  /** Sets an end by intersection id (keyboard users and the tests). */
  setEnd(which: 'origin' | 'destination', id: string): boolean {
    const k = this.idIndex.get(id);
    if (k === undefined) return false;
    if (which === 'origin') this.origin = k;
    else this.destination = k;
    this.renderEnds();
    return true;
  }

  private pick(which: 'origin' | 'destination'): void {
    this.setPicking(this.picking === which ? null : which);
  }

  private setPicking(which: 'origin' | 'destination' | null): void {
    this.picking = which;
    this.originButton.setAttribute('aria-pressed', String(which === 'origin'));
    this.destButton.setAttribute('aria-pressed', String(which === 'destination'));
    this.ctx.setPicker(
      which
        ? {
            hint: `Click the ${which} (nearest intersection)`,
            onPick: (p) => {
              const k = nearestIntersection(this.ctx.net, p.x, p.y);
              if (k < 0) return;
              if (which === 'origin') this.origin = k;
              else this.destination = k;
              this.renderEnds();
              this.setPicking(which === 'origin' && this.destination < 0 ? 'destination' : null);
            },
          }
        : null,
    );
  }

  private renderEnds(): void {
    const name = (k: number) => (k >= 0 ? this.ctx.net.intersections[k].id : '–');
    this.ends.textContent = `From ${name(this.origin)} to ${name(this.destination)}`;
    const at = (k: number) => (k >= 0 ? { x: this.ctx.net.intersections[k].x, y: this.ctx.net.intersections[k].y } : null);
    this.ctx.overlay.setMarker('em-origin', at(this.origin), '#20d39a', 10);
    this.ctx.overlay.setMarker('em-destination', at(this.destination), '#ff4d57', 10);
    this.goButton.disabled = !this.available || this.origin < 0 || this.destination < 0 || this.origin === this.destination;
  }

  /** The 'emergency' topic: a list of routes, or one route's live state. */
  onLive(msg: EmergencyMessage): void {
    const list: EmergencyLive[] = 'requests' in msg && Array.isArray(msg.requests) ? msg.requests : 'routes' in msg && Array.isArray(msg.routes) ? msg.routes : [msg as EmergencyLive];
    const mine = this.current ? list.find((r) => r.id === this.current!.id) : undefined;
    if (!mine || !this.current) return;
    const before = this.current.route?.roads.join();
    this.current = { ...this.current, ...mine } as Emergency;
    // A re-route: draw the new route.
    if (this.current.route?.roads.join() !== before) this.drawRoute();
    this.renderLive();
  }

  private async request(): Promise<void> {
    this.setPicking(null);
    const net = this.ctx.net;
    this.status.textContent = 'Routing…';
    const body = { origin: { intersection: net.intersections[this.origin].id }, destination: { intersection: net.intersections[this.destination].id }, preempt: this.preempt.checked };
    const r = await this.ctx.api.call('POST', 'api/emergency/routes', EmergencySchema, body);
    if (!r.ok) {
      this.status.textContent = r.status === 404 ? 'Emergency routing is not available on this server.' : `Refused: ${r.message}`;
      this.status.dataset.state = 'error';
      return;
    }
    this.current = r.data;
    this.element.dataset.route = r.data.id;
    this.status.dataset.state = r.data.status;
    this.status.textContent = `Route ${r.data.id}: ${r.data.status}`;
    this.cancelButton.hidden = false;
    this.drawRoute();
    this.renderLive();
    if (this.poll !== null) window.clearInterval(this.poll);
    this.poll = window.setInterval(() => void this.refresh(), 2000);
  }

  private async refresh(): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    const r = await this.ctx.api.get(`api/emergency/routes/${encodeURIComponent(cur.id)}`, EmergencySchema);
    if (!r.ok || this.current?.id !== cur.id) return;
    this.current = { ...cur, ...r.data };
    this.renderLive();
    if (FINISHED.has(r.data.status) && this.poll !== null) {
      window.clearInterval(this.poll);
      this.poll = null;
      this.cancelButton.hidden = true;
    }
  }

  private async cancel(): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    const r = await this.ctx.api.call('DELETE', `api/emergency/routes/${encodeURIComponent(cur.id)}`, z.unknown());
    this.status.textContent = r.ok ? 'Cancelled; pre-emptions released.' : `Cannot cancel: ${r.message}`;
    if (r.ok) void this.refresh();
  }

  private roadIndices(refs: readonly (string | number)[]): number[] {
    return refs.map((x) => (typeof x === 'number' ? x : (this.roadIndex.get(x) ?? -1))).filter((k) => k >= 0);
  }

  private drawRoute(): void {
    const cur = this.current;
    if (!cur?.route) {
      this.ctx.overlay.clear('em-route');
      this.ctx.overlay.clear('em-alt');
      return;
    }
    this.ctx.overlay.setRoads('em-alt', (cur.alternatives ?? []).flatMap((a) => this.roadIndices(a.roads)), ALT_HEX);
    this.ctx.overlay.setRoads('em-route', this.roadIndices(cur.route.roads), ROUTE_HEX);
  }

  private renderLive(): void {
    const cur = this.current;
    if (!cur) return;
    const done = FINISHED.has(cur.status);
    const eta = done ? null : (cur.etaSeconds ?? cur.route?.etaSeconds ?? null);
    const pre = cur.preemptions ?? [];
    const active = pre.filter((p) => /active|granted|green|running/i.test(p.status)).map((p) => this.idIndex.get(p.intersection)).filter((k): k is number => k !== undefined);
    this.ctx.overlay.setRings('em-preempt', active, PREEMPT_HEX);
    if (cur.position && !done) this.ctx.overlay.moveMarker('em-vehicle', cur.position, '#ff5fd2');
    else this.ctx.overlay.clear('em-vehicle');
    if (done && this.poll !== null) {
      window.clearInterval(this.poll);
      this.poll = null;
      this.cancelButton.hidden = true;
    }
    this.status.textContent = `Route ${cur.id}: ${cur.status}`;
    this.status.dataset.state = cur.status;
    this.live.replaceChildren(
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Status'),
        h('dd', { 'data-field': 'status' }, cur.status),
        h('dt', {}, 'ETA'),
        h('dd', { class: 'mono', 'data-field': 'eta' }, eta === null ? (cur.arrivedAt != null ? `arrived ${formatSimTime(cur.arrivedAt)}${cur.travelSeconds != null ? ` after ${Math.round(cur.travelSeconds)} s` : ''}` : '–') : `${Math.round(eta)} s${cur.eta != null ? ` (at ${formatSimTime(cur.eta)})` : ''}`),
        h('dt', {}, 'Route'),
        h('dd', {}, `${cur.route?.roads.length ?? 0} roads, ${cur.route?.intersections?.length ?? pre.length} signals${cur.alternatives?.length ? `, ${cur.alternatives.length} alternative(s) in grey` : ''}`),
      ),
      pre.length
        ? h(
            'table',
            { class: 'preemptions' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Signal'), h('th', {}, 'Window'), h('th', {}, 'State'))),
            h(
              'tbody',
              {},
              ...pre.map((p) =>
                h(
                  'tr',
                  { 'data-preempt': p.intersection },
                  h('td', { class: 'mono small' }, p.intersection),
                  h('td', { class: 'mono small' }, p.start !== undefined && p.end !== undefined ? `${formatSimTime(p.start)}–${formatSimTime(p.end)}` : '–'),
                  h('td', {}, h('span', { class: `badge ${/active|granted|green|running/i.test(p.status) ? 'ok' : /refused|failed/i.test(p.status) ? 'bad' : 'warn'}` }, p.status)),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted small' }, this.preempt.checked ? 'No pre-emption windows reported yet.' : 'Pre-emption off for this route.'),
    );
  }
}
