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

export const TopicSchemas = {
  signals: { snapshot: SignalsSnapshotSchema, delta: SignalsDeltaSchema },
  lanes: { snapshot: LanesSnapshotSchema },
  vehicles: { snapshot: VehiclesSnapshotSchema },
} as const satisfies Record<string, Partial<Record<MessageKind, z.ZodType>>>;

export type MessageKind = 'snapshot' | 'delta' | 'event';
export type TopicName = keyof typeof TopicSchemas;
export type KindOf<T extends TopicName> = keyof (typeof TopicSchemas)[T] & MessageKind;
export type TopicData<T extends TopicName, K extends KindOf<T>> = (typeof TopicSchemas)[T][K] extends z.ZodType<infer D> ? D : never;

export type SignalsSnapshot = z.infer<typeof SignalsSnapshotSchema>;
export type SignalsDelta = z.infer<typeof SignalsDeltaSchema>;
export type LanesSnapshot = z.infer<typeof LanesSnapshotSchema>;
export type VehiclesSnapshot = z.infer<typeof VehiclesSnapshotSchema>;
