/**
 * Edge controllers' health: online / central / holding / fallback counts, each controller's last
 * heartbeat and control-loop latency against the service's target (GET /api/control-health,
 * polled while open), and the RTAS placement of tasks where the service offers it.
 */
import { z } from 'zod';
import { controllerBadge } from '../ControllerMode.ts';
import { h } from '../dom.ts';
import type { NetworkPanel, PanelContext } from './PanelContext.ts';

const HealthSchema = z.object({
  slaMs: z.number(),
  controllers: z.array(
    z.object({
      id: z.string(),
      intersections: z.array(z.string()),
      online: z.boolean(),
      mode: z.string().nullable(),
      lastHeartbeatMs: z.number().nullable(),
      lastLoopLatencyMs: z.number().nullable(),
      withinSla: z.boolean().nullable(),
    }),
  ),
});
type Health = z.infer<typeof HealthSchema>;

/** RTAS placements: which compute node runs each task (shape kept loose: the route is new). */
const PlacementsSchema = z.object({ placements: z.array(z.object({ task: z.string(), node: z.string() }).loose()) }).loose();

const ROWS = 150;
const POLL_MS = 2000;

export class ControllersPanel implements NetworkPanel {
  readonly id = 'controllers';
  readonly title = 'Controllers';
  readonly element: HTMLElement;
  private readonly summary = h('div', { class: 'summary-row' }, h('span', { class: 'muted small' }, 'loading…'));
  private readonly list = h('div', {});
  /** How many controllers are registered (in the heading: six counts do not fit one row). */
  private readonly total = h('span', { class: 'muted small', 'data-stat': 'controllers', title: 'Edge controllers registered' });
  private readonly rtas = h('div', {}, h('p', { class: 'muted small' }, 'loading…'));
  private timer: number | null = null;
  private readonly idIndex = new Map<string, number>();

  constructor(private readonly ctx: PanelContext) {
    ctx.net.intersections.forEach((i, k) => this.idIndex.set(i.id, k));
    this.element = h(
      'div',
      { class: 'controllers-panel' },
      h('section', { class: 'panel-section' }, h('h4', {}, 'Fleet ', this.total), this.summary),
      h('section', { class: 'panel-section' }, h('h4', {}, 'Controllers ', h('span', { class: 'muted small' }, 'problems first · click to inspect')), this.list),
      h('section', { class: 'panel-section', 'data-section': 'rtas' }, h('h4', {}, 'RTAS placement'), this.rtas),
    );
  }

  opened(): void {
    void this.load();
    void this.loadRtas();
    this.timer = window.setInterval(() => void this.load(), POLL_MS);
  }

  closed(): void {
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
  }

  private async load(): Promise<void> {
    const r = await this.ctx.api.get('api/control-health', HealthSchema);
    if (!r.ok) {
      this.summary.replaceChildren(h('p', { class: 'na' }, `Cannot load controller health: ${r.message}`));
      return;
    }
    this.render(r.data);
  }

