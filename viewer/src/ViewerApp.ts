/**
 * The signed-in viewer: builds the layers for a network, wires the live stream to them, and owns
 * the page chrome (top bar, legend, panels). One instance per sign-in; dispose() tears it down.
 */
import { Frustum, GridHelper, Group, Matrix4, Vector3 } from 'three';
import type { NetworkView } from './api.ts';
import { h } from './dom.ts';
import { FrameStats } from './FrameStats.ts';
import { ApiClient } from './http.ts';
import { MapOverlay } from './MapOverlay.ts';
import { AlertsPanel } from './panels/AlertsPanel.ts';
import { ControllersPanel } from './panels/ControllersPanel.ts';
import { EmergencyPanel } from './panels/EmergencyPanel.ts';
import { ForecastPanel } from './panels/ForecastPanel.ts';
import { NetworkDrawer } from './panels/NetworkDrawer.ts';
import type { MapPicker, PanelContext } from './panels/PanelContext.ts';
import { WhatIfPanel } from './panels/WhatIfPanel.ts';
import { IntersectionLayer } from './IntersectionLayer.ts';
import { IntersectionPanel } from './IntersectionPanel.ts';
import { LabelLayer } from './LabelLayer.ts';
import { Legend } from './Legend.ts';
import { flat, NetworkLayer } from './NetworkLayer.ts';
import { SCENE_HEX } from './palette.ts';
import { QueueLayer } from './QueueLayer.ts';
import { SignalLayer } from './SignalLayer.ts';
import { SignalState } from './SignalState.ts';
import { formatSimTime, SimClock } from './SimClock.ts';
import { StatusIndicator } from './StatusIndicator.ts';
import { StreamClient } from './StreamClient.ts';
import { samplePixels } from './pixelSample.ts';
import type { PixelSample, ViewerStats } from './testHooks.ts';
import { VehicleLayer } from './VehicleLayer.ts';
import { Viewport } from './Viewport.ts';

export interface ViewerAppOptions {
  token: string;
  network: NetworkView;
  /** Called when the viewer ends the session (sign-out, or the server refused the token). */
  onSignedOut: (message: string | null) => void;
}

/** Longest straight-line extrapolation of a vehicle past its last report (simulated s). */
const MAX_EXTRAPOLATION = 3;
/** Least wall time between two vehicle culls while the camera moves (ms); snapshots cull too. */
const CULL_INTERVAL = 100;

export class ViewerApp {
  readonly element: HTMLElement;
  private readonly viewport: Viewport;
  private readonly stream: StreamClient;
  private readonly network: NetworkLayer;
  private readonly queues: QueueLayer;
  private readonly signals: SignalState;
  private readonly signalLayer: SignalLayer;
  private readonly vehicles: VehicleLayer;
  private readonly junctions: IntersectionLayer;
  private readonly labels: LabelLayer;
  private readonly panel: IntersectionPanel;
  private readonly drawer: NetworkDrawer;
  private readonly api: ApiClient;
  private readonly overlay: MapOverlay;
  /** A what-if replay's vehicles, shown instead of the live ones while it plays. */
  private readonly replayVehicles: VehicleLayer;
  private readonly alertsPanel: AlertsPanel;
  private readonly whatifPanel: WhatIfPanel;
  private readonly emergencyPanel: EmergencyPanel;
  private readonly forecastPanel: ForecastPanel;
  private picker: MapPicker | null = null;
  private readonly pickHint = h('div', { class: 'pick-hint', hidden: true });
  private liveRatios: readonly number[] = [];
  private laneOverride = false;
  private readonly legend = new Legend();
  private readonly status = new StatusIndicator();
  private readonly stats = new FrameStats();
  private readonly clock = new SimClock();
  private readonly clockText = h('span', { class: 'sim-clock mono' }, '–:––:––');
  private readonly countText = h('span', { class: 'vehicle-count' }, '');
  private readonly buttons = new Map<string, HTMLButtonElement>();
  private readonly pointer = { x: 0, y: 0, moved: false, downX: 0, downY: 0, down: false };
  private readonly tmp = new Vector3();
  private gridFine!: GridHelper;
  private gridCoarse!: GridHelper;
  private readonly frustum = new Frustum();
  private readonly viewProjection = new Matrix4();
  /** The camera moved since the level of detail and the vehicle culling were last decided. */
  private viewMoved = true;
  private lastCull = -Infinity;
  /** A frame-time measurement is running (frames are drawn continuously meanwhile). */
  private measuring = false;
  private hovered = -1;
  private simNow = Number.NaN;
  private lastClockSecond = Number.NaN;
  private disposed = false;
  private readonly pixelRequests: ((s: PixelSample) => void)[] = [];
  private readonly onKey = (ev: KeyboardEvent) => this.key(ev);
  private readonly hook: ViewerStats = {
    ready: true,
    status: 'connecting',
    frames: 0,
    signalChanges: 0,
    vehiclesDrawn: 0,
    vehiclesInNetwork: 0,
    lanes: 0,
    laneLinks: 0,
    intersections: 0,
    signalised: 0,
    simTime: Number.NaN,
    messages: {},
    invalidMessages: 0,
    selectedIntersection: null,
    drawCalls: 0,
    triangles: 0,
    lines: 0,
    points: 0,
    framesSkipped: 0,
    vehiclesInView: 0,
    detail: '',
    gpu: '',
    snapshot: () => {
      throw new Error('not ready');
    },
    measureFrames: () => Promise.reject(new Error('not ready')),
  };

