/**
 * What-if runs: pick roads on the map to close, choose the horizon, run it against the unchanged
 * baseline from the twin's current estimate, follow the progress (the 'whatif' topic, with a poll
 * as a safety net), compare the KPIs side by side, and replay the scenario's vehicles on the map.
 */
import { z } from 'zod';
import { h } from '../dom.ts';
import type { WhatIfSummary } from '../streamSchemas.ts';
import type { NetworkPanel, PanelContext } from './PanelContext.ts';
import { RoadPickButton } from './RoadPickButton.ts';

const NullableStat = z.object({ mean: z.number().nullable() }).loose();
const Comparison = z.object({ baseline: NullableStat, scenario: NullableStat, difference: NullableStat });
const RunSchema = z
  .object({
    id: z.string(),
    status: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
    progress: z.number(),
    name: z.string().nullable().optional(),
    result: z.object({ horizon: z.number(), kpis: z.record(z.string(), Comparison), realTimeFactor: z.number().optional(), wallSeconds: z.number().optional() }).loose().nullable().optional(),
    error: z.string().nullable().optional(),
    hasReplay: z.boolean().optional(),
  })
  .loose();
type Run = z.infer<typeof RunSchema>;
const AcceptedSchema = z.object({ id: z.string(), status: z.string() });
const ReplaySchema = z.object({ stepSeconds: z.number(), everySteps: z.number(), frames: z.array(z.object({ time: z.number(), ids: z.array(z.number()), poses: z.array(z.number()) })) });
export type ReplayData = z.infer<typeof ReplaySchema>;

/** KPI names, units, and whether lower is better. */
const KPIS: { key: string; label: string; unit: string; lowerIsBetter: boolean }[] = [
  { key: 'att', label: 'Average travel time', unit: 's', lowerIsBetter: true },
  { key: 'tripDelay', label: 'Delay per trip', unit: 's', lowerIsBetter: true },
  { key: 'stoppedDelay', label: 'Stopped delay', unit: 'veh·s', lowerIsBetter: true },
  { key: 'throughput', label: 'Throughput', unit: 'veh', lowerIsBetter: false },
  { key: 'stopsPerVehicle', label: 'Stops per vehicle', unit: '', lowerIsBetter: true },
  { key: 'reroutedVehicles', label: 'Rerouted', unit: 'veh', lowerIsBetter: true },
  { key: 'strandedVehicles', label: 'Stranded', unit: 'veh', lowerIsBetter: true },
  { key: 'droppedTrips', label: 'Dropped trips', unit: '', lowerIsBetter: true },
];

const TERMINAL = new Set(['done', 'failed', 'cancelled']);
const CLOSURE_HEX = '#c8a6ff';

export interface ReplayHost {
  /** Shows a replay frame's vehicles instead of the live ones (null: back to live). */
  showReplayFrame(frame: { time: number; ids: number[]; poses: number[] } | null): void;
}

