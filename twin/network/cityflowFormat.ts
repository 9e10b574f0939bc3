/**
 * Zod schemas of the CityFlow roadnet and flow JSON formats: the format of the standard
 * real-world signal-control data sets, and the interchange format our own generator writes.
 * Field meanings follow `shared/reference/cityflow-model.md` §1.1 and §2.1.
 */
import { z } from 'zod';

export const PointSchema = z.object({ x: z.number(), y: z.number() });
export type Point = z.infer<typeof PointSchema>;

export const TurnTypeSchema = z.enum(['go_straight', 'turn_left', 'turn_right']);
export type TurnType = z.infer<typeof TurnTypeSchema>;

export const LaneLinkSchema = z.object({
  startLaneIndex: z.number().int().nonnegative(),
  endLaneIndex: z.number().int().nonnegative(),
  points: z.array(PointSchema).optional(),
});

export const RoadLinkSchema = z.object({
  type: TurnTypeSchema,
  startRoad: z.string().min(1),
  endRoad: z.string().min(1),
  direction: z.number().optional(),
  laneLinks: z.array(LaneLinkSchema),
});
export type CityFlowRoadLink = z.infer<typeof RoadLinkSchema>;

export const LightPhaseSchema = z.object({
  time: z.number().nonnegative(),
  availableRoadLinks: z.array(z.number().int().nonnegative()),
});

export const TrafficLightSchema = z.object({
  roadLinkIndices: z.array(z.number().int()).optional(),
  lightphases: z.array(LightPhaseSchema),
});

export const IntersectionSchema = z.object({
  id: z.string().min(1),
  point: PointSchema,
  width: z.number().nonnegative().optional(),
  roads: z.array(z.string()).optional(),
  roadLinks: z.array(RoadLinkSchema).optional(),
  trafficLight: TrafficLightSchema.optional(),
  virtual: z.boolean(),
});
export type CityFlowIntersection = z.infer<typeof IntersectionSchema>;

export const LaneSchema = z.object({
  width: z.number().positive(),
  maxSpeed: z.number().positive(),
});

export const RoadSchema = z.object({
  id: z.string().min(1),
  startIntersection: z.string().min(1),
  endIntersection: z.string().min(1),
  points: z.array(PointSchema).min(2),
  lanes: z.array(LaneSchema).min(1),
});
export type CityFlowRoad = z.infer<typeof RoadSchema>;

export const RoadnetSchema = z.object({
  intersections: z.array(IntersectionSchema).min(1),
  roads: z.array(RoadSchema).min(1),
});
export type CityFlowRoadnet = z.infer<typeof RoadnetSchema>;

export const VehicleParamsSchema = z.object({
  length: z.number().positive(),
  width: z.number().positive(),
  maxPosAcc: z.number().positive(),
  maxNegAcc: z.number().positive(),
  usualPosAcc: z.number().positive(),
  usualNegAcc: z.number().positive(),
  minGap: z.number().nonnegative(),
  maxSpeed: z.number().positive(),
  headwayTime: z.number().nonnegative(),
  /** Our extension (CityFlow ignores it): what cameras classify the vehicle as. */
  class: z.enum(['car', 'bus', 'truck', 'emergency']).optional(),
  /**
   * Our extension (CityFlow has none; SUMO calls it speedFactor): the multiple of each lane's
   * posted limit this vehicle drives at, still capped by maxSpeed. 1 when absent. An emergency
   * vehicle on lights may exceed the limit; ordinary traffic keeps to it.
   */
  speedFactor: z.number().min(0.5).max(2).optional(),
});
export type VehicleParams = z.infer<typeof VehicleParamsSchema>;
export type VehicleClass = NonNullable<VehicleParams['class']>;
export const VEHICLE_CLASSES: readonly VehicleClass[] = ['car', 'bus', 'truck', 'emergency'];

/**
 * CityFlow silently ignores a non-integer startTime/endTime (falls back to 0 / -1); we refuse
 * it instead, since a file that says 5.5 surely did not mean "from 0, forever".
 */
export const FlowEntrySchema = z.object({
  vehicle: VehicleParamsSchema,
  route: z.array(z.string().min(1)).min(1),
  interval: z.number().positive(),
  startTime: z.number().int().nonnegative().default(0),
  endTime: z.number().int().min(-1).default(-1),
});
export type FlowEntry = z.infer<typeof FlowEntrySchema>;
export type FlowEntryInput = z.input<typeof FlowEntrySchema>;

export const FlowFileSchema = z.array(FlowEntrySchema);
export type FlowFile = z.infer<typeof FlowFileSchema>;