  constructor(
    host: HTMLElement,
    private readonly options: ViewerAppOptions,
  ) {
    const net = options.network;
    const stage = h('div', { class: 'stage' });
    const topbar = this.topbar(net);
    this.element = h('div', { class: 'viewer' }, topbar, stage);
    host.replaceChildren(this.element);

    const q = new URLSearchParams(window.location.search).get('quality');
    this.viewport = new Viewport(stage, q === 'high' || q === 'low' ? q : 'auto');
    const scene = this.viewport.scene;
    const redraw = () => this.viewport.requestRender();
    this.network = new NetworkLayer(net);
    this.queues = new QueueLayer(net);
    this.signals = new SignalState(net.movements.length, net.intersections.length);
    this.signalLayer = new SignalLayer(net, this.signals, this.network.tiles);
    this.signalLayer.onChange = redraw;
    this.vehicles = new VehicleLayer(8192);
    this.junctions = new IntersectionLayer(net);
    this.labels = new LabelLayer(net, stage, scene);
    this.api = new ApiClient(options.token);
    this.panel = new IntersectionPanel(net, this.signals, () => this.simNow, this.api);
    this.panel.onClose = () => this.select(-1);
    this.addGround(scene);
    this.overlay = new MapOverlay(net);
    this.overlay.onChange = redraw;
    this.replayVehicles = new VehicleLayer(256);
    this.replayVehicles.group.visible = false;
    this.replayVehicles.group.name = 'replay-vehicles';
    // No lights: every material is unlit (vehicle shading is baked into vertex colours).
    scene.add(this.network.group, this.queues.mesh, this.signalLayer.group, this.junctions.group, this.overlay.group, this.vehicles.group, this.replayVehicles.group);

    const ctx = this.panelContext();
    this.alertsPanel = new AlertsPanel(ctx);
    this.whatifPanel = new WhatIfPanel(ctx, { showReplayFrame: (f) => this.showReplayFrame(f) });
    this.emergencyPanel = new EmergencyPanel(ctx);
    this.forecastPanel = new ForecastPanel(ctx);
    this.drawer = new NetworkDrawer([this.whatifPanel, this.emergencyPanel, this.alertsPanel, new ControllersPanel(ctx), this.forecastPanel]);
    this.drawer.onChange = (open) => {
      for (const p of this.drawer.panels) this.setPressed(p.id, open === p.id);
    };
    const rail = h('nav', { class: 'rail', 'aria-label': 'Network panels' }, ...this.drawer.panels.map((p) => this.button(p.id, p.title, `${p.title} panel`, () => this.drawer.toggle(p.id), true)));
    const alertCount = h('span', { class: 'count-badge', hidden: true });
    this.buttons.get('alerts')?.append(alertCount);
    this.alertsPanel.onCount = (n, critical) => {
      alertCount.hidden = n === 0;
      alertCount.textContent = String(n);
      alertCount.classList.toggle('critical', critical > 0);
    };
    stage.append(rail, this.legend.element, this.stats.element, this.panel.element, this.drawer.element, this.pickHint, h('div', { class: 'hint muted small' }, 'Drag: pan · Right-drag: rotate · Wheel: zoom · Click a junction for details'));
    // A drawer tall enough to reach the legend (under the rail) would half hide it: the legend
    // then moves beside the drawer. Checked whenever the drawer opens, closes or changes height.
    const placeLegend = () => {
      const drawer = this.drawer.element;
      const reaches = !drawer.hidden && drawer.getBoundingClientRect().bottom > this.legend.element.getBoundingClientRect().top - 8;
      stage.classList.toggle('legend-beside-drawer', reaches);
    };
    new ResizeObserver(placeLegend).observe(this.drawer.element);
    window.addEventListener('resize', placeLegend);
    this.stats.describe = () => {
      const info = this.viewport.renderer.info.render;
      return `${info.calls} draws · ${(info.triangles / 1000).toFixed(0)}k tris · ${this.vehicles.count} veh`;
    };

    this.stream = new StreamClient({ token: options.token, rate: 5 });
    this.wireStream();
    this.wirePointer(this.viewport.renderer.domElement);
    window.addEventListener('keydown', this.onKey);

    this.viewport.onBeforeRender((t) => this.beforeRender(t));
    this.viewport.onAfterRender((t, rendered) => this.afterRender(t, rendered));
    this.viewport.onCameraChange(() => {
      this.viewMoved = true;
    });
    this.viewport.fit(this.network.bounds);
    this.exposeHooks();
    this.viewport.start();
    this.stream.start();
  }

