/** What the network panels may use of the viewer: the network, the API, the map overlay, the camera and map clicks. */
import type { NetworkView } from '../api.ts';
import type { ApiClient } from '../http.ts';
import type { MapOverlay } from '../MapOverlay.ts';

export interface MapPicker {
  /** Shown over the map while picking. */
  hint: string;
  onPick(point: { x: number; y: number }): void;
}

export interface PanelContext {
  net: NetworkView;
  api: ApiClient;
  overlay: MapOverlay;
  flyTo(x: number, y: number): void;
  /** Takes the next map clicks (null gives them back to intersection selection). */
  setPicker(picker: MapPicker | null): void;
  /** Opens the intersection panel of a network intersection index. */
  selectIntersection(index: number): void;
  /** Lane colours from per-lane speed ratios (null: back to the live estimate). */
  setLaneOverride(ratios: readonly number[] | null, label: string | null): void;
  simNow(): number;
}

export interface NetworkPanel {
  readonly id: string;
  readonly title: string;
  readonly element: HTMLElement;
  opened(): void;
  closed(): void;
}
