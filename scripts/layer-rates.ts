/**
 * npx tsx scripts/layer-rates.ts <model> [--top 14] [--runs 20]
 *
 * Where int8 gains over float32 on the WebAssembly kernels, layer by layer:
 * the model runs as float32 and as int8 (quantized here, like `cloudless
 * bench --dtype int8`), each profiled over the same number of runs, and every
 * Conv and DepthwiseConv shape gets its multiply-accumulate rate in both and
 * the float/int8 time ratio (layers of one shape are summed). Single thread,
 * one process; the two dtypes run one after the other, so compare ratios of
 * layers of one run rather than across runs.
 */
import { loadVariants } from '../src/bench/run.js';
import type { BenchDtype } from '../src/bench/backends.js';
import { Session } from '../src/runtime/session.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : fallback; };
const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
if (!file) {
  console.error('usage: npx tsx scripts/layer-rates.ts <model> [--top 14] [--runs 20]');
  process.exit(1);
}
const top = flag('--top', 14), runs = flag('--runs', 20);

interface Layer { desc: string; ms: number; macs: number }

async function profile(dtype: BenchDtype): Promise<Map<string, Layer>> {
  const variants = await loadVariants(file!, [dtype], {});
  const model = variants.models.get(dtype);
  if (!model || model instanceof Error) throw model ?? new Error(`${file}: no ${dtype} variant`);
  const session = new Session(model.graph, { profile: true });
  for (let i = 0; i < 3; i++) session.runSync(model.feeds);
  session.resetProfile();
  for (let i = 0; i < runs; i++) session.runSync(model.feeds);
  const times = new Map(session.profile().map((p) => [p.node, p.totalMs / runs]));
  const layers = new Map<string, Layer>();
  for (const step of session.currentPlan!.steps) {
    const { op, name } = step.node;
    if (op !== 'Conv' && op !== 'DepthwiseConv') continue;
    // NHWC input and output; weights OHWI (Conv) or 1HWO (DepthwiseConv).
    const x = step.inputs[0]!.shape, w = step.inputs[1]!.shape, y = step.outputs[0]!.shape;
    const perOutput = op === 'Conv' ? w[1]! * w[2]! * w[3]! : w[1]! * w[2]!;
    const desc = `${op === 'Conv' ? 'conv' : 'dw'} ${w[1]}x${w[2]} ${x[3]}->${y[3]} @${y[1]}x${y[2]}`;
    const layer = layers.get(desc) ?? { desc, ms: 0, macs: 0 };
    layer.ms += times.get(name) ?? 0;
    layer.macs += step.outputs[0]!.size * perOutput;
    layers.set(desc, layer);
  }
  session.dispose();
  return layers;
}

const float = await profile('float32');
const int8 = await profile('int8');
const rate = (l: Layer) => (l.macs / l.ms / 1e6).toFixed(1);
console.log(`${'layer (int8 time, largest first)'.padEnd(34)} ${'f32 GMAC/s'.padStart(10)} ${'i8 GMAC/s'.padStart(10)} ${'f32/i8'.padStart(7)}`);
for (const l of [...int8.values()].sort((a, b) => b.ms - a.ms).slice(0, top)) {
  const f = float.get(l.desc);
  if (f) console.log(`${l.desc.padEnd(34)} ${rate(f).padStart(10)} ${rate(l).padStart(10)} ${(f.ms / l.ms).toFixed(2).padStart(7)}`);
}
const total = (m: Map<string, Layer>) => [...m.values()].reduce((s, l) => s + l.ms, 0);
console.log(`all Conv and DepthwiseConv: float32 ${total(float).toFixed(2)} ms, int8 ${total(int8).toFixed(2)} ms, ${(total(float) / total(int8)).toFixed(2)}x`);
