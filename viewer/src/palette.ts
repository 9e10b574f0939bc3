/**
 * Colours, in one place so the 3D layers and the DOM legend agree. Congestion uses a blue–orange
 * ramp (distinguishable with the common colour-vision deficiencies, and monotone in meaning:
 * blue = free flow, orange = stopped). Signal colours follow the road: a bluish green, as real
 * signal lenses use for colour-blind drivers, amber and red.
 */
import { Color } from 'three';

/** Stops from stopped (speed ratio 0) to free flow (1). */
export const CONGESTION_STOPS: readonly { at: number; hex: string }[] = [
  { at: 0.0, hex: '#e8590c' },
  { at: 0.25, hex: '#f59f3a' },
  { at: 0.5, hex: '#e9d8a6' },
  { at: 0.75, hex: '#7fb8e6' },
  { at: 1.0, hex: '#2f7fd0' },
];
export const NO_DATA_HEX = '#3b4452';

export const SIGNAL_HEX = ['#ff4d57', '#20d39a', '#ffc83d', '#5d6673'] as const; // red, green, yellow, unknown

export const VEHICLE_CLASS_STYLE: Record<string, { hex: string; size: [number, number, number] }> = {
  car: { hex: '#e8edf3', size: [4.5, 1.8, 1.5] },
  bus: { hex: '#c8a6ff', size: [12, 2.5, 3.0] },
  truck: { hex: '#a9b4c2', size: [9, 2.5, 3.2] },
  emergency: { hex: '#ff5fd2', size: [5.5, 2.0, 2.2] },
};
export const DEFAULT_VEHICLE_STYLE = VEHICLE_CLASS_STYLE.car;

export const SCENE_HEX = {
  background: '#0b0f15',
  grid: '#18202b',
  roadBed: '#1c232e',
  junction: '#202835',
  laneLink: '#8a97a8',
  selection: '#4cc9f0',
  hover: '#8fa3bf',
} as const;

const LUT_SIZE = 256;

/**
 * Linear-space RGB of the congestion ramp in 256 steps, built once so colouring a lane is a table
 * look-up (no Color objects per update).
 */
export function congestionLut(): Float32Array {
  const lut = new Float32Array(LUT_SIZE * 3);
  const a = new Color();
  const b = new Color();
  const c = new Color();
  for (let k = 0; k < LUT_SIZE; k++) {
    const v = k / (LUT_SIZE - 1);
    let s = 0;
    while (s < CONGESTION_STOPS.length - 2 && v > CONGESTION_STOPS[s + 1].at) s++;
    const lo = CONGESTION_STOPS[s];
    const hi = CONGESTION_STOPS[s + 1];
    c.lerpColors(a.set(lo.hex), b.set(hi.hex), (v - lo.at) / (hi.at - lo.at));
    c.toArray(lut, k * 3);
  }
  return lut;
}

/** Index into the LUT for a speed ratio; -1 when there is no usable value. */
export function congestionIndex(ratio: number): number {
  if (!Number.isFinite(ratio)) return -1;
  const v = ratio < 0 ? 0 : ratio > 1 ? 1 : ratio;
  return Math.round(v * (LUT_SIZE - 1));
}

/** The CSS gradient of the same ramp, for the legend (stopped on the left → free on the right). */
export function congestionCssGradient(): string {
  return `linear-gradient(to right, ${CONGESTION_STOPS.map((s) => `${s.hex} ${s.at * 100}%`).join(', ')})`;
}
