/**
 * Congestion at a chosen forecast horizon: the lanes take the colour of their road's forecast
 * speed over its limit (the same colour-blind-safe ramp and legend as "now"). The horizons come
 * from the 'forecasts' topic; without it the selector says the service does not publish them.
 * Below, how far to trust them: each horizon's running error of the model beside persistence
 * and the historical average, scored on the same forecasts once the model exists; and for one
 * road picked on the map, its speed with the forecasts made for it laid over, and how they fared
 * there against persistence.
 */
import { multiLineChart } from '../charts.ts';
import { h } from '../dom.ts';
import { roadForecastCheck, RoadHistorySchema, type RoadForecastCheck } from '../forecastCheck.ts';
import type { Forecasts } from '../streamSchemas.ts';
import type { NetworkPanel, PanelContext } from './PanelContext.ts';
import { RoadPickButton } from './RoadPickButton.ts';

/** Stored rows fetched for the road check: 4 hours, so 60-minute forecasts have 3 hours scored. */
const ROAD_ROWS = 48;
/** Outline of the road checked (the what-if closures are violet). */
const ROAD_HEX = '#4cc9f0';
/** The two forecasts drawn over the road's speed (minutes ahead; others are in the table). */
const DRAWN_HORIZONS = { near: 15, far: 60 } as const;

export class ForecastPanel implements NetworkPanel {
  readonly id = 'forecast';
  readonly title = 'Forecast';
  readonly element: HTMLElement;
  private readonly choices = h('div', { class: 'horizons', role: 'radiogroup', 'aria-label': 'Forecast horizon' });
  private readonly note = h('p', { class: 'small forecast-note' }, 'Waiting for the forecasts stream… (the service may not publish forecasts yet)');
  private readonly accuracy = h('div', { class: 'forecast-accuracy' });
  private data: Forecasts | null = null;
  /** Index into horizonsMinutes, or -1 for now. */
  private horizon = -1;
  private readonly roadIndex = new Map<string, number>();
  private readonly roadPick: RoadPickButton;
  private readonly roadView = h('div', { class: 'road-check' }, h('p', { class: 'small muted' }, 'Pick a road on the map to see its speed with the forecasts made for it, and how they fared there.'));
  /** Network road index checked, or -1. */
  private road = -1;
  /** Forecast minute of the last fetch of the road's stored rows. */
  private fetchedAt = -Infinity;

  constructor(private readonly ctx: PanelContext) {
    this.roadPick = new RoadPickButton(ctx, {
      action: 'forecast-road-pick',
      idle: 'Pick a road',
      active: 'Picking… (click again to stop)',
      hint: 'Click a road to check its forecasts',
      onRoad: (r) => {
        this.road = r;
        this.roadPick.set(false);
        this.showRoad();
        void this.loadRoad();
      },
    });
    ctx.net.roads.forEach((r, k) => this.roadIndex.set(r.id, k));
    this.element = h(
      'div',
      { class: 'forecast-panel' },
      h('section', { class: 'panel-section' }, h('h4', {}, 'Colour lanes by'), this.choices, this.note),
      h('section', { class: 'panel-section' }, h('h4', {}, 'Running accuracy ', h('span', { class: 'muted small' }, 'RMSE, km/h')), this.accuracy),
      h('section', { class: 'panel-section' }, h('h4', {}, 'One road'), this.roadPick.element, this.roadView),
    );
    this.renderChoices();
    // Nothing on the topic a while after connecting: the service has no forecasts source.
    window.setTimeout(() => {
      if (!this.data) this.note.textContent = 'Not available: this service does not publish forecasts (the forecasts topic is empty). Lanes show the live estimate.';
    }, 8000);
  }

  opened(): void {
    this.showRoad();
  }

  closed(): void {
    this.roadPick.set(false);
    this.ctx.overlay.clear('forecast');
  }

  /** Outlines the checked road on the map. */
  private showRoad(): void {
    this.ctx.overlay.setRoads('forecast-road', this.road >= 0 ? [this.road] : [], ROAD_HEX);
  }

