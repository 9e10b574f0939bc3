/**
 * The 3D stage: renderer, camera, map-style orbit controls and the render loop. The world is
 * z-up with x east and y north, the network's own metres, so no layer converts coordinates.
 */
import { Box3, Color, MOUSE, Object3D, PerspectiveCamera, Plane, Raycaster, Scene, Sphere, TOUCH, Vector2, Vector3, WebGLRenderer } from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { SCENE_HEX } from './palette.ts';

// Set before any object is made: cameras and controls take their `up` from it.
Object3D.DEFAULT_UP.set(0, 0, 1);

export type FrameCallback = (wallMs: number) => void;
/** Called after a frame was drawn, or on a tick where nothing changed and none was drawn. */
export type AfterFrameCallback = (wallMs: number, rendered: boolean) => void;

/** The WebGL renderer string, from a throwaway context (so it can shape the real one). */
export function probeGpu(): string {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return 'no WebGL2';
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return name;
}

/**
 * `high`: MSAA and the device's pixel ratio (up to 2). `low`: neither. `auto` picks low on a
 * software rasteriser (SwiftShader, llvmpipe), where multisampling costs most of the frame.
 * The page's `?quality=` overrides.
 */
export type Quality = 'auto' | 'high' | 'low';

function resolveQuality(q: Quality, gpu: string): 'high' | 'low' {
  if (q !== 'auto') return q;
  return /swiftshader|llvmpipe|software|softpipe/i.test(gpu) ? 'low' : 'high';
}

export class Viewport {
  readonly scene = new Scene();
  readonly camera = new PerspectiveCamera(40, 1, 1, 20_000);
  readonly renderer: WebGLRenderer;
  readonly controls: OrbitControls;
  private readonly beforeRender: FrameCallback[] = [];
  private readonly afterRender: AfterFrameCallback[] = [];
  private readonly cameraChanged: (() => void)[] = [];
  /**
   * Render on demand: a frame is drawn only when something asked for it (camera, data, UI), so an
   * idle view costs nothing; `continuous` draws every frame (frame-time measurement).
   */
  private dirty = true;
  continuous = false;
  /** Frames drawn, and animation ticks that had nothing to draw. */
  rendered = 0;
  skipped = 0;
  private readonly resizeObserver: ResizeObserver;
  private readonly sphere = new Sphere();
  private readonly offset = new Vector3();
  private readonly corner = new Vector3();

  readonly gpu: string;
  readonly quality: 'high' | 'low';

  constructor(
    readonly container: HTMLElement,
    quality: Quality = 'auto',
  ) {
    this.gpu = probeGpu();
    this.quality = resolveQuality(quality, this.gpu);
    const high = this.quality === 'high';
    this.renderer = new WebGLRenderer({ antialias: high, powerPreference: 'high-performance' });
    // Fill cost grows with the square of the ratio: past 2 the picture gains little.
    this.renderer.setPixelRatio(high ? Math.min(window.devicePixelRatio, 2) : 1);
    this.renderer.domElement.classList.add('viewport-canvas');
    container.appendChild(this.renderer.domElement);
    this.scene.background = new Color(SCENE_HEX.background);

    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    // Map-style: drag pans over the ground, right-drag tilts and turns, wheel zooms to the cursor.
    this.controls.mouseButtons = { LEFT: MOUSE.PAN, MIDDLE: MOUSE.DOLLY, RIGHT: MOUSE.ROTATE };
    this.controls.touches = { ONE: TOUCH.PAN, TWO: TOUCH.DOLLY_ROTATE };
    this.controls.screenSpacePanning = false;
    this.controls.zoomToCursor = true;
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.controls.maxPolarAngle = Math.PI * 0.47;
    this.controls.minDistance = 15;
    this.controls.addEventListener('change', () => {
      this.dirty = true;
      for (const cb of this.cameraChanged) cb();
    });

    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.resize();
  }

  onBeforeRender(cb: FrameCallback): void {
    this.beforeRender.push(cb);
  }

  onAfterRender(cb: AfterFrameCallback): void {
    this.afterRender.push(cb);
  }

  /** Called whenever the camera moved (pan, zoom, rotate, fly-to, fit, resize). */
  onCameraChange(cb: () => void): void {
    this.cameraChanged.push(cb);
  }

  /** Asks for a frame to be drawn on the next animation tick. */
  requestRender(): void {
    this.dirty = true;
  }

  setPixelRatio(ratio: number): void {
    this.renderer.setPixelRatio(ratio);
    this.resize();
  }

  /**
   * Screen pixels per metre on the ground at the point looked at: what decides how much detail
   * is worth drawing (a 4.5 m car is a speck below about 0.45 px/m).
   */
  pixelsPerMetre(): number {
    const d = this.camera.position.distanceTo(this.controls.target);
    const h = this.renderer.domElement.clientHeight || this.container.clientHeight || 1;
    return h / (2 * d * Math.tan((this.camera.fov * Math.PI) / 360));
  }

