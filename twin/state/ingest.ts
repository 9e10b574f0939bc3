/**
 * The one way sensor readings reach the twin (the server's ingest route calls this too).
 *
 * `ingest(target, body, nowMs)`: validates the batch envelope, then each message on its own
 * with zod, so that good messages are kept even when others in the batch are bad; checks the
 * sensor exists and the message is of its kind; rejects messages older than the lateness window
 * or further in the future than the allowed clock skew; recognises duplicates by
 * (sensorId, seq); and stores the rest by sequence number in timestamp order (the store is keyed
 * by seq, so arrival order never matters). Returns a verdict per message, in input order.
 */
import { z } from 'zod';
import type { HybridLogicalClock } from '../sensors/HybridLogicalClock.ts';
import { parseValidHlc, type Hlc } from '../sensors/HybridLogicalClock.ts';
import { SensorBatchSchema, SensorMessageSchema, type SensorMessage } from '../sensors/messages.ts';
import type { SensorStore } from './SensorStore.ts';

export const IngestOptionsSchema = z.object({
  /** Messages captured more than this long before `now` are refused as late (ms). */
  latenessMs: z.number().nonnegative().default(30_000),
  /** Messages stamped more than this far ahead of `now` are refused (clock skew, ms). */
  maxSkewMs: z.number().nonnegative().default(5_000),
});
export type IngestOptions = z.infer<typeof IngestOptionsSchema>;

export const MessageVerdictSchema = z.object({
  /** Position in the batch. */
  index: z.number().int().nonnegative(),
  sensorId: z.string().optional(),
  seq: z.number().optional(),
  status: z.enum(['accepted', 'duplicate', 'rejected']),
  reason: z.string().optional(),
});
export type MessageVerdict = z.infer<typeof MessageVerdictSchema>;

export const IngestResultSchema = z.object({
  accepted: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  /** Set when the body itself is not a batch (then nothing was read). */
  error: z.string().optional(),
  results: z.array(MessageVerdictSchema),
});
export type IngestResult = z.infer<typeof IngestResultSchema>;

/** What `ingest` writes into: the twin state provides it. */
export interface IngestTarget {
  readonly store: SensorStore;
  readonly ingestOptions: IngestOptions;
  /** The twin's own clock: merged with every accepted timestamp. */
  readonly clock: HybridLogicalClock;
}

interface Valid {
  index: number;
  msg: SensorMessage;
  ts: Hlc;
  kind: 'loop' | 'camera';
  sensor: number;
}

function issueText(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`)
    .join('; ');
}

/** Whether a valid message may be stored: its sensor, kind and timestamp; a reason if not. */
function admit(target: IngestTarget, msg: SensorMessage, nowMs: number): string | { ts: Hlc; kind: 'loop' | 'camera'; sensor: number } {
  const { store, ingestOptions: opt } = target;
  const where = store.layout.byId.get(msg.sensorId);
  if (!where) return 'unknown sensor';
  if (where.kind !== msg.type) return `sensor ${msg.sensorId} is a ${where.kind}, not a ${msg.type}`;
  const ts = parseValidHlc(msg.ts);
  if (ts.pt < nowMs - opt.latenessMs) return `late: captured ${nowMs - ts.pt} ms ago, window ${opt.latenessMs} ms`;
  if (ts.pt > nowMs + opt.maxSkewMs) return `timestamp ${ts.pt - nowMs} ms in the future`;
  if (msg.type === 'camera') {
    const problem = store.cameraFrameProblem(where.index, msg);
    if (problem) return problem;
  }
  return { ts, kind: where.kind, sensor: where.index };
}

export function ingest(target: IngestTarget, body: unknown, nowMs: number): IngestResult {
  const batch = SensorBatchSchema.safeParse(body);
  if (!batch.success) {
    return { accepted: 0, duplicates: 0, rejected: 0, error: `not a sensor batch: ${issueText(batch.error)}`, results: [] };
  }
  const { store } = target;
  const results: MessageVerdict[] = new Array(batch.data.messages.length);
  const valid: Valid[] = [];
  const messages = batch.data.messages;
  for (let index = 0; index < messages.length; index++) {
    const raw = messages[index];
    const parsed = SensorMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const r = raw as { sensorId?: unknown; seq?: unknown } | null;
      results[index] = {
        index,
        sensorId: r && typeof r.sensorId === 'string' ? r.sensorId : undefined,
        seq: r && typeof r.seq === 'number' ? r.seq : undefined,
        status: 'rejected',
        reason: `invalid: ${issueText(parsed.error)}`,
      };
      continue;
    }
    const msg = parsed.data;
    const reason = admit(target, msg, nowMs);
    if (typeof reason === 'string') {
      results[index] = { index, sensorId: msg.sensorId, seq: msg.seq, status: 'rejected', reason };
      continue;
    }
    valid.push({ index, msg, ts: reason.ts, kind: reason.kind, sensor: reason.sensor });
  }

  // Apply in source-time order (timestamp, then sensor, then sequence), never arrival order.
  // (Sensor order is by kind and index: a stable tie-break that needs no string compare.)
  valid.sort((a, b) => a.ts.pt - b.ts.pt || a.ts.lc - b.ts.lc || (a.kind === b.kind ? a.sensor - b.sensor : a.kind === 'loop' ? -1 : 1) || a.msg.seq - b.msg.seq);
  let accepted = 0;
  let duplicates = 0;
  for (const v of valid) {
    const { msg } = v;
    const state = v.kind === 'loop' ? store.loopSlotState(v.sensor, msg.seq) : store.camSlotState(v.sensor, msg.seq);
    if (state === 'duplicate') {
      duplicates++;
      results[v.index] = { index: v.index, sensorId: msg.sensorId, seq: msg.seq, status: 'duplicate', reason: 'already received (sensorId, seq)' };
      continue;
    }
    if (state === 'expired') {
      results[v.index] = { index: v.index, sensorId: msg.sensorId, seq: msg.seq, status: 'rejected', reason: 'late: sequence number older than the retained window' };
      continue;
    }
    if (msg.type === 'loop') store.applyLoop(v.sensor, msg, v.ts.pt);
    else store.applyCamera(v.sensor, msg, v.ts.pt);
    target.clock.receive(v.ts, nowMs);
    accepted++;
    results[v.index] = { index: v.index, sensorId: msg.sensorId, seq: msg.seq, status: 'accepted' };
  }
  const rejected = results.length - accepted - duplicates;
  return { accepted, duplicates, rejected, results };
}
