/** Counts the pixels of a rendered frame that show signal and congestion colours (test hook). */
import { CONGESTION_STOPS, SIGNAL_HEX } from './palette.ts';
import type { PixelSample } from './testHooks.ts';

function rgb(hex: string): [number, number, number] {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export function samplePixels(canvas: HTMLCanvasElement, tolerance = 24): PixelSample {
  const w = canvas.width;
  const h = canvas.height;
  const copy = document.createElement('canvas');
  copy.width = w;
  copy.height = h;
  const ctx = copy.getContext('2d', { willReadFrequently: true });
  const out: PixelSample = { width: w, height: h, signalGreen: 0, signalRed: 0, signalYellow: 0, laneFree: 0, laneStopped: 0 };
  if (!ctx) return out;
  ctx.drawImage(canvas, 0, 0);
  const data = ctx.getImageData(0, 0, w, h).data;
  const targets: [keyof PixelSample, [number, number, number]][] = [
    ['signalGreen', rgb(SIGNAL_HEX[1])],
    ['signalRed', rgb(SIGNAL_HEX[0])],
    ['signalYellow', rgb(SIGNAL_HEX[2])],
    ['laneFree', rgb(CONGESTION_STOPS[CONGESTION_STOPS.length - 1].hex)],
    ['laneStopped', rgb(CONGESTION_STOPS[0].hex)],
  ];
  for (let i = 0; i < data.length; i += 4) {
    for (const [key, [r, g, b]] of targets) {
      if (Math.abs(data[i] - r) <= tolerance && Math.abs(data[i + 1] - g) <= tolerance && Math.abs(data[i + 2] - b) <= tolerance) {
        out[key]++;
        break;
      }
    }
  }
  return out;
}
