/**
 * A toggle button that hands the next map clicks to a panel as roads (the nearest road to each
 * click): pressed, the map's clicks pick roads; pressed again, or `set(false)`, they go back to
 * intersection selection. Shared by the panels that ask for roads.
 */
import { h } from '../dom.ts';
import { nearestRoad } from '../MapOverlay.ts';
import type { PanelContext } from './PanelContext.ts';

export interface RoadPickOptions {
  /** `data-action` of the button (tests find it by that). */
  action: string;
  /** Button text when not picking, and while picking. */
  idle: string;
  active: string;
  /** Shown over the map while picking. */
  hint: string;
  /** A road was picked (network road index). */
  onRoad(road: number): void;
}

export class RoadPickButton {
  readonly element: HTMLButtonElement;
  private on = false;

  constructor(
    private readonly ctx: PanelContext,
    private readonly options: RoadPickOptions,
  ) {
    this.element = h('button', { type: 'button', class: 'tool', 'data-action': options.action, 'aria-pressed': 'false' }, options.idle);
    this.element.addEventListener('click', () => this.set(!this.on));
  }

  get picking(): boolean {
    return this.on;
  }

  set(on: boolean): void {
    if (on === this.on) return;
    this.on = on;
    this.element.setAttribute('aria-pressed', String(on));
    this.element.textContent = on ? this.options.active : this.options.idle;
    this.ctx.setPicker(
      on
        ? {
            hint: this.options.hint,
            onPick: (p) => {
              const r = nearestRoad(this.ctx.net, p.x, p.y);
              if (r >= 0) this.options.onRoad(r);
            },
          }
        : null,
    );
  }
}
