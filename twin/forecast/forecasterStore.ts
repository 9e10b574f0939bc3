/**
 * Saving and loading a whole forecaster (network + everything its features need):
 *  - to a directory: forecaster.json (configuration, roads, graph, history, scalers) next to the
 *    network's model.json + weights.bin written by our own IOHandler;
 *  - to one JSON-safe artefact (weights base64) for the server's database.
 * A loaded forecaster predicts exactly what the saved one did on the same backend.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { featureContext, type Standardiser } from './features.ts';
import { StoredHistoricalAverageSchema, decodeHistoricalAverage, encodeHistoricalAverage } from './HistoricalAverage.ts';
import { directoryIOHandler, modelFromStored, modelToStored, StoredModelSchema } from './modelStore.ts';
import { StoredGraphSchema, decodeGraph, encodeGraph } from './RoadGraph.ts';
import { ForecasterConfigSchema, type SpeedForecaster } from './SpeedForecaster.ts';

export const FORECASTER_FORMAT = 'twin-speed-forecaster/1';

const ScalerSchema = z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) });

export const ForecasterMetaSchema = z.object({
  format: z.literal(FORECASTER_FORMAT),
  config: ForecasterConfigSchema,
  sensors: z.array(z.string()).min(1),
  graph: StoredGraphSchema,
  /** The learned lead graph, when the features use one (absent: the graph itself). */
  leadGraph: StoredGraphSchema.optional(),
  history: StoredHistoricalAverageSchema,
  featureScaler: ScalerSchema,
  targetScaler: ScalerSchema,
  /** null: free-flow speed unknown (JSON has no NaN). */
  freeFlow: z.array(z.number().nullable()),
});
export type ForecasterMeta = z.infer<typeof ForecasterMetaSchema>;

export const ForecasterArtefactSchema = z.object({ meta: ForecasterMetaSchema, model: StoredModelSchema });
export type ForecasterArtefact = z.infer<typeof ForecasterArtefactSchema>;

const META_FILE = 'forecaster.json';

function metaOf(f: SpeedForecaster): ForecasterMeta {
  // Float32 → number → JSON → number → Float32 is exact, so scalers need no base64.
  const scaler = (s: Standardiser) => ({ mean: Array.from(s.mean), std: Array.from(s.std) });
  return {
    format: FORECASTER_FORMAT,
    config: f.config,
    sensors: [...f.sensors],
    graph: encodeGraph(f.graph),
    ...(f.features.leadGraph !== f.graph ? { leadGraph: encodeGraph(f.features.leadGraph) } : {}),
    history: encodeHistoricalAverage(f.history),
    featureScaler: scaler(f.featureScaler),
    targetScaler: scaler(f.targetScaler),
    freeFlow: Array.from(f.freeFlow, (v) => (Number.isFinite(v) ? v : null)),
  };
}

function fromMeta(meta: ForecasterMeta, model: tf.LayersModel): SpeedForecaster {
  const n = meta.sensors.length;
  const graph = decodeGraph(meta.graph);
  const history = decodeHistoricalAverage(meta.history);
  if (graph.nodeCount !== n || history.sensorCount !== n || meta.freeFlow.length !== n) {
    throw new Error('stored forecaster: roads, graph and history sizes disagree');
  }
  const scaler = (s: z.infer<typeof ScalerSchema>): Standardiser => ({ mean: Float32Array.from(s.mean), std: Float32Array.from(s.std) });
  return {
    config: meta.config,
    sensors: meta.sensors,
    graph,
    history,
    features: featureContext(meta.config, graph, history, meta.leadGraph ? decodeGraph(meta.leadGraph) : graph),
    featureScaler: scaler(meta.featureScaler),
    targetScaler: scaler(meta.targetScaler),
    freeFlow: Float32Array.from(meta.freeFlow, (v) => v ?? NaN),
    model,
  };
}

export async function forecasterToArtefact(f: SpeedForecaster): Promise<ForecasterArtefact> {
  return { meta: metaOf(f), model: await modelToStored(f.model) };
}

export async function forecasterFromArtefact(artefact: unknown): Promise<SpeedForecaster> {
  const a = ForecasterArtefactSchema.parse(artefact);
  return fromMeta(a.meta, await modelFromStored(a.model));
}

export async function saveForecaster(f: SpeedForecaster, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await f.model.save(directoryIOHandler(dir));
  const tmp = join(dir, `${META_FILE}.tmp-${process.pid}`);
  await writeFile(tmp, JSON.stringify(metaOf(f)));
  await rename(tmp, join(dir, META_FILE));
}

export async function loadForecaster(dir: string): Promise<SpeedForecaster> {
  const meta = ForecasterMetaSchema.parse(JSON.parse(await readFile(join(dir, META_FILE), 'utf8')));
  return fromMeta(meta, await tf.loadLayersModel(directoryIOHandler(dir)));
}
