/**
 * Sign-in with a bearer token. The token is checked by loading the network with it, so a wrong
 * token and an unreachable server are told apart before the 3D view is built.
 */
import { fetchNetwork, ServerUnreachableError, TokenRefusedError, type NetworkView } from './api.ts';
import { h } from './dom.ts';

export const TOKEN_KEY = 'traffic-twin.token';

export function explainError(e: unknown): string {
  if (e instanceof TokenRefusedError) return 'The server refused this token. Check it, or ask an administrator for a new one.';
  if (e instanceof ServerUnreachableError) return 'The server cannot be reached. Is the service running?';
  return e instanceof Error ? e.message : String(e);
}

export class LoginForm {
  readonly element: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly message: HTMLElement;
  private readonly button: HTMLButtonElement;
  private resolve: ((r: { token: string; network: NetworkView }) => void) | null = null;

  constructor() {
    this.input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false', placeholder: 'Paste your access token' });
    this.message = h('p', { class: 'login-message', role: 'alert', 'aria-live': 'assertive' });
    this.button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
    const form = h(
      'form',
      { class: 'login-card panel' },
      h('div', { class: 'brand-mark', 'aria-hidden': 'true' }, h('span', { class: 'lamp red' }), h('span', { class: 'lamp amber' }), h('span', { class: 'lamp green' })),
      h('h1', {}, 'Traffic twin'),
      h('p', { class: 'muted' }, 'Live 3D view of the network, signals and traffic.'),
      h('label', { for: 'token' }, 'Access token'),
      this.input,
      this.message,
      this.button,
      h('p', { class: 'muted small' }, 'The token is kept for this browser tab only. The admin token is printed by the service on its first start.'),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.submit();
    });
    this.element = h('main', { class: 'login' }, form);
  }

  /** Shows the form (with an optional message) until a token is accepted. */
  ask(message: string | null, prefill: string | null): Promise<{ token: string; network: NetworkView }> {
    this.setMessage(message);
    if (prefill) this.input.value = prefill;
    queueMicrotask(() => this.input.focus());
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  private setMessage(text: string | null): void {
    this.message.textContent = text ?? '';
    this.message.hidden = !text;
  }

  private async submit(): Promise<void> {
    const token = this.input.value.trim();
    if (!token) return;
    this.button.disabled = true;
    this.button.textContent = 'Loading network…';
    this.setMessage(null);
    try {
      const network = await fetchNetwork(token);
      this.resolve?.({ token, network });
      this.resolve = null;
    } catch (e) {
      this.setMessage(explainError(e));
      this.input.select();
    } finally {
      this.button.disabled = false;
      this.button.textContent = 'Sign in';
    }
  }
}