  // ------------------------------------------------------------------ chrome

  private button(id: string, label: string, title: string, onClick: () => void, toggle = false): HTMLButtonElement {
    const b = h('button', { type: 'button', class: 'tool', title, 'data-action': id, 'aria-pressed': toggle ? 'false' : undefined }, label);
    b.addEventListener('click', onClick);
    this.buttons.set(id, b);
    return b;
  }

  private topbar(net: NetworkView): HTMLElement {
    const button = this.button.bind(this);
    return h(
      'header',
      { class: 'topbar' },
      h('div', { class: 'brand' }, h('span', { class: 'brand-mark small', 'aria-hidden': 'true' }, h('span', { class: 'lamp red' }), h('span', { class: 'lamp amber' }), h('span', { class: 'lamp green' })), h('strong', {}, 'Traffic twin'), h('span', { class: 'muted' }, net.name)),
      h('div', { class: 'telemetry' }, h('span', { class: 'muted' }, 'Sim time'), this.clockText, this.countText),
      this.status.element,
      h(
        'nav',
        { class: 'tools', 'aria-label': 'View tools' },
        button('fit', 'Fit', 'Fit the whole network in view (F)', () => this.fit()),
        button('labels', 'Labels', 'Street labels (L)', () => this.toggleLabels(), true),
        button('queues', 'Queues', 'Queue bars: stopped vehicles per lane (Q)', () => this.toggleQueues(), true),
        button('perf', 'FPS', 'Frame-time readout (P)', () => this.togglePerf(), true),
        h('span', { class: 'sep' }),
        button('signout', 'Sign out', 'Forget the token and sign out', () => this.end(null)),
      ),
    );
  }

  private setPressed(id: string, on: boolean): void {
    this.buttons.get(id)?.setAttribute('aria-pressed', String(on));
  }

  private fit(): void {
    this.viewport.fit(this.network.bounds);
  }

