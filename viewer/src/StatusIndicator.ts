/** The connection state in the top bar: a coloured dot and a sentence an operator can act on. */
import { h } from './dom.ts';
import type { ConnectionStatus } from './StreamClient.ts';

export class StatusIndicator {
  readonly element: HTMLElement;
  private readonly text: HTMLElement;
  private status: ConnectionStatus = { kind: 'connecting' };
  private timer: number | null = null;

  constructor() {
    this.text = h('span', { class: 'status-text' }, 'Connecting…');
    this.element = h('div', { class: 'status', 'data-status': 'connecting', role: 'status', 'aria-live': 'polite' }, h('span', { class: 'status-dot' }), this.text);
  }

  set(s: ConnectionStatus): void {
    this.status = s;
    this.element.dataset.status = s.kind;
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
    if (s.kind === 'reconnecting' || s.kind === 'server-gone') this.timer = window.setInterval(() => this.render(), 500);
    this.render();
  }

  private render(): void {
    const s = this.status;
    const wait = 'retryAt' in s ? Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) : 0;
    const retry = wait > 0 ? `retry in ${wait} s` : 'retrying…';
    switch (s.kind) {
      case 'connecting':
        this.text.textContent = 'Connecting…';
        break;
      case 'connected':
        this.text.textContent = 'Live';
        break;
      case 'reconnecting':
        this.text.textContent = `Connection lost · ${retry}`;
        break;
      case 'server-gone':
        this.text.textContent = `Server unreachable · ${retry}`;
        this.element.title = `Reconnection attempt ${s.attempt}`;
        break;
      case 'token-refused':
        this.text.textContent = 'Token refused — sign in again';
        break;
    }
  }

  dispose(): void {
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
  }
}
