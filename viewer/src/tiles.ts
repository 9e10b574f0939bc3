/**
 * A square tiling of the network's ground, so static geometry can be merged per tile: one draw
 * call per tile and kind, and three's frustum culling drops whole tiles that are off screen when
 * the view is zoomed in. A small network is one tile.
 */
import type { Box3 } from 'three';

/** Tile edge (m): a few blocks, so a close view touches a handful of tiles. */
export const TILE_SIZE = 1200;
/** At most this many tiles a side: past that, draw calls cost more than culling saves. */
const MAX_SIDE = 8;

export class TileGrid {
  readonly cols: number;
  readonly rows: number;
  private readonly minX: number;
  private readonly minY: number;
  private readonly sizeX: number;
  private readonly sizeY: number;

  constructor(bounds: Box3, size = TILE_SIZE) {
    const w = Math.max(1, bounds.max.x - bounds.min.x);
    const h = Math.max(1, bounds.max.y - bounds.min.y);
    this.cols = Math.min(MAX_SIDE, Math.max(1, Math.ceil(w / size)));
    this.rows = Math.min(MAX_SIDE, Math.max(1, Math.ceil(h / size)));
    this.minX = bounds.min.x;
    this.minY = bounds.min.y;
    this.sizeX = w / this.cols;
    this.sizeY = h / this.rows;
  }

  get count(): number {
    return this.cols * this.rows;
  }

  /** Tile of a ground point (points outside the bounds go to the nearest edge tile). */
  of(x: number, y: number): number {
    const c = Math.min(this.cols - 1, Math.max(0, Math.floor((x - this.minX) / this.sizeX)));
    const r = Math.min(this.rows - 1, Math.max(0, Math.floor((y - this.minY) / this.sizeY)));
    return r * this.cols + c;
  }
}
