/**
 * Street labels on demand: nothing is built until the first time they are switched on. Each road
 * gets its id and an arrow for its direction, placed 40% along its middle lane so the two
 * directions of a street do not sit on top of each other. In a big network only labels near the
 * point looked at are shown, so the DOM stays small.
 */
import { Group, Vector3, type PerspectiveCamera, type Scene } from 'three';
import { CSS2DObject, CSS2DRenderer } from 'three/addons/renderers/CSS2DRenderer.js';
import type { NetworkView } from './api.ts';

const ARROWS = ['→', '↗', '↑', '↖', '←', '↙', '↓', '↘'];
/** Beyond this many roads, only labels within a radius of the view target are shown. */
const MANY = 250;

export class LabelLayer {
  private renderer: CSS2DRenderer | null = null;
  private readonly group = new Group();
  private labels: CSS2DObject[] = [];
  private enabled = false;
  private readonly lastTarget = new Vector3(Number.NaN, 0, 0);
  private lastDistance = 0;
  private resizeObserver: ResizeObserver | null = null;

  constructor(
    private readonly net: NetworkView,
    private readonly container: HTMLElement,
    scene: Scene,
  ) {
    this.group.name = 'street-labels';
    this.group.visible = false;
    scene.add(this.group);
  }

  get on(): boolean {
    return this.enabled;
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
    if (on && !this.renderer) this.build();
    this.group.visible = on;
    if (this.renderer) this.renderer.domElement.style.display = on ? '' : 'none';
  }

  private build(): void {
    this.renderer = new CSS2DRenderer();
    const el = this.renderer.domElement;
    el.classList.add('label-overlay');
    this.container.appendChild(el);
    this.resize();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.container);
    for (const road of this.net.roads) {
      if (road.lanes.length === 0) continue;
      const lane = this.net.lanes[road.lanes[Math.floor(road.lanes.length / 2)]];
      if (!lane) continue;
      const l = lane.line;
      const n = l.length;
      const dx = l[n - 2] - l[0];
      const dy = l[n - 1] - l[1];
      const octant = ((Math.round(Math.atan2(dy, dx) / (Math.PI / 4)) % 8) + 8) % 8;
      const div = document.createElement('div');
      div.className = 'street-label';
      div.textContent = `${ARROWS[octant]} ${road.id}`;
      const label = new CSS2DObject(div);
      label.position.set(l[0] + dx * 0.4, l[1] + dy * 0.4, 1);
      this.group.add(label);
      this.labels.push(label);
    }
  }

  private resize(): void {
    this.renderer?.setSize(this.container.clientWidth, this.container.clientHeight);
  }

  /** Draws the labels (a no-op while they are off). */
  render(scene: Scene, camera: PerspectiveCamera, target: Vector3): void {
    if (!this.enabled || !this.renderer) return;
    if (this.labels.length > MANY) this.cull(camera, target);
    this.renderer.render(scene, camera);
  }

  private cull(camera: PerspectiveCamera, target: Vector3): void {
    const distance = camera.position.distanceTo(target);
    if (target.distanceToSquared(this.lastTarget) < 1 && Math.abs(distance - this.lastDistance) < 1) return;
    this.lastTarget.copy(target);
    this.lastDistance = distance;
    const r2 = (distance * 0.6) ** 2;
    for (const label of this.labels) label.visible = label.position.distanceToSquared(target) < r2;
  }

  dispose(): void {
    this.resizeObserver?.disconnect();
    this.renderer?.domElement.remove();
    this.group.removeFromParent();
  }
}