export class WhatIfPanel implements NetworkPanel {
  readonly id = 'whatif';
  readonly title = 'What-if';
  readonly element: HTMLElement;
  private readonly roads = new Set<number>();
  private readonly pick: RoadPickButton;
  private readonly roadList = h('ul', { class: 'chips' });
  private readonly name = h('input', { type: 'text', value: 'Road closure', 'aria-label': 'Scenario name', class: 'text-input' });
  private readonly horizon = h('select', { 'aria-label': 'Horizon', class: 'text-input' }, ...[5, 10, 15, 30, 60].map((m) => h('option', { value: m * 60, selected: m === 10 }, `${m} min`)));
  private readonly runButton = h('button', { type: 'button', class: 'primary', 'data-action': 'whatif-run', disabled: true }, 'Run');
  private readonly cancelButton = h('button', { type: 'button', class: 'tool', 'data-action': 'whatif-cancel', hidden: true }, 'Cancel');
  private readonly bar = h('div', { class: 'progress-fill' });
  private readonly progress = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, hidden: true }, this.bar);
  private readonly status = h('p', { class: 'small whatif-status', 'aria-live': 'polite' });
  private readonly results = h('div', { class: 'whatif-results' });
  private readonly history = h('ul', { class: 'runs' });
  private current: string | null = null;
  private poll: number | null = null;
  private replayTimer: number | null = null;
  private runs: WhatIfSummary[] = [];

  constructor(
    private readonly ctx: PanelContext,
    private readonly host: ReplayHost,
  ) {
    this.pick = new RoadPickButton(ctx, {
      action: 'whatif-pick',
      idle: 'Pick roads to close',
      active: 'Done picking',
      hint: 'Click roads to close them (click again to reopen)',
      onRoad: (r) => {
        if (this.roads.has(r)) this.roads.delete(r);
        else this.roads.add(r);
        this.renderRoads();
      },
    });
    this.runButton.addEventListener('click', () => void this.run());
    this.cancelButton.addEventListener('click', () => void this.cancel());
    this.element = h(
      'div',
      { class: 'whatif-panel' },
      h(
        'section',
        { class: 'panel-section' },
        h('h4', {}, 'Scenario'),
        h('p', { class: 'muted small' }, "Closes the picked roads from the twin's current state and runs it against the unchanged baseline."),
        h('div', { class: 'form-row' }, h('label', {}, 'Name ', this.name)),
        h('div', { class: 'form-row' }, h('label', {}, 'Horizon ', this.horizon)),
        h('div', { class: 'form-row' }, this.pick.element),
        this.roadList,
        h('div', { class: 'form-row' }, this.runButton, this.cancelButton),
        this.progress,
        this.status,
      ),
      h('section', { class: 'panel-section' }, h('h4', {}, 'Result ', h('span', { class: 'muted small' }, 'baseline vs scenario')), this.results),
      h('section', { class: 'panel-section' }, h('h4', {}, 'Recent runs'), this.history),
    );
    this.renderRoads();
  }

  opened(): void {
    this.ctx.overlay.setRoads('whatif-closures', [...this.roads], CLOSURE_HEX);
  }

  closed(): void {
    this.pick.set(false);
    this.stopReplay();
    this.ctx.overlay.clear('whatif');
  }

  /** The 'whatif' topic: the list of runs, then one summary per change. */
  onRuns(runs: WhatIfSummary[]): void {
    this.runs = runs;
    this.renderHistory();
  }

  onRunEvent(s: WhatIfSummary): void {
    const k = this.runs.findIndex((r) => r.id === s.id);
    if (k >= 0) this.runs[k] = s;
    else this.runs.unshift(s);
    this.renderHistory();
    if (s.id === this.current) {
      // A finished run is shown as finished only once its result is on screen (load does both).
      if (TERMINAL.has(s.status)) void this.load(s.id);
      else this.showProgress(s.status, s.progress);
    }
  }


  /** Adds a road by id (the tests' and keyboard users' way in). */
  toggleRoad(id: string): boolean {
    const r = this.ctx.net.roads.findIndex((x) => x.id === id);
    if (r < 0) return false;
    if (this.roads.has(r)) this.roads.delete(r);
    else this.roads.add(r);
    this.renderRoads();
    return true;
  }

  private renderRoads(): void {
    this.ctx.overlay.setRoads('whatif-closures', [...this.roads], CLOSURE_HEX);
    this.roadList.replaceChildren(
      ...[...this.roads].map((r) => {
        const x = h('button', { type: 'button', class: 'chip-x', 'aria-label': `Reopen ${this.ctx.net.roads[r].id}` }, '×');
        x.addEventListener('click', () => {
          this.roads.delete(r);
          this.renderRoads();
        });
        return h('li', { class: 'chip', 'data-road': this.ctx.net.roads[r].id }, this.ctx.net.roads[r].id, x);
      }),
    );
    if (this.roads.size === 0) this.roadList.append(h('li', { class: 'muted small' }, 'No road picked yet.'));
    this.runButton.disabled = this.roads.size === 0 || (this.current !== null && this.isActive());
  }

  private isActive(): boolean {
    const s = this.runs.find((r) => r.id === this.current)?.status;
    return s === 'queued' || s === 'running';
  }

  private async run(): Promise<void> {
    this.pick.set(false);
    this.stopReplay();
    const scenario = {
      name: this.name.value.trim() || 'what-if',
      changes: [{ kind: 'closure', roads: [...this.roads].map((r) => this.ctx.net.roads[r].id) }],
      horizon: Number(this.horizon.value),
      seeds: 1,
      replay: { enabled: true, run: 'scenario' },
    };
    this.results.replaceChildren();
    this.status.textContent = 'Submitting…';
    const r = await this.ctx.api.call('POST', 'api/whatif', AcceptedSchema, scenario);
    if (!r.ok) {
      this.status.textContent = `Refused: ${r.message}`;
      this.status.dataset.state = 'error';
      return;
    }
    this.current = r.data.id;
    this.element.dataset.run = r.data.id;
    this.showProgress('queued', 0);
    this.runButton.disabled = true;
    this.cancelButton.hidden = false;
    if (this.poll !== null) window.clearInterval(this.poll);
    // The topic carries progress; the poll covers a dropped connection.
    this.poll = window.setInterval(() => void this.load(r.data.id), 2000);
  }

  private async cancel(): Promise<void> {
    if (!this.current) return;
    const r = await this.ctx.api.call('DELETE', `api/whatif/${encodeURIComponent(this.current)}`, z.unknown());
    if (!r.ok) this.status.textContent = `Cannot cancel: ${r.message}`;
  }

  private showProgress(status: string, progress: number): void {
    const pct = Math.round(Math.max(0, Math.min(1, progress)) * 100);
    this.progress.hidden = false;
    this.progress.setAttribute('aria-valuenow', String(pct));
    this.bar.style.width = `${pct}%`;
    this.status.dataset.state = status;
    this.status.textContent = status === 'running' ? `Running… ${pct}%` : status === 'queued' ? 'Queued…' : status === 'done' ? 'Done.' : status === 'cancelled' ? 'Cancelled.' : status === 'failed' ? 'Failed.' : status;
  }

  private async load(id: string): Promise<void> {
    const r = await this.ctx.api.get(`api/whatif/${encodeURIComponent(id)}`, RunSchema);
    if (!r.ok || id !== this.current) return;
    const run = r.data;
    if (!TERMINAL.has(run.status)) return this.showProgress(run.status, run.progress);
    if (this.poll !== null) window.clearInterval(this.poll);
    this.poll = null;
    this.cancelButton.hidden = true;
    this.runButton.disabled = this.roads.size === 0;
    this.renderResult(run);
    this.showProgress(run.status, run.progress);
    if (run.status === 'failed') this.status.textContent = `Failed: ${run.error ?? 'no reason given'}`;
  }

  private renderResult(run: Run): void {
    const res = run.result;
    if (!res) {
      this.results.replaceChildren(h('p', { class: 'muted small' }, run.status === 'done' ? 'The run finished without a result.' : `No result (${run.status}).`));
      return;
    }
    const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '–' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
    const rows = KPIS.filter((k) => res.kpis[k.key]).map((k) => {
      const c = res.kpis[k.key];
      const d = c.difference.mean;
      const better = d === null || d === 0 ? '' : (d < 0) === k.lowerIsBetter ? 'better' : 'worse';
      return h(
        'tr',
        { 'data-kpi': k.key },
        h('td', {}, k.label, k.unit ? h('span', { class: 'muted small' }, ` ${k.unit}`) : null),
        h('td', { class: 'mono' }, fmt(c.baseline.mean)),
        h('td', { class: 'mono' }, fmt(c.scenario.mean)),
        h('td', { class: `mono ${better}` }, d === null ? '–' : `${d > 0 ? '+' : ''}${fmt(d)}`),
      );
    });
    const replay = h('button', { type: 'button', class: 'tool', 'data-action': 'whatif-replay', disabled: run.hasReplay === false }, 'Replay on the map');
    replay.addEventListener('click', () => void this.replay(run.id));
    this.results.replaceChildren(
      h('table', { class: 'kpis', 'data-run': run.id }, h('thead', {}, h('tr', {}, h('th', {}, 'KPI'), h('th', {}, 'Baseline'), h('th', {}, 'Scenario'), h('th', {}, 'Δ'))), h('tbody', {}, ...rows)),
      h('p', { class: 'muted small' }, `${Math.round(res.horizon / 60)} simulated min${res.realTimeFactor ? `, ${res.realTimeFactor.toFixed(0)}× real time` : ''}`),
      replay,
    );
  }

  private async replay(id: string): Promise<void> {
    this.stopReplay();
    this.status.textContent = 'Loading the replay…';
    const r = await this.ctx.api.get(`api/whatif/${encodeURIComponent(id)}/replay`, ReplaySchema);
    if (!r.ok) {
      this.status.textContent = `No replay: ${r.message}`;
      return;
    }
    const frames = r.data.frames;
    if (frames.length === 0) {
      this.status.textContent = 'The replay holds no frames.';
      return;
    }
    let k = 0;
    const stop = h('button', { type: 'button', class: 'tool', 'data-action': 'whatif-replay-stop' }, 'Back to live');
    stop.addEventListener('click', () => this.stopReplay());
    const label = h('span', { class: 'mono small replay-clock' });
    this.status.replaceChildren('Replaying the scenario ', label, ' ', stop);
    // Ten frames a second, whatever their simulated spacing: a fast, steady playback.
    this.replayTimer = window.setInterval(() => {
      const f = frames[k];
      this.host.showReplayFrame(f);
      label.textContent = `+${Math.round(f.time - frames[0].time)} s`;
      this.element.dataset.replayFrame = String(k);
      k = (k + 1) % frames.length;
    }, 100);
  }

  private stopReplay(): void {
    if (this.replayTimer === null) return;
    window.clearInterval(this.replayTimer);
    this.replayTimer = null;
    this.host.showReplayFrame(null);
    delete this.element.dataset.replayFrame;
    this.status.textContent = 'Back to live.';
  }

  private renderHistory(): void {
    this.history.replaceChildren(
      ...this.runs.slice(0, 12).map((r) => {
        const li = h('li', { class: 'clickable small', 'data-run': r.id }, h('span', {}, r.name ?? r.id), ' ', h('span', { class: `badge ${r.status === 'done' ? 'ok' : r.status === 'failed' ? 'bad' : 'warn'}` }, r.status === 'running' ? `${Math.round(r.progress * 100)}%` : r.status), h('span', { class: 'muted' }, ` ${r.createdBy}`));
        li.addEventListener('click', () => {
          this.current = r.id;
          void this.load(r.id);
        });
        return li;
      }),
    );
    if (this.runs.length === 0) this.history.append(h('li', { class: 'muted small' }, 'No runs yet.'));
  }
}
