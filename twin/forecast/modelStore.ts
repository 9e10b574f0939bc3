/**
 * tf.io IOHandlers for the learned model, without tfjs-node (whose file:// handler is the only
 * built-in one that touches the disk):
 *  - `directoryIOHandler(dir)`: the standard TensorFlow.js layout, model.json + weights.bin;
 *  - `memoryIOHandler(slot)`: a JSON-safe object (topology + base64 weights) that the server can
 *    keep in a database column.
 * Both validate what they read with zod, so a damaged file fails with a message, not a crash.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { decodeBase64, encodeBase64 } from './base64.ts';

const WeightSpecSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.enum(['float32', 'int32', 'bool', 'string', 'complex64']),
  group: z.enum(['model', 'optimizer']).optional(),
  quantization: z
    .object({
      scale: z.number().optional(),
      min: z.number().optional(),
      dtype: z.enum(['uint16', 'uint8', 'float16']),
    })
    .optional(),
});

const TopologySchema = z.record(z.string(), z.unknown());

export const ModelJsonSchema = z.object({
  format: z.string().optional(),
  generatedBy: z.string().optional(),
  convertedBy: z.string().nullable().optional(),
  modelTopology: TopologySchema,
  weightsManifest: z.array(z.object({ paths: z.array(z.string()).min(1), weights: z.array(WeightSpecSchema) })).length(1),
});
export type ModelJson = z.infer<typeof ModelJsonSchema>;

/** The in-memory / database form of a model. */
export const StoredModelSchema = z.object({
  format: z.string().optional(),
  generatedBy: z.string().optional(),
  modelTopology: TopologySchema,
  weightSpecs: z.array(WeightSpecSchema),
  weightDataBase64: z.string(),
});
export type StoredModel = z.infer<typeof StoredModelSchema>;

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

function topologyOf(artifacts: tf.io.ModelArtifacts): Record<string, unknown> {
  if (artifacts.modelTopology === undefined || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new Error('only JSON model topologies (layers models) can be stored');
  }
  return TopologySchema.parse(artifacts.modelTopology);
}

function weightBytes(artifacts: tf.io.ModelArtifacts): ArrayBuffer {
  return artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
}

/** Writes atomically (temporary file, then rename) so a crash never leaves half a model. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export function directoryIOHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const modelTopology = topologyOf(artifacts);
      const weights = weightBytes(artifacts);
      await mkdir(dir, { recursive: true });
      const json: ModelJson = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeAtomic(join(dir, WEIGHTS_FILE), new Uint8Array(weights));
      await writeAtomic(join(dir, MODEL_FILE), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights }) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const json = ModelJsonSchema.parse(JSON.parse(await readFile(join(dir, MODEL_FILE), 'utf8')));
      const manifest = json.weightsManifest[0];
      const parts = await Promise.all(manifest.paths.map((p) => readFile(join(dir, p))));
      const weightData = new ArrayBuffer(parts.reduce((s, b) => s + b.byteLength, 0));
      const view = new Uint8Array(weightData);
      let at = 0;
      for (const b of parts) {
        view.set(b, at);
        at += b.byteLength;
      }
      return {
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        modelTopology: json.modelTopology,
        weightSpecs: manifest.weights,
        weightData,
      };
    },
  };
}

/** A box the memory handler saves into or loads from. */
export interface StoredModelSlot {
  model: StoredModel | null;
}

export function memoryIOHandler(slot: StoredModelSlot): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const weights = weightBytes(artifacts);
      slot.model = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        modelTopology: topologyOf(artifacts),
        weightSpecs: artifacts.weightSpecs ?? [],
        weightDataBase64: encodeBase64(weights),
      };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights }) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const stored = StoredModelSchema.parse(slot.model);
      return {
        format: stored.format,
        generatedBy: stored.generatedBy,
        modelTopology: stored.modelTopology,
        weightSpecs: stored.weightSpecs,
        weightData: decodeBase64(stored.weightDataBase64),
      };
    },
  };
}

export async function modelToStored(model: tf.LayersModel): Promise<StoredModel> {
  const slot: StoredModelSlot = { model: null };
  await model.save(memoryIOHandler(slot));
  return StoredModelSchema.parse(slot.model);
}

export async function modelFromStored(stored: StoredModel): Promise<tf.LayersModel> {
  return tf.loadLayersModel(memoryIOHandler({ model: stored }));
}