  private toggleLabels(): void {
    this.labels.setEnabled(!this.labels.on);
    this.setPressed('labels', this.labels.on);
    this.viewport.requestRender();
  }

  private toggleQueues(): void {
    this.queues.mesh.visible = !this.queues.mesh.visible;
    this.setPressed('queues', this.queues.mesh.visible);
    this.viewport.requestRender();
  }

  private togglePerf(): void {
    this.stats.setVisible(!this.stats.shown);
    this.setPressed('perf', this.stats.shown);
    this.updateContinuous();
  }

  /**
   * Frames are drawn on demand, except while frame times are shown or measured: an idle view
   * would otherwise have no frames to time.
   */
  private updateContinuous(): void {
    this.viewport.continuous = this.stats.shown || this.measuring;
  }

  private panelContext(): PanelContext {
    return {
      net: this.options.network,
      api: this.api,
      overlay: this.overlay,
      flyTo: (x, y) => this.viewport.flyTo(x, y),
      setPicker: (p) => {
        this.picker = p;
        this.pickHint.hidden = p === null;
        this.pickHint.textContent = p ? `${p.hint} · Esc to stop` : '';
        this.viewport.renderer.domElement.style.cursor = p ? 'crosshair' : '';
      },
      selectIntersection: (k) => this.select(k),
      setLaneOverride: (ratios, label) => {
        this.laneOverride = ratios !== null;
        if (this.network.setSpeedRatios(ratios ?? this.liveRatios)) this.viewport.requestRender();
        this.legend.setHorizon(label);
      },
      simNow: () => this.simNow,
    };
  }

