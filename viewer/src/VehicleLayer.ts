/**
 * Vehicles, sized and coloured by class, in two levels of detail: close up an InstancedMesh of
 * low-poly boxes (five faces, ten triangles, shading baked into vertex colours so no lights are
 * needed), far out a point per vehicle (a 4.5 m car is a speck there, but traffic density still
 * shows). Only vehicles inside the view (with a margin) are written to the GPU.
 *
 * Stream updates give position, heading and speed; between updates each vehicle is carried
 * forward along its heading at its speed (the stream has no vehicle ids, so two snapshots cannot
 * be interpolated). That happens in the vertex shader: each instance holds its snapshot position
 * and velocity, and a frame only changes one uniform (the time since the snapshot), so nothing
 * is recomputed or uploaded per vehicle per frame. Typed arrays grow only when the vehicle count
 * outgrows them.
 */
import {
  BoxGeometry,
  BufferAttribute,
  BufferGeometry,
  Color,
  DynamicDrawUsage,
  Float32BufferAttribute,
  Frustum,
  Group,
  InstancedBufferAttribute,
  InstancedMesh,
  MeshBasicMaterial,
  Points,
  PointsMaterial,
  Sphere,
  type Material,
  type WebGLProgramParametersWithUniforms,
} from 'three';
import { DEFAULT_VEHICLE_STYLE, VEHICLE_CLASS_STYLE } from './palette.ts';
import type { VehiclesSnapshot } from './streamSchemas.ts';

/** Below this many screen pixels per metre (a car under about 2 px long) vehicles are points. */
export const VEHICLE_MESH_MIN_PX_PER_M = 0.45;
const HYSTERESIS = 1.1;
/** Point size in CSS pixels. */
const POINT_PX = 2.5;
/** Culling margin beyond the view (m): how far a vehicle can travel before the next snapshot. */
const CULL_MARGIN = 90;

/** Classes in a fixed order, so a vehicle's class is a small integer. */
const CLASSES = Object.keys(VEHICLE_CLASS_STYLE);
const DEFAULT_CLASS = CLASSES.indexOf('car');

/**
 * Adds `vehicleVelocity × vehicleDt` to the world position: the straight-line extrapolation,
 * done per vertex on the GPU instead of per vehicle on the CPU.
 */
function extrapolateInShader(material: Material, dt: { value: number }, instanced: boolean): void {
  material.onBeforeCompile = (shader: WebGLProgramParametersWithUniforms) => {
    shader.uniforms.vehicleDt = dt;
    shader.vertexShader = shader.vertexShader
      .replace('#include <common>', '#include <common>\nattribute vec2 vehicleVelocity;\nuniform float vehicleDt;')
      .replace(
        '#include <project_vertex>',
        [
          'vec4 mvPosition = vec4( transformed, 1.0 );',
          instanced ? 'mvPosition = instanceMatrix * mvPosition;' : '',
          'mvPosition.xy += vehicleVelocity * vehicleDt;',
          'mvPosition = modelViewMatrix * mvPosition;',
          'gl_Position = projectionMatrix * mvPosition;',
        ].join('\n'),
      );
  };
  material.customProgramCacheKey = () => (instanced ? 'vehicle-instanced' : 'vehicle-points');
}

/** A unit box standing on z = 0 without its bottom face, shaded per face by vertex colour. */
function vehicleBox(): BufferGeometry {
  const box = new BoxGeometry(1, 1, 1);
  box.translate(0, 0, 0.5);
  const normal = box.getAttribute('normal');
  const shade = new Float32Array(normal.count * 3);
  for (let v = 0; v < normal.count; v++) {
    // Roof brightest, flanks a little darker, nose and tail darkest: reads as a box with no lights.
    const s = normal.getZ(v) > 0.5 ? 1 : Math.abs(normal.getY(v)) > 0.5 ? 0.8 : 0.64;
    shade.fill(s, v * 3, v * 3 + 3);
  }
  const index = box.getIndex()!;
  const bottom = box.groups[5]; // BoxGeometry's faces: +x, -x, +y, -y, +z, -z
  const kept: number[] = [];
  for (let k = 0; k < index.count; k++) if (k < bottom.start || k >= bottom.start + bottom.count) kept.push(index.getX(k));
  const g = new BufferGeometry();
  g.setAttribute('position', box.getAttribute('position'));
  g.setAttribute('color', new Float32BufferAttribute(shade, 3));
  g.setIndex(kept);
  box.dispose();
  return g;
}

