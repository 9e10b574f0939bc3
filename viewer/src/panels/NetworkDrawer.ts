/** The drawer that shows one network panel at a time (what-if, emergency, alerts, controllers, forecast). */
import { h } from '../dom.ts';
import type { NetworkPanel } from './PanelContext.ts';

export class NetworkDrawer {
  readonly element: HTMLElement;
  private open: NetworkPanel | null = null;
  onChange: ((open: string | null) => void) | null = null;

  constructor(readonly panels: readonly NetworkPanel[]) {
    this.element = h('aside', { class: 'drawer panel', hidden: true });
  }

  get current(): string | null {
    return this.open?.id ?? null;
  }

  toggle(id: string): void {
    if (this.open?.id === id) return this.close();
    const p = this.panels.find((x) => x.id === id);
    if (!p) return;
    this.close();
    this.open = p;
    const close = h('button', { class: 'icon-button', type: 'button', 'aria-label': 'Close' }, '✕');
    close.addEventListener('click', () => this.close());
    this.element.dataset.panel = p.id;
    this.element.replaceChildren(close, h('header', { class: 'panel-header' }, h('div', { class: 'eyebrow' }, 'Network'), h('h2', {}, p.title)), p.element);
    this.element.hidden = false;
    p.opened();
    this.onChange?.(p.id);
  }

  close(): void {
    if (!this.open) return;
    this.open.closed();
    this.open = null;
    this.element.hidden = true;
    delete this.element.dataset.panel;
    this.onChange?.(null);
  }
}
