/** Short-term congestion forecasting: baselines, the learned forecaster, storage, evaluation. */
export { initForecastBackend, BackendNameSchema, type BackendName } from './backend.ts';
export * from './series.ts';
export * from './metrics.ts';
export { persistenceForecast } from './Persistence.ts';
export * from './HistoricalAverage.ts';
export * from './RoadGraph.ts';
export * from './congestion.ts';
export { FeatureConfigSchema, featureCount, type FeatureConfig } from './features.ts';
export * from './SpeedForecaster.ts';
export * from './forecasterStore.ts';
export { directoryIOHandler, memoryIOHandler, modelFromStored, modelToStored, StoredModelSchema, type StoredModel } from './modelStore.ts';
export * from './evaluation.ts';
export { loadLosLoop, parseLosLoop, LOS_LOOP_GRID, DataFormatError, type LosLoopData } from './losLoop.ts';
export { RoadSpeedRecorder, RecorderOptionsSchema, type RecorderOptionsInput } from './RoadSpeedRecorder.ts';
export * from './ForecastAccuracy.ts';
export * from './roadReadings.ts';