  update(f: Forecasts): void {
    this.data = f;
    this.note.textContent = servedNote(f);
    this.renderChoices();
    this.renderAccuracy();
    if (this.horizon >= 0) this.apply();
    // A new row is stored every 5 simulated minutes.
    if (this.road >= 0 && f.minute - this.fetchedAt >= 5) void this.loadRoad();
  }

  /** Fetches the picked road's stored forecasts and draws them against its speed. */
  private async loadRoad(): Promise<void> {
    const road = this.ctx.net.roads[this.road];
    if (!road) return;
    this.fetchedAt = this.data?.minute ?? -Infinity;
    const r = await this.ctx.api.get(`api/forecasts/roads/${encodeURIComponent(road.id)}/history?limit=${ROAD_ROWS}`, RoadHistorySchema);
    if (this.ctx.net.roads[this.road]?.id !== road.id) return; // another road was picked meanwhile
    const title = h('p', { class: 'small road-name', 'data-road': road.id }, `${road.id} (${road.from} → ${road.to})`);
    if (!r.ok) {
      this.roadView.replaceChildren(title, h('p', { class: 'small error' }, r.status === 404 ? 'This service keeps no forecasts for this road.' : `Could not load its forecasts: ${r.message}`));
      return;
    }
    this.roadView.replaceChildren(title, ...roadCheckView(roadForecastCheck(r.data), r.data.horizonsMinutes, this.data?.minute ?? null));
  }

  private renderAccuracy(): void {
    const rows = this.data?.accuracy ?? [];
    if (rows.length === 0) {
      this.accuracy.replaceChildren(h('p', { class: 'small muted' }, 'Not scored yet: a forecast is scored when its due minute has passed.'));
      return;
    }
    const methods = ['model', 'persistence', 'historicalAverage', 'served'] as const;
    const fmt = (v: number | null) => (v === null ? '—' : v.toFixed(2));
    const body = rows.map((a) => {
      // The lowest of the three candidates; what was served is judged against it.
      const scored = methods.slice(0, 3).map((m) => a[m].rmse).filter((v): v is number => v !== null);
      const best = scored.length > 1 ? Math.min(...scored) : null;
      return h(
        'tr',
        { 'data-minutes': a.minutes },
        h('td', {}, `+${a.minutes} min`),
        ...methods.map((m) => h('td', { 'data-method': m, class: best !== null && a[m].rmse === best ? 'best' : '' }, fmt(a[m].rmse))),
      );
    });
    const first = rows[0];
    const caption = first.paired
      ? `All scored on the same ${first.model.count.toLocaleString()} road forecasts at +${first.minutes} min since the model's first; lowest of the three in bold. Served: the blend shown above.`
      : `No model forecast has come due yet: the baselines over ${first.persistence.count.toLocaleString()} road forecasts at +${first.minutes} min.`;
    this.accuracy.replaceChildren(
      h('table', { class: 'forecast-accuracy' }, h('thead', {}, h('tr', {}, h('th', {}, 'Ahead'), h('th', {}, 'Model'), h('th', {}, 'Persistence'), h('th', {}, 'Hist. avg'), h('th', {}, 'Served'))), h('tbody', {}, ...body)),
      h('p', { class: 'small muted' }, caption),
    );
  }

  private renderChoices(): void {
    const hs = this.data?.horizonsMinutes ?? [];
    const opt = (k: number, label: string) => {
      const b = h('button', { type: 'button', class: 'tool', role: 'radio', 'aria-checked': String(this.horizon === k), 'data-horizon': k < 0 ? 'now' : hs[k], disabled: k >= 0 && !this.data }, label);
      b.addEventListener('click', () => {
        this.horizon = k;
        this.renderChoices();
        this.apply();
      });
      return b;
    };
    this.choices.replaceChildren(opt(-1, 'Now'), ...hs.map((m, k) => opt(k, `+${m} min`)));
  }