  start(): void {
    this.renderer.setAnimationLoop((t: number) => this.frame(t));
  }

  stop(): void {
    this.renderer.setAnimationLoop(null);
  }

  dispose(): void {
    this.stop();
    this.resizeObserver.disconnect();
    this.controls.dispose();
    this.renderer.dispose();
    this.renderer.domElement.remove();
  }

  private frame(t: number): void {
    if (this.flight) {
      this.flight(performance.now());
      this.controlsMoved();
    }
    this.controls.update(); // emits 'change' while the camera moves (damping included)
    for (const cb of this.beforeRender) cb(t);
    const draw = this.dirty || this.continuous;
    if (draw) {
      this.dirty = false;
      this.renderer.render(this.scene, this.camera);
      this.rendered++;
    } else {
      this.skipped++;
    }
    for (const cb of this.afterRender) cb(t, draw);
  }

  private controlsMoved(): void {
    this.dirty = true;
    for (const cb of this.cameraChanged) cb();
  }

  private resize(): void {
    const w = Math.max(1, this.container.clientWidth);
    const h = Math.max(1, this.container.clientHeight);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.controlsMoved();
  }

  /**
   * Frames a box: looks at its centre from the south, tilted `tiltDeg` from straight down, and
   * moves in or out until the box's corners fill the view (projected with the camera itself;
   * a few rounds converge because the image scales about inversely with distance).
   */
  fit(box: Box3, tiltDeg = 38, margin = 0.86): void {
    box.getBoundingSphere(this.sphere);
    const tilt = (tiltDeg * Math.PI) / 180;
    let d = Math.max(this.sphere.radius, 50) / Math.tan((this.camera.fov * Math.PI) / 360);
    for (let round = 0; round < 4; round++) {
      this.place(this.sphere.center, tilt, d);
      let extent = 0;
      for (let k = 0; k < 8; k++) {
        this.corner.set(k & 1 ? box.max.x : box.min.x, k & 2 ? box.max.y : box.min.y, k & 4 ? box.max.z : box.min.z).project(this.camera);
        extent = Math.max(extent, Math.abs(this.corner.x), Math.abs(this.corner.y));
      }
      if (extent > 0) d *= extent / margin;
    }
    this.place(this.sphere.center, tilt, d);
    this.controls.maxDistance = d * 4;
    this.controls.update();
    this.controlsMoved();
  }

  private place(center: Vector3, tilt: number, d: number): void {
    this.offset.set(0, -Math.sin(tilt) * d, Math.cos(tilt) * d);
    this.camera.position.copy(center).add(this.offset);
    this.camera.near = Math.max(0.5, d / 1000);
    this.camera.far = d * 10;
    this.camera.lookAt(center);
    this.camera.updateProjectionMatrix();
    this.camera.updateMatrixWorld();
    this.controls.target.copy(center);
  }

  /**
   * Glides the view to look at (x, y) from `distance` (default: the current distance, capped so
   * the place is seen up close) over `ms`; the controls keep working during the glide.
   */
  flyTo(x: number, y: number, distance?: number, ms = 700): void {
    const from = this.controls.target.clone();
    const offset = this.camera.position.clone().sub(from);
    const d0 = offset.length();
    const d1 = distance ?? Math.min(d0, 350);
    const to = new Vector3(x, y, 0);
    const t0 = performance.now();
    this.flight = (now) => {
      const k = Math.min(1, (now - t0) / ms);
      const e = k < 0.5 ? 2 * k * k : 1 - (-2 * k + 2) ** 2 / 2;
      this.controls.target.lerpVectors(from, to, e);
      this.camera.position.copy(this.controls.target).addScaledVector(offset, (d0 + (d1 - d0) * e) / d0);
      if (k >= 1) this.flight = null;
    };
  }

  private flight: ((now: number) => void) | null = null;
  private readonly ray = new Raycaster();
  private readonly ndc = new Vector2();
  private readonly ground = new Plane(new Vector3(0, 0, 1), 0);

  /** The ground point (z = 0) under a client point, or null when the ray misses the ground. */
  groundPoint(clientX: number, clientY: number): { x: number; y: number } | null {
    const rect = this.renderer.domElement.getBoundingClientRect();
    this.ndc.set(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    this.ray.setFromCamera(this.ndc, this.camera);
    const hit = this.ray.ray.intersectPlane(this.ground, this.corner);
    return hit ? { x: hit.x, y: hit.y } : null;
  }

  /** Client (CSS pixel) coordinates of a world point, or null when it is behind the camera. */
  toClient(p: Vector3, out: { x: number; y: number }): { x: number; y: number } | null {
    this.offset.copy(p).project(this.camera);
    if (this.offset.z > 1) return null;
    const rect = this.renderer.domElement.getBoundingClientRect();
    out.x = rect.left + ((this.offset.x + 1) / 2) * rect.width;
    out.y = rect.top + ((1 - this.offset.y) / 2) * rect.height;
    return out;
  }
}
