/**
 * How a controller's mode is shown: one badge for the fleet list and the intersection panel.
 * `local` (on its local plan because the centre has none for it yet) is not a fault; `holding`
 * and `fallback` (the centre quiet, then lost) are; offline is worse.
 */
import { h } from './dom.ts';

export function controllerBadge(online: boolean, mode: string | null): HTMLSpanElement {
  const cls = !online ? 'bad' : mode === 'central' ? 'ok' : mode === 'local' ? '' : 'warn';
  return h('span', { class: `badge ${cls}` }, !online ? 'offline' : (mode ?? 'no report'));
}
