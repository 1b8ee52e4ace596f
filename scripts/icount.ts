/**
 * Runs a model N times in one process, for instruction counts (the machine
 * is shared: wall time is noise, instruction counts are not). Not a test.
 * Count two processes, --runs 1 and --runs 4, and take a third of the
 * difference: loading, compiling, planning and the first run's JIT warm-up
 * cancel out. V8's background threads (concurrent compilation, GC) make a
 * 0-run baseline wander by ±0.5 G instructions; --single-threaded keeps them
 * on the main thread, which makes the counts repeatable:
 *   valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg.out \
 *     node --single-threaded --import tsx scripts/icount.ts MODEL --runs 4
 * Usage:
 *   npx tsx scripts/icount.ts MODEL.tflite|.onnx|.json [--runs N] [--backend auto|ref|wasm] [--profile]
 * With --profile it also prints, per op type and backend, the share of the
 * run time (wall clock: a guide to where the time goes, not a figure) and
 * the nodes whose wasm kernel fell back to the reference one.
 */
import { readModel } from '../src/runtime/load.js';
import { Session } from '../src/runtime/session.js';
import { Tensor, type DType } from '../src/ir/index.js';
import { seededRandom } from '../src/bench/model-builders.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: npx tsx scripts/icount.ts MODEL [--runs N] [--backend auto|ref|wasm] [--profile]');
  process.exit(2);
}
const opt = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const runs = Number(opt('runs', '3'));
const backend = opt('backend', 'auto') as 'auto' | 'ref' | 'wasm';
const profile = process.argv.includes('--profile');

const graph = await readModel(file);
const session = new Session(graph, { backend, profile });
const rand = seededRandom(1);
const feeds: Record<string, Tensor> = {};
for (const i of session.inputs) {
  const shape = i.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const t = new Tensor(i.dtype as DType, shape);
  const d = t.data as Float32Array | Int8Array | Int16Array | Uint8Array;
  for (let k = 0; k < d.length; k++) d[k] = i.dtype === 'float32' ? rand() : Math.floor(rand() * 200) - 100;
  feeds[i.name] = t;
}
for (let r = 0; r < runs; r++) session.runSync(feeds);
if (profile && runs > 0) {
  const plan = session.currentPlan;
  const backendOf = new Map<string, string>();
  for (const s of plan?.steps ?? []) {
    const st = s.state as { fallback?: string } | undefined;
    const dtype = s.inputs[0]?.dtype ?? '?';
    backendOf.set(s.node.name, `${s.kernel.backend}${st && typeof st === 'object' && 'fallback' in st ? ' (fell back: ' + st.fallback + ')' : ''} ${dtype}`);
  }
  const byOp = new Map<string, number>();
  let total = 0;
  for (const p of session.profile()) {
    const key = `${p.op} ${backendOf.get(p.node) ?? '?'}`;
    byOp.set(key, (byOp.get(key) ?? 0) + p.totalMs);
    total += p.totalMs;
  }
  for (const [k, ms] of [...byOp].sort((a, b) => b[1] - a[1])) console.log(`${(100 * ms / total).toFixed(1).padStart(5)} %  ${k}`);
  console.log(`${(total / runs).toFixed(1)} ms a run (wall clock, loaded machine)`);
}
