/**
 * The child process of scripts/fuzz.ts: takes one case at a time over IPC,
 * puts it through the real path (load + run for models, the pipeline config
 * parser, the wav readers) and answers with the outcome. A crash or a hang
 * is seen by the parent (this process dies or stops answering).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloudlessError, Tensor } from '../src/ir/index.js';
import { parsePipelineYaml } from '../src/pipeline/config.js';
import { WavHeaderReader } from '../src/pipeline/sources/process.js';
import { load } from '../src/runtime/load.js';
import type { ModelFormat } from '../src/runtime/model-bytes.js';
import { decodeWav, speechChunks } from '../src/tasks/audio/index.js';

export type Target = 'onnx' | 'tflite' | 'tfjs' | 'yaml' | 'wav';
export interface FuzzCase { id: number; target: Target; bytes: Uint8Array; weights?: Uint8Array; backend?: 'ref' | 'auto' }
export interface FuzzReply { id: number; outcome: 'result' | 'refused' | 'internal'; code?: string; message?: string; stack?: string }

const tmp = mkdtempSync(path.join(os.tmpdir(), 'cloudless-fuzz-worker-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function runModel(c: FuzzCase): Promise<void> {
  const format = c.target as ModelFormat;
  const source = c.target === 'tfjs'
    ? { path: '/fuzz/model.json', files: new Map([['/fuzz/model.json', c.bytes], ['/fuzz/tiny.bin', c.weights ?? new Uint8Array(0)]]) }
    : c.bytes;
  const s = await load(source, { backend: c.backend ?? 'ref', format });
  const feeds: Record<string, Tensor> = {};
  for (const i of s.inputs) {
    const shape = i.shape.map((d) => (typeof d === 'number' && d >= 1 && d <= 64 ? d : 1));
    feeds[i.name] = new Tensor(i.dtype, shape);
  }
  await s.run(feeds);
}

function runWav(c: FuzzCase): void {
  decodeWav(c.bytes, 'fuzz.wav');
  const file = path.join(tmp, 'fuzz.wav');
  writeFileSync(file, c.bytes);
  for (const _ of speechChunks(file)) { /* drained */ }
  const header = new WavHeaderReader('fuzz.wav', 16000);
  header.push(Buffer.from(c.bytes));
}

async function run(c: FuzzCase): Promise<void> {
  switch (c.target) {
    case 'yaml': parsePipelineYaml(new TextDecoder().decode(c.bytes), 'fuzz.yaml'); return;
    case 'wav': runWav(c); return;
    default: await runModel(c);
  }
}

process.on('message', async (c: FuzzCase) => {
  let reply: FuzzReply;
  try {
    await run(c);
    reply = { id: c.id, outcome: 'result' };
  } catch (err) {
    reply = err instanceof CloudlessError
      ? { id: c.id, outcome: 'refused', code: err.code, message: err.message.slice(0, 300) }
      : { id: c.id, outcome: 'internal', message: String((err as Error)?.message ?? err).slice(0, 300), stack: (err as Error)?.stack?.split('\n').slice(0, 6).join('\n') };
  }
  process.send!(reply);
});
process.send!({ id: -1, outcome: 'result' });
