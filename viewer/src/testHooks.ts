/**
 * What the viewer exposes on `window` for the browser tests and the frame-time benchmark. Read
 * only, apart from the few actions in ViewerTestHooks; nothing here changes what an operator sees
 * unless called.
 */
import type { FrameMeasurement } from './FrameStats.ts';
import type { ConnectionStatus } from './StreamClient.ts';

export interface ViewerStatsSnapshot {
  ready: boolean;
  status: ConnectionStatus['kind'];
  frames: number;
  /** Movement signal-state changes seen since the page loaded. */
  signalChanges: number;
  vehiclesDrawn: number;
  vehiclesInNetwork: number;
  lanes: number;
  laneLinks: number;
  intersections: number;
  signalised: number;
  simTime: number;
  messages: Record<string, number>;
  invalidMessages: number;
  selectedIntersection: string | null;
  drawCalls: number;
  triangles: number;
  lines: number;
  points: number;
  /** Animation ticks with nothing new to draw (render on demand skipped them). */
  framesSkipped: number;
  /** Vehicles written to the GPU: those in view, with a margin. */
  vehiclesInView: number;
  /** Level of detail in use: lanes as ribbons or lines, vehicles as boxes or points. */
  detail: string;
  /** WebGL renderer string (shows software rendering such as SwiftShader). */
  gpu: string;
}

export interface ViewerStats extends ViewerStatsSnapshot {
  snapshot(): ViewerStatsSnapshot;
  /** Frame intervals and per-frame CPU time over `ms` of wall time. */
  measureFrames(ms: number): Promise<FrameMeasurement>;
}

export interface ViewerTestHooks {
  /** Client coordinates of an intersection's centre in the current view (null if off screen). */
  screenPointOf(intersectionId: string): { x: number; y: number } | null;
  /** Ids of the signalised intersections. */
  signalisedIds(): string[];
  /** Client coordinates of the middle of a road (its first lane), or null. */
  screenPointOfRoad(roadId: string): { x: number; y: number } | null;
  fit(): void;
  /** The ground point the camera looks at (where a fly-to ends). */
  cameraTarget(): { x: number; y: number };
  /** Names of the scene's top-level objects, and switching one off (frame-cost breakdowns). */
  layers(): string[];
  setLayerVisible(name: string, visible: boolean): void;
  /** Drawing-buffer scale (1 = CSS pixels); for fill-rate experiments. */
  setPixelRatio(ratio: number): void;
  /**
   * Pixels of the next rendered frame that match the signal and congestion colours (within a
   * small tolerance): evidence from the image itself, not from the viewer's own state.
   */
  samplePixels(): Promise<PixelSample>;
}

export interface PixelSample {
  width: number;
  height: number;
  signalGreen: number;
  signalRed: number;
  signalYellow: number;
  /** Lane colours at the free-flow and stopped ends of the ramp. */
  laneFree: number;
  laneStopped: number;
}

declare global {
  interface Window {
    __viewerStats?: ViewerStats;
    __viewerTest?: ViewerTestHooks;
  }
}
