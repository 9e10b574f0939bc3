/**
 * Builds a rectilinear street grid in the CityFlow roadnet format, with the conventions of the
 * benchmark files (Jinan 3×4, Hangzhou 4×4), so that generated networks look to the importer
 * and the simulator exactly like the real data sets:
 *
 * - `intersection_i_j`: column i, row j. Signalised ones are i = 1..cols, j = 1..rows; virtual
 *   boundary nodes sit one block outside every edge end (i = 0 or cols+1, j = 0 or rows+1),
 *   with no corners. x grows with i (east), y with j (north).
 * - `road_i_j_d`: the road leaving intersection_i_j in direction d (0 E, 1 N, 2 W, 3 S); a
 *   straight 2-point road. Sorted by i, j, d; intersections by i, j.
 * - An intersection's `roads`: incoming (travelling 0,1,2,3), then outgoing (0,1,2,3).
 * - `roadLinks`: by incoming direction, then by outgoing direction; each lane link carries an
 *   11-point cubic Bézier whose arms are width/3 (5 m at the benchmark's width 15).
 * - Lane 0 is innermost (left), offset to the right of travel. Lane links of a movement go from
 *   each lane that serves it to EVERY lane of the outgoing road, so that any route is feasible
 *   with lane changing off (a vehicle picks the lane for its next turn as it enters a road).
 *
 * Turn bays: CityFlow roads have the same lanes over their whole length and the model runs
 * with lane changing off, so a left-turn bay is represented as one extra innermost lane (index
 * 0) on every road that ends at a signalised intersection, carrying only the left turn. Since
 * vehicles choose their lane when they enter the road, the bay behaves as if it ran the full
 * block: its storage is overstated, its effect (left turners no longer block the through lanes,
 * and the left movement gets its own lane) is what we want to study. Exit roads (ending at the
 * virtual boundary) get no bay.
 */
import type { CityFlowIntersection, CityFlowRoad, CityFlowRoadLink, CityFlowRoadnet, Point, TurnType } from './cityflowFormat.ts';
import {
  buildLightPhases,
  emptyLightPhases,
  type ApproachLinks,
  type Direction,
  type Greens,
  type SignalProgramOptions,
} from './signalProgram.ts';

/** How one street (a row of EW roads or a column of NS roads) is built. */
export interface StreetClass {
  /** General lanes each way (turn bay not included). */
  lanes: number;
  speedLimit: number;
  turnBays: boolean;
}

export interface StreetGridLayout {
  /** x of columns 1..cols (strictly increasing). */
  xs: readonly number[];
  /** y of rows 1..rows (strictly increasing). */
  ys: readonly number[];
  /** Length of the roads to and from the virtual boundary nodes on each side. */
  boundary: { west: number; east: number; south: number; north: number };
  /** EW street of each row (index j-1). */
  rowStreets: readonly StreetClass[];
  /** NS street of each column (index i-1). */
  colStreets: readonly StreetClass[];
  laneWidth: number;
  intersectionWidth: number;
  program: SignalProgramOptions['program'];
  clearance: number;
  /** Greens at signalised intersection (i, j), 1-based. */
  greens: (i: number, j: number) => Greens;
}

const DI = [1, 0, -1, 0] as const;
const DJ = [0, 1, 0, -1] as const;
const DIRS: readonly Direction[] = [0, 1, 2, 3];

/**
 * Which movements each lane of an approach serves, innermost lane first: lane 0 turns left,
 * middle lanes go straight, the last lane turns right; with fewer lanes they share.
 */
export function laneTurns(generalLanes: number, turnBay: boolean): TurnType[][] {
  const n = generalLanes;
  if (turnBay) {
    const general: TurnType[][] =
      n === 1
        ? [['go_straight', 'turn_right']]
        : n === 2
          ? [['go_straight'], ['go_straight', 'turn_right']]
          : [...Array.from({ length: n - 1 }, (): TurnType[] => ['go_straight']), ['turn_right']];
    return [['turn_left'], ...general];
  }
  if (n === 1) return [['turn_left', 'go_straight', 'turn_right']];
  if (n === 2) return [['turn_left', 'go_straight'], ['go_straight', 'turn_right']];
  return [['turn_left'], ...Array.from({ length: n - 2 }, (): TurnType[] => ['go_straight']), ['turn_right']];
}

function turnOf(inDir: Direction, outDir: Direction): TurnType {
  if (outDir === inDir) return 'go_straight';
  return outDir === (inDir + 1) % 4 ? 'turn_left' : 'turn_right';
}

