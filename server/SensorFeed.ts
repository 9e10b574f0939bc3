/**
 * The demo field's sensors: loop detectors and cameras on every approach of the simulated city,
 * posting their readings to the centre's ingest API over HTTP after every field step, exactly as
 * roadside devices would. Batches that fail are retried (bounded: the oldest are given up, as a
 * device's buffer would).
 */
import type { Engine } from '../twin/sim/Engine.ts';
import { Field, type FieldConfigInput } from '../twin/sensors/Field.ts';
import type { SensorMessageWire } from '../twin/sensors/messages.ts';
import type { SensorLayout } from '../twin/sensors/SensorLayout.ts';

export class SensorFeed {
  readonly field: Field;
  private queue: SensorMessageWire[] = [];
  private sending = false;
  /** Messages given up because the centre could not take them in time. */
  dropped = 0;
  posted = 0;

  constructor(
    engine: Engine,
    layout: SensorLayout,
    private readonly url: string,
    private readonly token: string,
    config: FieldConfigInput = {},
    private readonly maxQueued = 200_000,
  ) {
    this.field = new Field(engine, layout, config);
  }

  /** Readings collected but not yet acknowledged by the centre. */
  get pending(): number {
    return this.queue.length;
  }

  /** Collects the readings of the step just run and sends them (not awaited by the tick). */
  afterStep(): void {
    const msgs = this.field.afterStep();
    if (msgs.length) this.queue.push(...msgs);
    if (this.queue.length > this.maxQueued) {
      this.dropped += this.queue.length - this.maxQueued;
      this.queue = this.queue.slice(this.queue.length - this.maxQueued);
    }
    if (!this.sending && this.queue.length) void this.flush();
  }

  private async flush(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.slice(0, 20_000);
        const r = await fetch(`${this.url}/api/ingest`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ messages: batch }),
        });
        await r.body?.cancel();
        // Refused batches (4xx) are not retried: the centre said why, per message, and keeps the good ones.
        if (r.status >= 500 || r.status === 429) break;
        this.queue = this.queue.slice(batch.length);
        this.posted += batch.length;
      }
    } catch {
      /* centre unreachable: keep the queue and try after the next step */
    } finally {
      this.sending = false;
    }
  }
}
