/**
 * Entry point: sign in (or reuse this tab's token), load the network, start the viewer. Any
 * failure lands back on the sign-in form with a sentence saying what went wrong.
 */
import { fetchNetwork, TokenRefusedError, type NetworkView } from './api.ts';
import { explainError, LoginForm, TOKEN_KEY } from './LoginForm.ts';
import { ViewerApp } from './ViewerApp.ts';

const host = document.getElementById('app');
if (!host) throw new Error('index.html lacks #app');
const root: HTMLElement = host;

function start(token: string, network: NetworkView): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  new ViewerApp(root, {
    token,
    network,
    onSignedOut: (message) => {
      sessionStorage.removeItem(TOKEN_KEY);
      void signIn(message, null);
    },
  });
}

async function signIn(message: string | null, prefill: string | null): Promise<void> {
  const form = new LoginForm();
  root.replaceChildren(form.element);
  const { token, network } = await form.ask(message, prefill);
  start(token, network);
}

async function boot(): Promise<void> {
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (!stored) return signIn(null, null);
  root.replaceChildren(Object.assign(document.createElement('p'), { className: 'boot muted', textContent: 'Loading network…' }));
  try {
    start(stored, await fetchNetwork(stored));
  } catch (e) {
    if (e instanceof TokenRefusedError) sessionStorage.removeItem(TOKEN_KEY);
    await signIn(explainError(e), e instanceof TokenRefusedError ? null : stored);
  }
}

void boot();