const TURN_CODE: Record<TurnType, string> = { go_straight: 'S', turn_left: 'L', turn_right: 'R' };

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Lane-link curve relative to the intersection centre, as x0,y0,x1,y1,... (11 points). */
function curve(inDir: Direction, outDir: Direction, inOffset: number, outOffset: number, width: number): Float64Array {
  const ux = DI[inDir], uy = DJ[inDir];
  const vx = DI[outDir], vy = DJ[outDir];
  // Right of (x, y) is (y, -x). The start is on the incoming lane, `width` before the centre.
  const sx = -ux * width + uy * inOffset, sy = -uy * width - ux * inOffset;
  const ex = vx * width + vy * outOffset, ey = vy * width - vx * outOffset;
  const arm = width / 3;
  const c1x = sx + ux * arm, c1y = sy + uy * arm;
  const c2x = ex - vx * arm, c2y = ey - vy * arm;
  const out = new Float64Array(22);
  for (let k = 0; k <= 10; k++) {
    const t = k / 10, s = 1 - t;
    const b0 = s * s * s, b1 = 3 * s * s * t, b2 = 3 * s * t * t, b3 = t * t * t;
    out[2 * k] = b0 * sx + b1 * c1x + b2 * c2x + b3 * ex;
    out[2 * k + 1] = b0 * sy + b1 * c1y + b2 * c2y + b3 * ey;
  }
  return out;
}

interface LaneLinkTemplate {
  startLaneIndex: number;
  endLaneIndex: number;
  rel: Float64Array;
}
interface RoadLinkTemplate {
  type: TurnType;
  inDir: Direction;
  outDir: Direction;
  laneLinks: LaneLinkTemplate[];
}
interface IntersectionTemplate {
  roadLinks: RoadLinkTemplate[];
  approaches: ApproachLinks[];
}

/** Lane layout of one incoming road and the lane count of one outgoing road per direction. */
interface ArmLanes {
  inTurns: TurnType[][];
  outLanes: number;
}

function intersectionTemplate(arms: readonly ArmLanes[], laneWidth: number, width: number): IntersectionTemplate {
  const offset = (lane: number) => (lane + 0.5) * laneWidth;
  const roadLinks: RoadLinkTemplate[] = [];
  const approaches: ApproachLinks[] = DIRS.map(() => ({ straight: -1, left: -1, right: -1 }));
  for (const inDir of DIRS) {
    const turns = arms[inDir].inTurns;
    for (const outDir of DIRS) {
      if (outDir === (inDir + 2) % 4) continue; // no U-turns, as in the benchmark
      const type = turnOf(inDir, outDir);
      const laneLinks: LaneLinkTemplate[] = [];
      for (let s = 0; s < turns.length; s++) {
        if (!turns[s].includes(type)) continue;
        for (let e = 0; e < arms[outDir].outLanes; e++) {
          laneLinks.push({ startLaneIndex: s, endLaneIndex: e, rel: curve(inDir, outDir, offset(s), offset(e), width) });
        }
      }
      const key = type === 'go_straight' ? 'straight' : type === 'turn_left' ? 'left' : 'right';
      approaches[inDir][key] = roadLinks.length;
      roadLinks.push({ type, inDir, outDir, laneLinks });
    }
  }
  return { roadLinks, approaches };
}