export class VehicleLayer {
  readonly group = new Group();
  mesh: InstancedMesh;
  points: Points;
  private capacity = 0;
  private n = 0;
  /** Instances written (vehicles in view). */
  private shown = 0;
  private snapshotTime = Number.NaN;
  private x = new Float32Array(0);
  private y = new Float32Array(0);
  private heading = new Float32Array(0);
  private vx = new Float32Array(0);
  private vy = new Float32Array(0);
  private cls = new Uint8Array(0);
  /** Vehicles in the network per the server (the stream may carry fewer). */
  networkCount = 0;
  private readonly dt = { value: 0 };
  private readonly boxGeometry = vehicleBox();
  private meshVelocity!: InstancedBufferAttribute;
  private readonly meshMaterial = new MeshBasicMaterial({ vertexColors: true });
  private readonly pointMaterial = new PointsMaterial({ size: POINT_PX, sizeAttenuation: false, vertexColors: true });
  private readonly classColor = CLASSES.map((c) => new Color(VEHICLE_CLASS_STYLE[c].hex));
  private readonly classSize = CLASSES.map((c) => VEHICLE_CLASS_STYLE[c].size);
  private detailed = true;
  /** Instances must be rewritten (new snapshot, view or level of detail). */
  private stale = false;
  private readonly frustum = new Frustum();
  private culling = false;
  private cullRadius = CULL_MARGIN;
  private readonly sphere = new Sphere();
  private readonly defaultClassColor = new Color(DEFAULT_VEHICLE_STYLE.hex);

  constructor(initialCapacity = 1024) {
    this.group.name = 'vehicles';
    extrapolateInShader(this.meshMaterial, this.dt, true);
    extrapolateInShader(this.pointMaterial, this.dt, false);
    this.mesh = this.makeMesh(initialCapacity);
    this.points = this.makePoints(initialCapacity);
    this.allocate(initialCapacity);
    this.group.add(this.mesh, this.points);
    this.points.visible = false;
  }

  get count(): number {
    return this.n;
  }

  /** Vehicles currently written to the GPU (those in view, with a margin). */
  get drawn(): number {
    return this.shown;
  }

  /** Seconds the shader carries vehicles past their snapshot. */
  get extrapolation(): number {
    return this.dt.value;
  }

  get isDetailed(): boolean {
    return this.detailed;
  }

  private allocate(capacity: number): void {
    this.capacity = capacity;
    this.x = new Float32Array(capacity);
    this.y = new Float32Array(capacity);
    this.heading = new Float32Array(capacity);
    this.vx = new Float32Array(capacity);
    this.vy = new Float32Array(capacity);
    this.cls = new Uint8Array(capacity);
  }

  private makeMesh(capacity: number): InstancedMesh {
    const mesh = new InstancedMesh(this.boxGeometry, this.meshMaterial, capacity);
    mesh.name = 'vehicle-boxes';
    mesh.instanceMatrix.setUsage(DynamicDrawUsage);
    mesh.instanceColor = new InstancedBufferAttribute(new Float32Array(capacity * 3), 3).setUsage(DynamicDrawUsage);
    // Per-instance velocity, read by the shader (the geometry is this layer's own).
    this.meshVelocity = new InstancedBufferAttribute(new Float32Array(capacity * 2), 2).setUsage(DynamicDrawUsage);
    this.boxGeometry.setAttribute('vehicleVelocity', this.meshVelocity);
    // Culled on the CPU per vehicle; three's whole-mesh test would use a stale bounding sphere.
    mesh.frustumCulled = false;
    mesh.count = 0;
    mesh.renderOrder = 10;
    return mesh;
  }

