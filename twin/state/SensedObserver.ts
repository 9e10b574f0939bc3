/**
 * The twin's estimate as an observation source: the field's sensors (loop detectors and cameras,
 * with whatever faults and network losses the configuration asks for) produce messages after
 * every step, the twin ingests them through its one ingest function and estimates every lane
 * from them alone. A controller given this source instead of the truth runs exactly as it would
 * in a deployment — the one switch between truth and estimate.
 */
import type { Engine } from '../sim/Engine.ts';
import { Field, type FieldConfigInput } from '../sensors/Field.ts';
import { buildSensorLayout, type SensorLayout } from '../sensors/SensorLayout.ts';
import type { TrafficObservation } from './TrafficObservation.ts';
import { TwinState, type TwinStateOptionsInput } from './TwinState.ts';

export interface SensedObserverOptions {
  /** Sensor placement (default: `buildSensorLayout` of the field's network). */
  layout?: SensorLayout;
  /** Sensor faults, camera degradation, latency and loss; seeded. */
  field?: FieldConfigInput | ((layout: SensorLayout) => FieldConfigInput);
  twin?: TwinStateOptionsInput;
}

export class SensedObserver {
  readonly layout: SensorLayout;
  readonly field: Field;
  readonly twin: TwinState;

  constructor(
    private readonly engine: Engine,
    options: SensedObserverOptions = {},
  ) {
    this.layout = options.layout ?? buildSensorLayout(engine.net);
    const fieldConfig = typeof options.field === 'function' ? options.field(this.layout) : (options.field ?? {});
    this.field = new Field(engine, this.layout, fieldConfig);
    this.twin = new TwinState(engine.net, this.layout, options.twin);
  }

  /** Senses the step just run and brings the estimate up to the field's time. */
  update(): void {
    const t = this.engine.time;
    const messages = this.field.afterStep();
    if (messages.length > 0) this.twin.ingest({ messages }, Math.round(t * 1000));
    this.twin.advance(t);
  }

  observe(): TrafficObservation {
    return this.twin.observe();
  }
}