export function buildStreetGrid(layout: StreetGridLayout): CityFlowRoadnet {
  const { xs, ys, boundary, laneWidth, intersectionWidth: width } = layout;
  const cols = xs.length, rows = ys.length;
  const exists = (i: number, j: number) =>
    i >= 0 && i <= cols + 1 && j >= 0 && j <= rows + 1 && !((i === 0 || i === cols + 1) && (j === 0 || j === rows + 1));
  const isVirtual = (i: number, j: number) => i === 0 || i === cols + 1 || j === 0 || j === rows + 1;
  const xOf = (i: number) => (i === 0 ? xs[0] - boundary.west : i === cols + 1 ? xs[cols - 1] + boundary.east : xs[i - 1]);
  const yOf = (j: number) => (j === 0 ? ys[0] - boundary.south : j === rows + 1 ? ys[rows - 1] + boundary.north : ys[j - 1]);
  const roadExists = (i: number, j: number, d: Direction) => {
    const ni = i + DI[d], nj = j + DJ[d];
    return exists(i, j) && exists(ni, nj) && !(isVirtual(i, j) && isVirtual(ni, nj));
  };
  const streetOf = (i: number, j: number, d: Direction): StreetClass =>
    d % 2 === 0 ? layout.rowStreets[j - 1] : layout.colStreets[i - 1];
  /** Lanes of road (i, j, d): a bay only on approaches to signalised intersections. */
  const hasBay = (i: number, j: number, d: Direction) => streetOf(i, j, d).turnBays && !isVirtual(i + DI[d], j + DJ[d]);
  const laneCount = (i: number, j: number, d: Direction) => streetOf(i, j, d).lanes + (hasBay(i, j, d) ? 1 : 0);
  const roadId = (i: number, j: number, d: Direction) => `road_${i}_${j}_${d}`;
  const interId = (i: number, j: number) => `intersection_${i}_${j}`;
  const clampI = (i: number) => Math.min(Math.max(i, 1), cols);
  const clampJ = (j: number) => Math.min(Math.max(j, 1), rows);

  const roads: CityFlowRoad[] = [];
  const intersections: CityFlowIntersection[] = [];
  const templates = new Map<string, IntersectionTemplate>();

  for (let i = 0; i <= cols + 1; i++) {
    for (let j = 0; j <= rows + 1; j++) {
      if (!exists(i, j)) continue;
      const point: Point = { x: xOf(i), y: yOf(j) };
      // Roads leaving this intersection.
      for (const d of DIRS) {
        if (!roadExists(i, j, d)) continue;
        const ni = i + DI[d], nj = j + DJ[d];
        const street = streetOf(i, j, d);
        roads.push({
          id: roadId(i, j, d),
          points: [{ x: point.x, y: point.y }, { x: xOf(ni), y: yOf(nj) }],
          lanes: Array.from({ length: laneCount(i, j, d) }, () => ({ width: laneWidth, maxSpeed: street.speedLimit })),
          startIntersection: interId(i, j),
          endIntersection: interId(ni, nj),
        });
      }
      const incoming: (readonly [number, number, Direction])[] = [];
      for (const d of DIRS) {
        const pi = i - DI[d], pj = j - DJ[d];
        if (roadExists(pi, pj, d)) incoming.push([pi, pj, d]);
      }
      const outgoing = DIRS.filter((d) => roadExists(i, j, d));
      const roadIds = [...incoming.map(([a, b, d]) => roadId(a, b, d)), ...outgoing.map((d) => roadId(i, j, d))];

      const greens = layout.greens(clampI(i), clampJ(j));
      if (isVirtual(i, j)) {
        intersections.push({
          id: interId(i, j),
          point,
          width: 0,
          roads: roadIds,
          roadLinks: [],
          trafficLight: { roadLinkIndices: [], lightphases: emptyLightPhases(layout.program, layout.clearance, greens) },
          virtual: true,
        });
        continue;
      }

      const arms: ArmLanes[] = DIRS.map((d) => ({
        inTurns: laneTurns(streetOf(i - DI[d], j - DJ[d], d).lanes, hasBay(i - DI[d], j - DJ[d], d)),
        outLanes: laneCount(i, j, d),
      }));
      // Identical lane layouts share one set of curves (relative to the centre): a 100×100
      // grid then computes a handful of templates instead of 360,000 Bézier curves.
      const key = arms.map((a) => `${a.inTurns.map((t) => t.map((x) => TURN_CODE[x]).join('')).join(',')}>${a.outLanes}`).join('|');
      let template = templates.get(key);
      if (!template) {
        template = intersectionTemplate(arms, laneWidth, width);
        templates.set(key, template);
      }
      const inIds = DIRS.map((d) => roadId(i - DI[d], j - DJ[d], d));
      const roadLinks: CityFlowRoadLink[] = template.roadLinks.map((rl) => ({
        type: rl.type,
        startRoad: inIds[rl.inDir],
        endRoad: roadId(i, j, rl.outDir),
        direction: rl.inDir,
        laneLinks: rl.laneLinks.map((ll) => {
          const pts: Point[] = new Array<Point>(11);
          for (let k = 0; k < 11; k++) pts[k] = { x: round3(point.x + ll.rel[2 * k]), y: round3(point.y + ll.rel[2 * k + 1]) };
          return { startLaneIndex: ll.startLaneIndex, endLaneIndex: ll.endLaneIndex, points: pts };
        }),
      }));
      intersections.push({
        id: interId(i, j),
        point,
        width,
        roads: roadIds,
        roadLinks,
        trafficLight: {
          roadLinkIndices: roadLinks.map((_, k) => k),
          lightphases: buildLightPhases(template.approaches, layout.program, layout.clearance, greens),
        },
        virtual: false,
      });
    }
  }
  // Roads were emitted in (i, j, d) order already, since the loops visit i, then j, then d.
  return { intersections, roads };
}