  /** Shows a replay frame ([x, y, heading] per vehicle) in place of the live vehicles; null: live again. */
  private showReplayFrame(frame: { time: number; ids: number[]; poses: number[] } | null): void {
    this.viewport.requestRender();
    if (!frame) {
      this.replayVehicles.group.visible = false;
      this.vehicles.group.visible = true;
      return;
    }
    const n = Math.floor(frame.poses.length / 3);
    const x = new Array<number>(n);
    const y = new Array<number>(n);
    const heading = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      x[k] = frame.poses[3 * k];
      y[k] = frame.poses[3 * k + 1];
      heading[k] = frame.poses[3 * k + 2];
    }
    this.replayVehicles.setSnapshot({ time: frame.time, count: n, x, y, heading, speed: new Array<number>(n).fill(0), cls: new Array<string>(n).fill('car') });
    this.replayVehicles.group.visible = true;
    this.vehicles.group.visible = false;
  }

  private key(ev: KeyboardEvent): void {
    if (ev.target instanceof HTMLInputElement || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    switch (ev.key) {
      case 'f':
      case 'F':
        this.fit();
        break;
      case 'l':
      case 'L':
        this.toggleLabels();
        break;
      case 'q':
      case 'Q':
        this.toggleQueues();
        break;
      case 'p':
      case 'P':
        this.togglePerf();
        break;
      case 'Escape':
        if (this.picker) this.panelContext().setPicker(null);
        else this.select(-1);
        break;
    }
  }

  /**
   * A grid on the ground for scale: 100 m close up, 1 km zoomed out (where 100 m lines would be
   * a few pixels apart, and hundreds of screen-long lines cost software WebGL a lot of fill).
   * The ground itself is the scene's background colour: a ground plane would cost a full-screen
   * fill per frame.
   */
  private addGround(scene: Viewport['scene']): void {
    const b = this.network.bounds;
    const grids = [100, 1000].map((step) => {
      const size = Math.ceil((Math.max(b.max.x - b.min.x, b.max.y - b.min.y) * 3 + 1000) / step);
      const grid = new GridHelper(size * step, size, SCENE_HEX.grid, SCENE_HEX.grid);
      grid.rotateX(Math.PI / 2); // GridHelper lies in XZ; the ground here is XY
      grid.position.set(Math.round((b.min.x + b.max.x) / (2 * step)) * step, Math.round((b.min.y + b.max.y) / (2 * step)) * step, -0.4);
      grid.name = `grid-${step}m`;
      return flat(grid, 0.5);
    });
    this.gridFine = grids[0];
    this.gridCoarse = grids[1];
    this.gridCoarse.visible = false;
    const group = new Group();
    group.name = 'grid';
    group.add(...grids);
    scene.add(group);
  }

  // ------------------------------------------------------------------ live data

  private wireStream(): void {
    const s = this.stream;
    s.on('signals', 'snapshot', (d) => {
      this.signals.applySnapshot(d);
      this.clock.observe(d.time, performance.now());
    });
    s.on('signals', 'delta', (d) => this.signals.applyDelta(d));
    s.on('lanes', 'snapshot', (d) => {
      this.liveRatios = d.speedRatio;
      if (!this.laneOverride && this.network.setSpeedRatios(d.speedRatio)) this.viewport.requestRender();
      if (this.queues.setQueues(d.queue) && this.queues.mesh.visible) this.viewport.requestRender();
      this.legend.setSource(d.source);
      this.clock.observe(d.time, performance.now());
    });
    s.on('vehicles', 'snapshot', (d) => {
      this.vehicles.setSnapshot(d);
      this.clock.observe(d.time, performance.now());
      const text = d.count > d.x.length ? `${d.x.length.toLocaleString()} of ${d.count.toLocaleString()} vehicles shown` : `${d.count.toLocaleString()} vehicles`;
      if (this.countText.textContent !== text) this.countText.textContent = text;
    });
    s.on('alerts', 'snapshot', (d) => this.alertsPanel.update(d));
    s.on('alerts', 'delta', (d) => this.alertsPanel.update(d));
    s.on('whatif', 'snapshot', (d) => this.whatifPanel.onRuns(d.runs));
    s.on('whatif', 'event', (d) => {
      for (const run of 'runs' in d ? d.runs : [d]) this.whatifPanel.onRunEvent(run);
    });
    s.on('emergency', 'snapshot', (d) => this.emergencyPanel.onLive(d));
    s.on('emergency', 'delta', (d) => this.emergencyPanel.onLive(d));
    s.on('emergency', 'event', (d) => this.emergencyPanel.onLive(d));
    s.on('forecasts', 'snapshot', (d) => this.forecastPanel.update(d));
    s.on('forecasts', 'delta', (d) => this.forecastPanel.update(d));
    s.on('forecasts', 'event', (d) => this.forecastPanel.update(d));
    s.onStatus((st) => {
      this.status.set(st);
      if (st.kind === 'token-refused') this.end('The server refused your token (it may have been revoked). Sign in again.');
    });
  }

  // ------------------------------------------------------------------ picking

  private wirePointer(canvas: HTMLCanvasElement): void {
    const p = this.pointer;
    canvas.addEventListener('pointermove', (ev) => {
      p.x = ev.clientX;
      p.y = ev.clientY;
      p.moved = true;
    });
    canvas.addEventListener('pointerleave', () => {
      p.moved = false;
      this.setHover(-1);
    });
    canvas.addEventListener('pointerdown', (ev) => {
      p.down = ev.button === 0;
      p.downX = ev.clientX;
      p.downY = ev.clientY;
    });
    canvas.addEventListener('pointerup', (ev) => {
      // A click, not the end of a pan.
      if (!p.down || ev.button !== 0 || Math.hypot(ev.clientX - p.downX, ev.clientY - p.downY) > 5) return;
      p.down = false;
      if (this.picker) {
        const g = this.viewport.groundPoint(ev.clientX, ev.clientY);
        if (g) this.picker.onPick(g);
        return;
      }
      this.select(this.junctions.pick(ev.clientX, ev.clientY, canvas, this.viewport.camera));
    });
  }

  private setHover(index: number): void {
    if (index === this.hovered) return;
    this.hovered = index;
    this.junctions.setHovered(index === this.panel.shown ? -1 : index);
    this.viewport.renderer.domElement.style.cursor = index >= 0 ? 'pointer' : '';
    this.viewport.requestRender();
  }

  private select(index: number): void {
    this.junctions.setSelected(index);
    if (index >= 0) this.panel.show(index);
    else this.panel.hide();
    this.junctions.setHovered(-1);
    this.hovered = -1;
    this.viewport.requestRender();
  }

  // ------------------------------------------------------------------ frame

  private beforeRender(_t: number): void {
    this.stats.beginFrame();
    const wall = performance.now();
    this.simNow = this.clock.now(wall);
    if (this.viewMoved) this.adaptToView(wall);
    const ahead = Math.min(MAX_EXTRAPOLATION, this.clock.updateInterval * 1.5);
    if (this.vehicles.update(this.simNow, ahead) && this.vehicles.group.visible) this.viewport.requestRender();
    if (this.replayVehicles.group.visible && this.replayVehicles.update(Number.NaN, 0)) this.viewport.requestRender();
    if (this.pointer.moved) {
      this.pointer.moved = false;
      this.setHover(this.junctions.pick(this.pointer.x, this.pointer.y, this.viewport.renderer.domElement, this.viewport.camera));
    }
  }

  /**
   * After the camera moved: the level of detail for the new scale (ribbons or lines, boxes or
   * points) and, at most every CULL_INTERVAL ms, which vehicles are in view.
   */
  private adaptToView(wall: number): void {
    const vp = this.viewport;
    const ppm = vp.pixelsPerMetre();
    const ratio = vp.renderer.getPixelRatio();
    if (this.network.setDetail(ppm)) vp.requestRender();
    // 100 m lines at least 15 px apart, else the 1 km grid.
    this.gridFine.visible = ppm >= 0.15;
    this.gridCoarse.visible = !this.gridFine.visible;
    this.signalLayer.setDetailed(this.network.isDetailed, ratio);
    this.vehicles.setDetail(ppm, ratio);
    this.replayVehicles.setDetail(ppm, ratio);
    if (wall - this.lastCull < CULL_INTERVAL) return; // stays pending: viewMoved is still set
    this.viewMoved = false;
    this.lastCull = wall;
    const cam = vp.camera;
    cam.updateMatrixWorld();
    this.frustum.setFromProjectionMatrix(this.viewProjection.multiplyMatrices(cam.projectionMatrix, cam.matrixWorldInverse));
    // The margin grows with the view, so vehicles just outside it are there while panning.
    const margin = cam.position.distanceTo(vp.controls.target) * 0.1;
    this.vehicles.setView(this.frustum, margin);
    this.replayVehicles.setView(this.frustum, margin);
  }

  private afterRender(t: number, rendered: boolean): void {
    if (rendered) this.labels.render(this.viewport.scene, this.viewport.camera, this.viewport.controls.target);
    // The clock text changes once a simulated second; format only then (no string per frame).
    const second = Math.floor(this.simNow);
    if (second !== this.lastClockSecond && Number.isFinite(second)) {
      this.lastClockSecond = second;
      this.clockText.textContent = formatSimTime(second);
    }
    if (rendered) this.stats.endFrame(t);
    this.updateHook();
    if (this.pixelRequests.length > 0 && !rendered) this.viewport.requestRender();
    else if (this.pixelRequests.length > 0) {
      // Read right after rendering, while the drawing buffer still holds this frame.
      const sample = samplePixels(this.viewport.renderer.domElement);
      for (const r of this.pixelRequests.splice(0)) r(sample);
    }
  }

  // ------------------------------------------------------------------ hooks & teardown

  private exposeHooks(): void {
    const net = this.options.network;
    const hook = this.hook;
    hook.lanes = net.lanes.length;
    hook.laneLinks = net.laneLinks.length;
    hook.intersections = net.intersections.length;
    hook.signalised = this.junctions.signalised.length;
    hook.gpu = this.viewport.gpu;
    hook.messages = this.stream.received;
    hook.measureFrames = async (ms) => {
      this.measuring = true;
      this.updateContinuous();
      try {
        return await this.stats.measure(ms);
      } finally {
        this.measuring = false;
        this.updateContinuous();
      }
    };
    hook.snapshot = () => {
      const { snapshot: _s, measureFrames: _m, ...plain } = hook;
      return { ...plain, messages: { ...plain.messages } };
    };
    window.__viewerStats = hook;
    window.__viewerTest = {
      screenPointOf: (id) => {
        const k = net.intersections.findIndex((i) => i.id === id);
        if (k < 0) return null;
        return this.viewport.toClient(this.junctions.centre(k, this.tmp), { x: 0, y: 0 });
      },
      signalisedIds: () => this.junctions.signalised.map((k) => net.intersections[k].id),
      screenPointOfRoad: (id) => {
        const road = net.roads.find((r) => r.id === id);
        const lane = road ? net.lanes[road.lanes[0]] : undefined;
        if (!lane) return null;
        // Halfway between the lane's ends (roads here are straight or gently bent).
        const l = lane.line;
        const a = [(l[0] + l[l.length - 2]) / 2, (l[1] + l[l.length - 1]) / 2];
        return this.viewport.toClient(this.tmp.set(a[0], a[1], 0), { x: 0, y: 0 });
      },
      fit: () => this.fit(),
      cameraTarget: () => ({ x: this.viewport.controls.target.x, y: this.viewport.controls.target.y }),
      layers: () => {
        // Top-level objects and the named parts of the network and vehicle groups.
        const names: string[] = [];
        for (const o of this.viewport.scene.children) {
          names.push(o.name || o.type);
          if (o === this.network.group) for (const c of [...o.children, ...this.network.near.children]) if (c.name && c !== this.network.near) names.push(c.name);
          if (o === this.signalLayer.group) for (const c of o.children) names.push(c.name);
        }
        return names;
      },
      setLayerVisible: (name, visible) => {
        this.viewport.scene.traverse((o) => {
          if ((o.name || (o.parent === this.viewport.scene ? o.type : '')) === name) o.visible = visible;
        });
        this.viewport.requestRender();
      },
      setPixelRatio: (ratio) => {
        this.viewport.setPixelRatio(ratio);
        this.viewMoved = true;
      },
      samplePixels: () => new Promise((resolve) => this.pixelRequests.push(resolve)),
    };
  }

  /** Refreshes the test hook's fields in place, once per frame (assignments only). */
  private updateHook(): void {
    const hook = this.hook;
    const info = this.viewport.renderer.info.render;
    hook.status = this.stream.status.kind;
    hook.frames = this.stats.frames;
    hook.signalChanges = this.signals.changes;
    hook.vehiclesDrawn = this.vehicles.count;
    hook.vehiclesInNetwork = this.vehicles.networkCount;
    hook.simTime = this.simNow;
    hook.invalidMessages = this.stream.invalid;
    hook.selectedIntersection = this.panel.shown >= 0 ? (this.options.network.intersections[this.panel.shown]?.id ?? null) : null;
    hook.drawCalls = info.calls;
    hook.triangles = info.triangles;
    hook.lines = info.lines;
    hook.points = info.points;
    hook.framesSkipped = this.viewport.skipped;
    hook.vehiclesInView = this.vehicles.drawn;
    hook.detail = `${this.network.isDetailed ? 'ribbons' : 'lines'}, ${this.vehicles.isDetailed ? 'boxes' : 'points'}`;
  }

  private end(message: string | null): void {
    if (this.disposed) return;
    this.dispose();
    this.options.onSignedOut(message);
  }

  dispose(): void {
    this.disposed = true;
    this.stream.close();
    this.viewport.dispose();
    this.network.dispose();
    this.queues.dispose();
    this.signalLayer.dispose();
    this.vehicles.dispose();
    this.junctions.dispose();
    this.labels.dispose();
    this.overlay.dispose();
    this.replayVehicles.dispose();
    this.drawer.close();
    this.panel.hide();
    this.status.dispose();
    window.removeEventListener('keydown', this.onKey);
    delete window.__viewerStats;
    delete window.__viewerTest;
  }
}
