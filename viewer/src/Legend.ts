/** What the colours mean: the congestion ramp, the stop-bar states and the vehicle classes. */
import { h } from './dom.ts';
import { congestionCssGradient, NO_DATA_HEX, SIGNAL_HEX, VEHICLE_CLASS_STYLE } from './palette.ts';

export class Legend {
  readonly element: HTMLElement;
  private readonly source: HTMLElement;
  private readonly horizon = h('span', { class: 'legend-horizon' }, 'now');

  constructor() {
    this.source = h('span', { class: 'legend-source' }, 'waiting for data');
    const swatch = (hex: string, label: string, cls = 'swatch') => h('span', { class: 'legend-item' }, h('span', { class: cls, style: `background:${hex}` }), label);
    this.element = h(
      'section',
      { class: 'legend panel', 'aria-label': 'Legend' },
      h('h3', {}, 'Lane speed ', h('span', { class: 'muted' }, '(mean speed ÷ limit), '), this.horizon),
      h('div', { class: 'ramp', style: `background:${congestionCssGradient()}` }),
      h('div', { class: 'ramp-labels' }, h('span', {}, 'stopped'), h('span', {}, '50%'), h('span', {}, 'free flow')),
      h('div', { class: 'legend-row' }, swatch(NO_DATA_HEX, 'no data'), h('span', { class: 'muted' }, 'Source: '), this.source),
      h('h3', {}, 'Stop bars'),
      h('div', { class: 'legend-row' }, swatch(SIGNAL_HEX[1], 'green', 'bar'), swatch(SIGNAL_HEX[2], 'yellow', 'bar'), swatch(SIGNAL_HEX[0], 'red', 'bar')),
      h('div', { class: 'legend-row muted small legend-note' }, 'Queue bars (Q): white strip, 7 m per stopped vehicle'),
      h('h3', {}, 'Vehicles'),
      h('div', { class: 'legend-row' }, ...Object.entries(VEHICLE_CLASS_STYLE).map(([name, s]) => swatch(s.hex, name, 'chip'))),
    );
  }

  /** What the lane colours show: null = now, else e.g. "forecast +15 min". */
  setHorizon(label: string | null): void {
    this.horizon.textContent = label ?? 'now';
    this.horizon.classList.toggle('forecast', label !== null);
  }

  setSource(source: 'truth' | 'estimate'): void {
    const text = source === 'truth' ? 'field truth' : "twin's estimate";
    if (this.source.textContent !== text) this.source.textContent = text;
  }
}
