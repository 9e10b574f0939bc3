/**
 * Vehicles as one InstancedMesh of boxes, sized and coloured by class. Stream updates give
 * position, heading and speed; between updates each vehicle is carried forward along its heading
 * at its speed (the stream has no vehicle ids, so two snapshots cannot be interpolated).
 * Nothing is allocated per frame: typed arrays grow only when the vehicle count outgrows them.
 */
import { BoxGeometry, Color, DynamicDrawUsage, InstancedMesh, Matrix4, MeshLambertMaterial, Quaternion, Vector3 } from 'three';
import { DEFAULT_VEHICLE_STYLE, VEHICLE_CLASS_STYLE } from './palette.ts';
import type { VehiclesSnapshot } from './streamSchemas.ts';

export class VehicleLayer {
  mesh: InstancedMesh;
  private capacity = 0;
  private n = 0;
  private snapshotTime = Number.NaN;
  private lastDt = Number.NaN;
  private lastSnapshotTime = Number.NaN;
  private x = new Float32Array(0);
  private y = new Float32Array(0);
  private vx = new Float32Array(0);
  private vy = new Float32Array(0);
  /** Vehicles in the network per the server (the stream may carry fewer). */
  networkCount = 0;
  private readonly geometry: BoxGeometry;
  private readonly material = new MeshLambertMaterial();
  private readonly m4 = new Matrix4();
  private readonly q = new Quaternion();
  private readonly axis = new Vector3(0, 0, 1);
  private readonly pos = new Vector3();
  private readonly scale = new Vector3();
  private readonly colors = new Map<string, Color>();

  constructor(initialCapacity = 1024) {
    this.geometry = new BoxGeometry(1, 1, 1);
    this.geometry.translate(0, 0, 0.5); // sit on the road, not in it
    this.mesh = this.makeMesh(initialCapacity);
  }

  get count(): number {
    return this.n;
  }

  /** Called when the mesh is replaced by a larger one, so the owner can swap it in the scene. */
  onMeshReplaced: ((old: InstancedMesh, next: InstancedMesh) => void) | null = null;

  private makeMesh(capacity: number): InstancedMesh {
    const mesh = new InstancedMesh(this.geometry, this.material, capacity);
    mesh.name = 'vehicles';
    mesh.instanceMatrix.setUsage(DynamicDrawUsage);
    // Instances move anywhere in the network; a stale bounding sphere would cull them.
    mesh.frustumCulled = false;
    mesh.count = 0;
    mesh.renderOrder = 10;
    this.capacity = capacity;
    this.x = new Float32Array(capacity);
    this.y = new Float32Array(capacity);
    this.vx = new Float32Array(capacity);
    this.vy = new Float32Array(capacity);
    return mesh;
  }

  private colorOf(cls: string): Color {
    let c = this.colors.get(cls);
    if (!c) {
      c = new Color((VEHICLE_CLASS_STYLE[cls] ?? DEFAULT_VEHICLE_STYLE).hex);
      this.colors.set(cls, c);
    }
    return c;
  }

  setSnapshot(v: VehiclesSnapshot): void {
    const n = v.x.length;
    if (n > this.capacity) {
      const old = this.mesh;
      let cap = this.capacity;
      while (cap < n) cap *= 2;
      this.mesh = this.makeMesh(cap);
      this.onMeshReplaced?.(old, this.mesh);
      old.dispose();
    }
    const mesh = this.mesh;
    for (let i = 0; i < n; i++) {
      const h = v.heading[i];
      const s = v.speed[i];
      const cos = Math.cos(h);
      const sin = Math.sin(h);
      this.x[i] = v.x[i];
      this.y[i] = v.y[i];
      this.vx[i] = cos * s;
      this.vy[i] = sin * s;
      const style = VEHICLE_CLASS_STYLE[v.cls[i]] ?? DEFAULT_VEHICLE_STYLE;
      this.pos.set(v.x[i], v.y[i], 0);
      this.q.setFromAxisAngle(this.axis, h);
      this.scale.set(style.size[0], style.size[1], style.size[2]);
      mesh.setMatrixAt(i, this.m4.compose(this.pos, this.q, this.scale));
      mesh.setColorAt(i, this.colorOf(v.cls[i]));
    }
    mesh.count = n;
    this.n = n;
    this.snapshotTime = v.time;
    this.lastDt = Number.NaN;
    this.networkCount = v.count;
    mesh.instanceMatrix.needsUpdate = true;
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
  }

  /**
   * Moves every vehicle to where it would be at simulation time `simNow`, at most `maxAhead`
   * simulated seconds past its snapshot (beyond that straight-line guessing goes wrong at turns).
   * Only the translation column of each instance matrix changes; rotation and size stay as set.
   */
  update(simNow: number, maxAhead: number): void {
    if (this.n === 0 || !Number.isFinite(simNow)) return;
    const dt = Math.min(Math.max(0, simNow - this.snapshotTime), maxAhead);
    // Past the extrapolation limit (or a paused clock) nothing moves: skip the upload.
    if (dt === this.lastDt && this.snapshotTime === this.lastSnapshotTime) return;
    this.lastDt = dt;
    this.lastSnapshotTime = this.snapshotTime;
    const a = this.mesh.instanceMatrix.array as Float32Array;
    for (let i = 0, o = 12; i < this.n; i++, o += 16) {
      a[o] = this.x[i] + this.vx[i] * dt;
      a[o + 1] = this.y[i] + this.vy[i] * dt;
    }
    this.mesh.instanceMatrix.clearUpdateRanges();
    this.mesh.instanceMatrix.addUpdateRange(0, this.n * 16);
    this.mesh.instanceMatrix.needsUpdate = true;
  }

  dispose(): void {
    this.geometry.dispose();
    this.material.dispose();
    this.mesh.dispose();
  }
}