  private makePoints(capacity: number): Points {
    const g = new BufferGeometry();
    g.setAttribute('position', new Float32BufferAttribute(new Float32Array(capacity * 3), 3).setUsage(DynamicDrawUsage));
    g.setAttribute('color', new Float32BufferAttribute(new Float32Array(capacity * 3), 3).setUsage(DynamicDrawUsage));
    g.setAttribute('vehicleVelocity', new Float32BufferAttribute(new Float32Array(capacity * 2), 2).setUsage(DynamicDrawUsage));
    g.setDrawRange(0, 0);
    const p = new Points(g, this.pointMaterial);
    p.name = 'vehicle-points';
    p.frustumCulled = false;
    p.renderOrder = 10;
    return p;
  }

  /** Grows the GPU buffers (by doubling) to hold `n` vehicles. */
  private grow(n: number): void {
    let cap = this.capacity;
    while (cap < n) cap *= 2;
    const oldMesh = this.mesh;
    const oldPoints = this.points;
    this.mesh = this.makeMesh(cap);
    this.points = this.makePoints(cap);
    this.mesh.visible = oldMesh.visible;
    this.points.visible = oldPoints.visible;
    this.group.remove(oldMesh, oldPoints);
    this.group.add(this.mesh, this.points);
    oldMesh.dispose();
    oldPoints.geometry.dispose();
    this.allocate(cap);
  }

  setSnapshot(v: VehiclesSnapshot): void {
    const n = v.x.length;
    if (n > this.capacity) this.grow(n);
    for (let i = 0; i < n; i++) {
      const h = v.heading[i];
      const s = v.speed[i];
      this.x[i] = v.x[i];
      this.y[i] = v.y[i];
      this.heading[i] = h;
      this.vx[i] = Math.cos(h) * s;
      this.vy[i] = Math.sin(h) * s;
      const c = CLASSES.indexOf(v.cls[i]);
      this.cls[i] = c < 0 ? DEFAULT_CLASS : c;
    }
    this.n = n;
    this.snapshotTime = v.time;
    this.networkCount = v.count;
    this.stale = true;
  }

  /**
   * Picks boxes or points for the scale of the view and sets the pixel ratio points are sized
   * for; true when the level of detail changed.
   */
  setDetail(pixelsPerMetre: number, pixelRatio: number): boolean {
    this.pointMaterial.size = POINT_PX * pixelRatio;
    const want = this.detailed ? pixelsPerMetre >= VEHICLE_MESH_MIN_PX_PER_M / HYSTERESIS : pixelsPerMetre >= VEHICLE_MESH_MIN_PX_PER_M * HYSTERESIS;
    if (want === this.detailed) return false;
    this.detailed = want;
    this.mesh.visible = want;
    this.points.visible = !want;
    this.stale = true;
    return true;
  }

  /**
   * Restricts the vehicles written to those within the camera's frustum, widened by `margin`
   * metres beyond CULL_MARGIN (null: all of them).
   */
  setView(frustum: Frustum | null, margin = 0): void {
    this.culling = frustum !== null;
    if (frustum) this.frustum.copy(frustum);
    this.cullRadius = CULL_MARGIN + margin;
    this.stale = true;
  }