  private apply(): void {
    const f = this.data;
    if (this.horizon < 0 || !f) {
      this.ctx.setLaneOverride(null, null);
      return;
    }
    const net = this.ctx.net;
    const ratios = new Array<number>(net.lanes.length).fill(Number.NaN);
    for (const r of f.roads) {
      const k = this.roadIndex.get(r.road);
      const v = r.forecast[this.horizon];
      if (k === undefined || v === null || v === undefined) continue;
      for (const l of net.roads[k].lanes) {
        const limitKmh = net.lanes[l].maxSpeed * 3.6;
        ratios[l] = limitKmh > 0 ? Math.min(1, v / limitKmh) : Number.NaN;
      }
    }
    this.ctx.setLaneOverride(ratios, `forecast +${f.horizonsMinutes[this.horizon]} min`);
  }
}

/** The road's speed with its 15- and 60-minute forecasts laid over, and each horizon's score there. */
function roadCheckView(check: RoadForecastCheck, horizons: readonly number[], nowMinute: number | null): HTMLElement[] {
  const fmt = (v: number | null) => (v === null ? '—' : v.toFixed(2));
  const drawn = (Object.entries(DRAWN_HORIZONS) as [keyof typeof DRAWN_HORIZONS, number][])
    .map(([cls, minutes]) => ({ cls, minutes, k: horizons.indexOf(minutes) }))
    .filter((d) => d.k >= 0);
  const lastObserved = check.observed.time.length ? check.observed.time[check.observed.time.length - 1] : 0;
  const chart = multiLineChart(
    'Speed and forecasts, km/h',
    'km/h',
    [
      { name: 'speed', cls: 'series-observed', series: check.observed },
      ...drawn.map((d) => ({ name: `forecast +${d.minutes} min`, cls: `series-${d.cls}`, series: check.forecasts[d.k] })),
    ],
    nowMinute === null ? lastObserved : Math.max(lastObserved, nowMinute * 60),
  );
  const scored = check.horizons.some((x) => x.count > 0);
  const table = h(
    'table',
    { class: 'forecast-accuracy road-accuracy' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Ahead'), h('th', {}, 'Served'), h('th', {}, 'Persistence'), h('th', {}, 'Scored'))),
    h(
      'tbody',
      {},
      ...check.horizons.map((x) => {
        const better = x.servedRmse !== null && x.persistenceRmse !== null && x.servedRmse < x.persistenceRmse;
        return h(
          'tr',
          { 'data-minutes': x.minutes },
          h('td', {}, `+${x.minutes} min`),
          h('td', { 'data-method': 'served', class: better ? 'best' : '' }, fmt(x.servedRmse)),
          h('td', { 'data-method': 'persistence', class: !better && x.persistenceRmse !== null ? 'best' : '' }, fmt(x.persistenceRmse)),
          h('td', { 'data-count': x.count }, String(x.count)),
        );
      }),
    ),
  );
  const caption = scored
    ? `RMSE on this road over the last ${Math.round(check.spanMinutes / 60)} h of stored forecasts (one every 5 min), against its speed when each came due; lower in bold.`
    : 'None of its stored forecasts has come due yet.';
  return [chart, table, h('p', { class: 'small muted' }, caption)];
}

const METHOD_NAMES: Record<string, string> = { model: 'model', persistence: 'persistence', historicalAverage: 'hist. avg' };

/** What each horizon's forecast is made of, e.g. "+5 min: model 60 %, hist. avg 40 %". */
function servedNote(f: Forecasts): string {
  const weights = f.servedWeights ?? f.horizonsMinutes.map(() => ({ [f.source === 'model' ? 'model' : 'persistence']: 1 }));
  const parts = weights.map((w, k) => {
    const shares = Object.entries(w)
      .filter(([, v]) => v >= 0.005)
      .sort((a, b) => b[1] - a[1])
      .map(([m, v]) => `${METHOD_NAMES[m] ?? m} ${Math.round(v * 100)} %`);
    return `+${f.horizonsMinutes[k]} min: ${shares.join(', ')}`;
  });
  const model = f.source === 'model' ? '' : ' No model trained yet.';
  return `Forecasts for ${f.roads.length} roads, each horizon a blend weighted by recent accuracy — ${parts.join('; ')}.${model}`;
}
