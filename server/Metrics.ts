/** Prometheus metrics of the service (prom-client), served at /metrics. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly tickSeconds = new Histogram({
    name: 'twin_tick_seconds',
    help: 'Wall time of one field/twin tick',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });
  readonly tickLagSeconds = new Gauge({ name: 'twin_tick_lag_seconds', help: 'How far the tick loop is behind its schedule', registers: [this.registry] });
  readonly ingestReadings = new Counter({
    name: 'twin_ingest_readings_total',
    help: 'Sensor readings received, by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly planPolls = new Counter({
    name: 'twin_plan_polls_total',
    help: 'Plan polls by controllers, by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly planPublishes = new Counter({ name: 'twin_plan_publishes_total', help: 'Timing plans published', labelNames: ['outcome'], registers: [this.registry] });
  readonly unsafeSignalStates = new Counter({
    name: 'twin_unsafe_signal_states_total',
    help: 'Intersection-steps of the field in an unsafe signal state (must stay 0)',
    registers: [this.registry],
  });
  readonly retentionDeleted = new Counter({ name: 'twin_retention_deleted_rows_total', help: 'Rows deleted by the retention policy, by table', labelNames: ['table'], registers: [this.registry] });
  /** Where table sizes come from (set once the database is open); read at each scrape. */
  private tableSizes: (() => Promise<Record<string, number>>) | null = null;
  readonly tableBytes = new Gauge({
    name: 'twin_table_bytes',
    help: 'Size of each table on disk, with its indexes and TOAST (read at each scrape)',
    labelNames: ['table'],
    registers: [this.registry],
    collect: async () => {
      if (!this.tableSizes) return;
      try {
        for (const [table, bytes] of Object.entries(await this.tableSizes())) this.tableBytes.set({ table }, bytes);
      } catch {
        // The database is away: the last sizes stay, and /health says so.
      }
    },
  });
  readonly wsClients = new Gauge({ name: 'twin_ws_clients', help: 'Connected WebSocket clients', registers: [this.registry] });
  readonly wsDropped = new Counter({ name: 'twin_ws_dropped_total', help: 'WebSocket clients dropped for being too slow', registers: [this.registry] });
  readonly wsThinned = new Counter({ name: 'twin_ws_thinned_total', help: 'Stream updates skipped for slow clients', registers: [this.registry] });
  readonly controlLoopLatency = new Histogram({
    name: 'twin_control_loop_latency_seconds',
    help: 'Sensor reading timestamp to the resulting plan applied at the edge',
    buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  measureTables(sizes: () => Promise<Record<string, number>>): void {
    this.tableSizes = sizes;
  }
}