  /**
   * Carries every vehicle to where it would be at simulation time `simNow`, at most `maxAhead`
   * simulated seconds past its snapshot (beyond that straight-line guessing goes wrong at turns).
   * Returns whether anything drawn changed.
   */
  update(simNow: number, maxAhead: number): boolean {
    let changed = false;
    if (this.stale) {
      this.stale = false;
      this.write();
      changed = true;
    }
    if (this.n === 0 || !Number.isFinite(simNow)) return changed;
    const dt = Math.min(Math.max(0, simNow - this.snapshotTime), maxAhead);
    // Past the extrapolation limit (or a paused clock) nothing moves: nothing new to draw.
    if (dt !== this.dt.value) {
      this.dt.value = dt;
      if (this.shown > 0) changed = true;
    }
    return changed;
  }

  /** Writes the vehicles in view to the representation in use. */
  private write(): void {
    const sphere = this.sphere;
    const r = this.cullRadius;
    let k = 0;
    if (this.detailed) {
      const m = this.mesh.instanceMatrix.array as Float32Array;
      const col = this.mesh.instanceColor!.array as Float32Array;
      const vel = this.meshVelocity.array as Float32Array;
      for (let i = 0; i < this.n; i++) {
        if (this.culling && !this.frustum.intersectsSphere(sphere.set(sphere.center.set(this.x[i], this.y[i], 0), r))) continue;
        const c = this.cls[i];
        const size = this.classSize[c];
        const cos = Math.cos(this.heading[i]);
        const sin = Math.sin(this.heading[i]);
        // Rotation about z by the heading, scaled by the class's size, at the snapshot position.
        const o = k * 16;
        m[o] = cos * size[0];
        m[o + 1] = sin * size[0];
        m[o + 2] = 0;
        m[o + 3] = 0;
        m[o + 4] = -sin * size[1];
        m[o + 5] = cos * size[1];
        m[o + 6] = 0;
        m[o + 7] = 0;
        m[o + 8] = 0;
        m[o + 9] = 0;
        m[o + 10] = size[2];
        m[o + 11] = 0;
        m[o + 12] = this.x[i];
        m[o + 13] = this.y[i];
        m[o + 14] = 0;
        m[o + 15] = 1;
        this.colorTo(col, k * 3, c);
        vel[k * 2] = this.vx[i];
        vel[k * 2 + 1] = this.vy[i];
        k++;
      }
      this.mesh.count = k;
      this.upload(this.mesh.instanceMatrix, k);
      this.upload(this.mesh.instanceColor!, k);
      this.upload(this.meshVelocity, k);
    } else {
      const g = this.points.geometry;
      const pos = g.getAttribute('position').array as Float32Array;
      const col = g.getAttribute('color').array as Float32Array;
      const vel = g.getAttribute('vehicleVelocity').array as Float32Array;
      for (let i = 0; i < this.n; i++) {
        if (this.culling && !this.frustum.intersectsSphere(sphere.set(sphere.center.set(this.x[i], this.y[i], 0), r))) continue;
        pos[k * 3] = this.x[i];
        pos[k * 3 + 1] = this.y[i];
        pos[k * 3 + 2] = 1;
        this.colorTo(col, k * 3, this.cls[i]);
        vel[k * 2] = this.vx[i];
        vel[k * 2 + 1] = this.vy[i];
        k++;
      }
      g.setDrawRange(0, k);
      for (const name of ['position', 'color', 'vehicleVelocity']) this.upload(g.getAttribute(name) as BufferAttribute, k);
    }
    this.shown = k;
  }

  private colorTo(out: Float32Array, o: number, c: number): void {
    const color = this.classColor[c] ?? this.defaultClassColor;
    out[o] = color.r;
    out[o + 1] = color.g;
    out[o + 2] = color.b;
  }

  /** Uploads only the first `k` items of an attribute. */
  private upload(a: BufferAttribute, k: number): void {
    a.clearUpdateRanges();
    a.addUpdateRange(0, Math.max(1, k) * a.itemSize);
    a.needsUpdate = true;
  }

  dispose(): void {
    this.boxGeometry.dispose();
    this.meshMaterial.dispose();
    this.pointMaterial.dispose();
    this.mesh.dispose();
    this.points.geometry.dispose();
  }
}