  private render(d: Health): void {
    const n = d.controllers.length;
    const offline = d.controllers.filter((c) => !c.online).length;
    const by = (m: string) => d.controllers.filter((c) => c.online && c.mode === m).length;
    const over = d.controllers.filter((c) => c.withinSla === false).length;
    const lat = d.controllers.map((c) => c.lastLoopLatencyMs).filter((v): v is number => v !== null).sort((a, b) => a - b);
    const p95 = lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.95))] : null;
    const stat = (label: string, value: number | string, cls: string, title: string) =>
      h('div', { class: `stat ${cls}`, 'data-stat': label, title }, h('strong', {}, String(value)), h('span', { class: 'muted small' }, label));
    this.total.replaceChildren(h('strong', {}, String(n)), ' controllers');
    this.summary.replaceChildren(
      stat('central', by('central'), 'ok', "Running the centre's plans"),
      stat('holding', by('holding'), by('holding') ? 'warn' : '', 'The centre went quiet: still running its last central plan'),
      // Not a fault: the centre has published no plan for them yet (first start, planner off).
      stat('local', by('local'), '', 'Running their local plans: the centre answers but has no plan for them yet'),
      stat('fallback', by('fallback'), by('fallback') ? 'warn' : '', 'The centre is lost: running their local fallback plans'),
      stat('offline', offline, offline ? 'bad' : '', 'No heartbeat from the controller'),
      h('p', { class: 'small', 'data-sla': d.slaMs }, `Control-loop latency target ${d.slaMs} ms: ${over} over; p95 ${p95 === null ? '–' : `${Math.round(p95)} ms`}.`),
    );
    const rank = (c: Health['controllers'][number]) => (!c.online ? 0 : c.mode === 'fallback' ? 1 : c.mode === 'holding' ? 2 : c.withinSla === false ? 3 : c.mode === 'local' ? 4 : 5);
    const sorted = [...d.controllers].sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id));
    const now = Date.now();
    const rows = sorted.slice(0, ROWS).map((c) => {
      const tr = h(
        'tr',
        { 'data-controller': c.id, class: 'clickable' },
        h('td', { class: 'mono small' }, c.id),
        h('td', {}, controllerBadge(c.online, c.mode)),
        h('td', { class: 'mono small' }, c.lastHeartbeatMs === null ? 'never' : `${Math.max(0, Math.round((now - c.lastHeartbeatMs) / 1000))} s`),
        h('td', { class: `mono small ${c.withinSla === false ? 'over' : ''}` }, c.lastLoopLatencyMs === null ? '–' : `${Math.round(c.lastLoopLatencyMs)} ms`),
      );
      tr.addEventListener('click', () => {
        const k = this.idIndex.get(c.intersections[0] ?? '');
        if (k === undefined) return;
        const i = this.ctx.net.intersections[k];
        this.ctx.flyTo(i.x, i.y);
        this.ctx.selectIntersection(k);
      });
      return tr;
    });
    this.list.replaceChildren(
      n === 0
        ? h('p', { class: 'muted small' }, 'No edge controller has registered yet.')
        : h('table', { class: 'controllers' }, h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Mode'), h('th', {}, 'Heartbeat'), h('th', {}, 'Loop'))), h('tbody', {}, ...rows)),
      ...(n > ROWS ? [h('p', { class: 'muted small' }, `${n - ROWS} more not listed (all healthy ones sort last).`)] : []),
    );
  }

  private async loadRtas(): Promise<void> {
    // The RTAS read route is newer than this panel: find it in the service's API document.
    const routes = await this.ctx.api.documentedRoutes();
    const path = [...routes].find(([p, ms]) => /rtas|placement/i.test(p) && !p.includes('{') && ms.has('GET'))?.[0];
    if (!path) {
      this.rtas.replaceChildren(h('p', { class: 'na' }, 'Not available'), h('p', { class: 'muted small' }, 'This service does not publish RTAS placements (no such route in its API document).'));
      return;
    }
    const r = await this.ctx.api.get(path.replace(/^\//, ''), PlacementsSchema);
    if (!r.ok) {
      this.rtas.replaceChildren(h('p', { class: 'na' }, 'Not available'), h('p', { class: 'muted small' }, r.status === 404 ? 'This service does not publish RTAS placements yet.' : r.message));
      return;
    }
    const byNode = new Map<string, string[]>();
    for (const p of r.data.placements) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p.task]);
    this.rtas.replaceChildren(
      h('p', { class: 'small' }, `${r.data.placements.length} tasks on ${byNode.size} nodes`),
      h('ul', { class: 'rtas' }, ...[...byNode].slice(0, 60).map(([node, tasks]) => h('li', { class: 'small' }, h('span', { class: 'mono' }, node), `: ${tasks.length} task${tasks.length === 1 ? '' : 's'} (${tasks.slice(0, 3).join(', ')}${tasks.length > 3 ? ', …' : ''})`))),
    );
  }
}
