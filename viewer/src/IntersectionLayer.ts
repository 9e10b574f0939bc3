/**
 * Signalised intersections as click targets: an invisible disc per intersection for the
 * raycaster, plus rings that mark the hovered and the selected one.
 */
import {
  CylinderGeometry,
  Group,
  InstancedMesh,
  Matrix4,
  Mesh,
  MeshBasicMaterial,
  Raycaster,
  RingGeometry,
  Vector2,
  Vector3,
  type Camera,
  type Intersection,
} from 'three';
import type { NetworkView } from './api.ts';
import { flat } from './NetworkLayer.ts';
import { SCENE_HEX } from './palette.ts';

export class IntersectionLayer {
  readonly group = new Group();
  /** Network indices of the signalised intersections, in instance order. */
  readonly signalised: number[] = [];
  private readonly targets: InstancedMesh;
  private readonly selectedRing: Mesh;
  private readonly hoverRing: Mesh;
  private readonly raycaster = new Raycaster();
  private readonly ndc = new Vector2();
  private readonly hits: Intersection[] = [];

  constructor(private readonly net: NetworkView) {
    net.intersections.forEach((i, k) => {
      if (!i.virtual && i.phases.length > 0) this.signalised.push(k);
    });
    const disc = new CylinderGeometry(1, 1, 1, 24);
    disc.rotateX(Math.PI / 2); // cylinder axis along z
    // Never drawn (visible: false on the material), but the raycaster still tests it.
    this.targets = new InstancedMesh(disc, new MeshBasicMaterial({ visible: false }), Math.max(1, this.signalised.length));
    this.targets.count = this.signalised.length;
    this.targets.name = 'intersection-targets';
    const m = new Matrix4();
    this.signalised.forEach((idx, k) => {
      const i = net.intersections[idx];
      const r = Math.max(i.width, 10) * 1.15;
      this.targets.setMatrixAt(k, m.makeScale(r, r, 6).setPosition(i.x, i.y, 3));
    });
    this.targets.computeBoundingSphere();

    this.selectedRing = flat(new Mesh(new RingGeometry(0.84, 1, 48), new MeshBasicMaterial({ color: SCENE_HEX.selection, transparent: true, opacity: 0.95 })), 6);
    this.hoverRing = flat(new Mesh(new RingGeometry(0.9, 1, 48), new MeshBasicMaterial({ color: SCENE_HEX.hover, transparent: true, opacity: 0.6 })), 6);
    this.selectedRing.visible = false;
    this.hoverRing.visible = false;
    this.group.add(this.targets, this.selectedRing, this.hoverRing);
  }

  /** Network index of the signalised intersection under a client point, or -1. */
  pick(clientX: number, clientY: number, canvas: HTMLElement, camera: Camera): number {
    const rect = canvas.getBoundingClientRect();
    this.ndc.set(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    this.raycaster.setFromCamera(this.ndc, camera);
    this.hits.length = 0;
    this.raycaster.intersectObject(this.targets, false, this.hits);
    const id = this.hits[0]?.instanceId;
    return id === undefined ? -1 : (this.signalised[id] ?? -1);
  }

  setSelected(index: number): void {
    this.place(this.selectedRing, index, 1.35);
  }

  setHovered(index: number): void {
    this.place(this.hoverRing, index, 1.25);
  }

  private place(ring: Mesh, index: number, grow: number): void {
    const i = index >= 0 ? this.net.intersections[index] : undefined;
    ring.visible = i !== undefined;
    if (!i) return;
    const r = Math.max(i.width, 10) * grow;
    ring.position.set(i.x, i.y, 0);
    ring.scale.set(r, r, 1);
  }

  /** World position of an intersection (for labels and the test hooks). */
  centre(index: number, out: Vector3): Vector3 {
    const i = this.net.intersections[index];
    return out.set(i.x, i.y, 0);
  }

  dispose(): void {
    this.targets.geometry.dispose();
    this.targets.dispose();
    for (const ring of [this.selectedRing, this.hoverRing]) ring.geometry.dispose();
  }
}
