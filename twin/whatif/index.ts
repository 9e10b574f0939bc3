/** What-if runs: the public surface the server uses. */
export { ScenarioSchema, parseScenario, type Scenario, type ScenarioInput, type Change, type Area, type TimeWindow } from './Scenario.ts';
export {
  runWhatIf,
  WhatIfCancelledError,
  type ControllerFactory,
  type StepHook,
  type WhatIfContext,
  type WhatIfProgress,
  type WhatIfResult,
  type RunWhatIfOptions,
  type KpiComparison,
  type IntersectionRow,
  type LaneQueueRow,
} from './ScenarioRunner.ts';
export { ScenarioError } from './ScenarioChanges.ts';
export { StatSchema, KPI_NAMES, type Stat, type KpiName } from './Kpis.ts';
export type { Replay, ReplayFrame } from './Replay.ts';
export { runWhatIfInWorker, WhatIfWorkerError, type WorkerRunOptions } from './runInWorker.ts';
export type { WhatIfWorkerInput, WhatIfWorkerMessage } from './worker.ts';
