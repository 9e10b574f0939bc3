/** Traffic engineers' names for approaches and turns, derived from the network geometry. */
import type { NetworkView } from './api.ts';

const BOUNDS = ['EB', 'NB', 'WB', 'SB'] as const;

/** Direction of travel of a road at its downstream end: EB, NB, WB or SB. */
export function boundOf(net: NetworkView, road: number): string {
  const r = net.roads[road];
  const lane = r ? net.lanes[r.lanes[0]] : undefined;
  if (!lane) return '?';
  const l = lane.line;
  const n = l.length;
  const a = Math.atan2(l[n - 1] - l[n - 3], l[n - 2] - l[n - 4]);
  return BOUNDS[((Math.round(a / (Math.PI / 2)) % 4) + 4) % 4];
}

export function turnWord(type: string): string {
  switch (type) {
    case 'turn_left':
      return 'left';
    case 'go_straight':
      return 'through';
    case 'turn_right':
      return 'right';
    case 'turn_u':
      return 'U-turn';
    default:
      return type;
  }
}

export function turnArrow(type: string): string {
  switch (type) {
    case 'turn_left':
      return '↰';
    case 'go_straight':
      return '↑';
    case 'turn_right':
      return '↱';
    case 'turn_u':
      return '↶';
    default:
      return '•';
  }
}
