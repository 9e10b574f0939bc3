/**
 * Network-wide panels that later issues fill (what-if runs, emergency routes, alerts, controller
 * health). Each shows what the server must provide first rather than placeholder numbers.
 */
import { h } from './dom.ts';
import { placeholderSection } from './IntersectionPanel.ts';

export const NETWORK_PANELS = [
  { id: 'whatif', title: 'What-if', needs: 'needs the what-if API (scenario runs from a twin snapshot) and the whatif topic for progress and results' },
  { id: 'emergency', title: 'Emergency', needs: 'needs the emergency API (routes with pre-emption windows) and the emergency topic' },
  { id: 'alerts', title: 'Alerts', needs: 'needs the alerts topic (sensor faults, spill-back, controller faults)' },
  { id: 'forecast', title: 'Forecast', needs: 'needs the forecasts topic (per-lane speed ratio at +5/+15/+30 min) to colour lanes by forecast' },
] as const;
export type NetworkPanelId = (typeof NETWORK_PANELS)[number]['id'];

export class FuturePanels {
  readonly element: HTMLElement;
  private open: NetworkPanelId | null = null;

  constructor() {
    this.element = h('aside', { class: 'drawer panel', hidden: true });
  }

  get current(): NetworkPanelId | null {
    return this.open;
  }

  toggle(id: NetworkPanelId): void {
    if (this.open === id) return this.close();
    const p = NETWORK_PANELS.find((x) => x.id === id);
    if (!p) return;
    this.open = id;
    const close = h('button', { class: 'icon-button', type: 'button', 'aria-label': 'Close' }, '✕');
    close.addEventListener('click', () => this.close());
    this.element.replaceChildren(close, h('header', { class: 'panel-header' }, h('div', { class: 'eyebrow' }, 'Network'), h('h2', {}, p.title)), placeholderSection(p.id, 'Status', p.needs));
    this.element.hidden = false;
  }

  close(): void {
    this.open = null;
    this.element.hidden = true;
  }
}
