/**
 * Zod schemas of the stream messages, per topic and kind. Adding a topic is adding an entry here
 * and a handler (StreamClient.on); the client subscribes to whatever has handlers.
 */
import { z } from 'zod';

export const EnvelopeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), user: z.string().optional(), role: z.string().optional(), topics: z.array(z.string()).optional() }),
  z.object({ type: z.literal('snapshot'), topic: z.string(), data: z.unknown() }),
  z.object({ type: z.literal('delta'), topic: z.string(), data: z.unknown() }),
  z.object({ type: z.literal('event'), topic: z.string(), data: z.unknown() }),
  z.object({ type: z.literal('pong'), id: z.number().optional() }),
  z.object({ type: z.literal('error'), message: z.string() }).loose(),
]);
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** Signal states as a string, one character per movement: G, Y, R (lower case = permissive). */
export const SignalsSnapshotSchema = z.object({
  time: z.number(),
  phases: z.array(z.number().int()),
  movements: z.string(),
});
export const SignalsDeltaSchema = z.object({
  time: z.number(),
  movements: z.array(z.tuple([z.number().int().nonnegative(), z.string().length(1)])),
  phases: z.array(z.tuple([z.number().int().nonnegative(), z.number().int()])),
});

const nums = z.array(z.number());
export const LanesSnapshotSchema = z.object({
  time: z.number(),
  source: z.enum(['truth', 'estimate']),
  vehicles: nums,
  queue: nums,
  speedRatio: nums,
});

export const VehiclesSnapshotSchema = z
  .object({ time: z.number(), count: z.number().int().nonnegative(), x: nums, y: nums, heading: nums, speed: nums, cls: z.array(z.string()) })
  .refine((v) => v.y.length === v.x.length && v.heading.length === v.x.length && v.speed.length === v.x.length && v.cls.length === v.x.length, 'vehicle arrays differ in length');

export const AlertSchema = z.object({
  id: z.string(),
  kind: z.string(),
  severity: z.enum(['warning', 'critical']),
  message: z.string(),
  since: z.number(),
  place: z.object({ x: z.number(), y: z.number(), intersection: z.string().optional(), lane: z.string().optional() }),
});
export const AlertsStateSchema = z.object({ time: z.number(), version: z.number(), alerts: z.array(AlertSchema) });

export const WhatIfStatusSchema = z.enum(['queued', 'running', 'done', 'failed', 'cancelled']);
export const WhatIfSummarySchema = z.object({ id: z.string(), status: WhatIfStatusSchema, progress: z.number(), createdAt: z.string(), createdBy: z.string(), name: z.string().nullable().optional() });

export const PreemptionSchema = z.object({ intersection: z.string(), start: z.number().optional(), end: z.number().optional(), status: z.string() }).loose();
/** One route's live state (the emergency topic's events); fields the service may leave out are optional. */
export const EmergencyLiveSchema = z
  .object({
    id: z.string(),
    status: z.string().optional(),
    etaSeconds: z.number().nullable().optional(),
    /** Predicted arrival on the field clock (s). */
    eta: z.number().nullable().optional(),
    arrivedAt: z.number().nullable().optional(),
    route: z.object({ roads: z.array(z.union([z.string(), z.number()])), intersections: z.array(z.union([z.string(), z.number()])).optional(), etaSeconds: z.number() }).loose().nullable().optional(),
    position: z.object({ x: z.number(), y: z.number() }).loose().nullable().optional(),
    preemptions: z.array(PreemptionSchema).optional(),
  })
  .loose();
const EmergencyMessageSchema = z.union([z.object({ requests: z.array(EmergencyLiveSchema) }).loose(), z.object({ routes: z.array(EmergencyLiveSchema) }).loose(), EmergencyLiveSchema]);

const MethodAccuracySchema = z.object({ rmse: z.number().nullable(), mae: z.number().nullable(), count: z.number() }).loose();
export const ForecastsSchema = z
  .object({
    time: z.number(),
    /** Clock minute (from Monday 00:00) of the refresh. */
    minute: z.number(),
    source: z.string(),
    horizonsMinutes: z.array(z.number()),
    roads: z.array(z.object({ road: z.string(), speed: z.number().nullable(), forecast: z.array(z.number().nullable()) }).loose()),
    /** Running accuracy per horizon of the model and the baselines (server/ForecastService.ts). */
    accuracy: z
      .array(
        z
          .object({ minutes: z.number(), paired: z.boolean(), model: MethodAccuracySchema, persistence: MethodAccuracySchema, historicalAverage: MethodAccuracySchema, served: MethodAccuracySchema })
          .loose(),
      )
      .optional(),
    /** Per horizon, each method's share in the roads' forecast values. */
    servedWeights: z.array(z.record(z.string(), z.number())).optional(),
  })
  .loose();

export const TopicSchemas = {
  signals: { snapshot: SignalsSnapshotSchema, delta: SignalsDeltaSchema },
  lanes: { snapshot: LanesSnapshotSchema },
  vehicles: { snapshot: VehiclesSnapshotSchema },
  alerts: { snapshot: AlertsStateSchema, delta: AlertsStateSchema },
  whatif: { snapshot: z.object({ runs: z.array(WhatIfSummarySchema) }), event: z.union([z.object({ runs: z.array(WhatIfSummarySchema) }), WhatIfSummarySchema]) },
  emergency: { snapshot: EmergencyMessageSchema, delta: EmergencyMessageSchema, event: EmergencyMessageSchema },
  forecasts: { snapshot: ForecastsSchema, delta: ForecastsSchema, event: ForecastsSchema },
} as const satisfies Record<string, Partial<Record<MessageKind, z.ZodType>>>;

export type MessageKind = 'snapshot' | 'delta' | 'event';
export type TopicName = keyof typeof TopicSchemas;
export type KindOf<T extends TopicName> = keyof (typeof TopicSchemas)[T] & MessageKind;
export type TopicData<T extends TopicName, K extends KindOf<T>> = (typeof TopicSchemas)[T][K] extends z.ZodType<infer D> ? D : never;

export type SignalsSnapshot = z.infer<typeof SignalsSnapshotSchema>;
export type SignalsDelta = z.infer<typeof SignalsDeltaSchema>;
export type LanesSnapshot = z.infer<typeof LanesSnapshotSchema>;
export type VehiclesSnapshot = z.infer<typeof VehiclesSnapshotSchema>;
export type Alert = z.infer<typeof AlertSchema>;
export type AlertsState = z.infer<typeof AlertsStateSchema>;
export type WhatIfSummary = z.infer<typeof WhatIfSummarySchema>;
export type EmergencyLive = z.infer<typeof EmergencyLiveSchema>;
export type Forecasts = z.infer<typeof ForecastsSchema>;
export type EmergencyMessage = z.infer<typeof EmergencyMessageSchema>;
