import { describe, expect, it } from 'vitest';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { serializeHlc } from '../../twin/sensors/HybridLogicalClock.ts';
import type { CameraFrameWire, LoopReadingWire } from '../../twin/sensors/messages.ts';
import { buildSensorLayout } from '../../twin/sensors/SensorLayout.ts';
import { IngestResultSchema, ingest } from '../../twin/state/ingest.ts';
import { TwinState } from '../../twin/state/TwinState.ts';
import { crossingRoadnet } from '../fixtures/networks.ts';

const net = importRoadnet(crossingRoadnet(300));
const layout = buildSensorLayout(net);
const loopId = 'loop:we_in_0:entrance';
const camId = 'cam:C:we_in';

function loop(seq: number, ms: number, total: number, extra: Partial<LoopReadingWire> = {}): LoopReadingWire {
  return { type: 'loop', sensorId: loopId, ts: serializeHlc({ pt: ms, lc: 0 }), seq, intervalMs: 1000, count: 0, occupancy: 0, speed: null, presence: false, total, ...extra };
}

function frame(seq: number, ms: number, depTotal: number): CameraFrameWire {
  return {
    type: 'camera',
    sensorId: camId,
    ts: serializeHlc({ pt: ms, lc: 0 }),
    seq,
    intervalMs: 1000,
    lanes: [{ lane: 'we_in_0', inView: 1, queue: 0, departures: 0, departuresTotal: depTotal }],
    movements: [{ movement: 'C:0', count: 0, total: depTotal }],
    classes: { car: 1, bus: 0, truck: 0, emergency: 0 },
  };
}

describe('ingest', () => {
  it('validates each message on its own: good ones are kept even when others in the batch are bad', () => {
    const twin = new TwinState(net, layout);
    const r = twin.ingest(
      {
        messages: [
          loop(0, 1000, 1, { count: 1 }),
          { ...loop(1, 2000, 1), occupancy: 1.5 },
          { ...loop(2, 3000, 1), ts: 'yesterday' },
          { ...loop(3, 4000, 1), sensorId: 'loop:nowhere' },
          { ...loop(4, 5000, 1), type: 'camera' },
          { ...frame(0, 5000, 2), lanes: [{ lane: 'sn_in_0', inView: 0, queue: 0, departures: 0, departuresTotal: 0 }] },
          { ...frame(1, 5000, 2), lanes: [{ lane: 'we_in_0', inView: 1, queue: 2, departures: 0, departuresTotal: 0 }] },
          'not even an object',
          frame(2, 5000, 3),
        ],
      },
      6000,
    );
    expect(IngestResultSchema.safeParse(r).success).toBe(true);
    expect(r.results.map((x) => x.status)).toEqual(['accepted', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'accepted']);
    expect(r.accepted).toBe(2);
    expect(r.rejected).toBe(7);
    expect(r.results[1].reason).toMatch(/occupancy/);
    expect(r.results[2].reason).toMatch(/ts/);
    expect(r.results[3].reason).toBe('unknown sensor');
    expect(r.results[5].reason).toMatch(/not watched/);
    expect(r.results[6].reason).toMatch(/queue exceeds/);
    expect(twin.store.loopTotal[layout.byId.get(loopId)!.index]).toBe(1);
    expect(twin.store.laneDepTotal[net.lanes.findIndex((l) => l.id === 'we_in_0')]).toBe(3);
  });

  it('refuses a body that is not a batch, reading nothing', () => {
    const twin = new TwinState(net, layout);
    for (const body of [null, 42, { messages: 'x' }, { nope: [] }]) {
      const r = twin.ingest(body, 0);
      expect(r.error).toMatch(/not a sensor batch/);
      expect(r.accepted).toBe(0);
    }
  });

  it('deduplicates by (sensorId, seq), within a batch and across batches', () => {
    const twin = new TwinState(net, layout);
    const a = twin.ingest({ messages: [loop(0, 1000, 1), loop(0, 1000, 1), loop(1, 2000, 2)] }, 3000);
    expect(a.results.map((x) => x.status)).toEqual(['accepted', 'duplicate', 'accepted']);
    const b = twin.ingest({ messages: [loop(1, 2000, 2), loop(2, 3000, 3)] }, 3500);
    expect(b.results.map((x) => x.status)).toEqual(['duplicate', 'accepted']);
    expect(b.duplicates).toBe(1);
    expect(twin.store.loopReceived[layout.byId.get(loopId)!.index]).toBe(3);
  });

  it('orders by sequence, never by arrival: a late older reading does not overwrite newer state', () => {
    const twin = new TwinState(net, layout);
    const d = layout.byId.get(loopId)!.index;
    twin.ingest({ messages: [loop(5, 6000, 9, { presence: true, occupancy: 1 })] }, 6500);
    twin.ingest({ messages: [loop(3, 4000, 7), loop(4, 5000, 8)] }, 7000);
    expect(twin.store.loopLastSeq[d]).toBe(5);
    expect(twin.store.loopTotal[d]).toBe(9);
    expect(twin.store.loopPresence(d)).toBe(1);
    // …and the late ones are held in their slots (for the fault detector's look back).
    expect(twin.store.loopReceivedShare(d, 3)).toBe(1);
    // A batch in reverse order ends the same.
    const other = new TwinState(net, layout);
    other.ingest({ messages: [loop(5, 6000, 9, { presence: true, occupancy: 1 }), loop(4, 5000, 8), loop(3, 4000, 7)] }, 7000);
    expect(other.store.loopTotal[d]).toBe(9);
    expect(other.store.loopLastSeq[d]).toBe(5);
  });

  it('tolerates late messages within the lateness window and refuses older ones or ones from the future', () => {
    const twin = new TwinState(net, layout, { ingest: { latenessMs: 10_000, maxSkewMs: 2000 } });
    const r = twin.ingest({ messages: [loop(0, 90_000, 1), loop(1, 99_000, 2), loop(2, 103_000, 3)] }, 100_000);
    expect(r.results.map((x) => x.status)).toEqual(['accepted', 'accepted', 'rejected']);
    const late = twin.ingest({ messages: [{ ...loop(3, 89_000, 1), sensorId: 'loop:sn_in_0:entrance' }] }, 100_000);
    expect(late.results[0].status).toBe('rejected');
    expect(late.results[0].reason).toMatch(/late/);
    expect(r.results[2].reason).toMatch(/future/);
  });

  it('is a plain function over any ingest target', () => {
    const twin = new TwinState(net, layout);
    const r = ingest(twin, { messages: [frame(0, 1000, 0)] }, 1000);
    expect(r.accepted).toBe(1);
    expect(twin.clock.current.pt).toBe(1000);
  });
});
