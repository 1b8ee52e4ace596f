/**
 * Instructions per inference of the generated C on the emulated Cortex-M targets (docs/micro.md):
 * each model is compiled, run as firmware under QEMU `-icount shift=0` (src/codegen/verify.ts
 * reads a hardware counter around `<name>_invoke`), and checked bit-exact with the engine first,
 * so every count is of a correct run. Not a test. On Cortex-M4 each model is built twice: with
 * -DCL_NO_DSP (the plain int8 loops) and without (the DSP loops, the default there).
 *   npx tsx scripts/micro-icount.ts [--on cortex-m4,cortex-m0plus,host] [MODEL.tflite ...]
 * `host` builds for x86-64 (gcc -O2) and counts `<name>_invoke` inclusive under
 * `valgrind --tool=callgrind` (callgrind_annotate --inclusive=yes).
 * Without models: the TFLM models of ../shared/models/tflm and a small int8 and 16x8 MobileNetV2
 * (the quantizer's, as in test/codegen/emit-graph.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Tensor, type Graph } from '../src/ir/index.js';
import { readModel } from '../src/runtime/load.js';
import { Session } from '../src/runtime/session.js';
import { emitC } from '../src/codegen/emit-graph.js';
import { buildAndRun, type RunResult, type VerifyTarget } from '../src/codegen/verify.js';
import { MACHINES, type CortexTarget } from '../src/codegen/targets/cortex-m.js';
import { mobileNetV2, seededRandom, toOnnxBytes } from '../src/bench/model-builders.js';
import { importOnnx } from '../src/formats/onnx/import.js';
import { optimizeLayout } from '../src/passes/layout.js';
import { prepareForQuantization } from '../src/passes/quantize-prep.js';
import { calibrate } from '../src/quantize/calibrate.js';
import { quantizeGraph } from '../src/quantize/quantize.js';

const args = process.argv.slice(2);
const onAt = args.indexOf('--on');
const targets = (onAt >= 0 ? args.splice(onAt, 2)[1]! : 'cortex-m4,cortex-m0plus').split(',') as CortexTarget[];
const TFLM = new URL('../../shared/models/tflm/', import.meta.url).pathname;

function mobileNet(activations: 'int8' | 'int16'): { name: string; graph: Graph } {
  const g = optimizeLayout(importOnnx(toOnnxBytes(mobileNetV2({ size: 16, alpha: 0.35, classes: 10, blocks: 3, batchNorm: true })), 'mobilenet.onnx'));
  prepareForQuantization(g);
  const r = seededRandom(5);
  const sample = () => new Tensor('float32', [1, 3, 16, 16], Float32Array.from({ length: 768 }, () => r() * 2 - 1));
  const q = quantizeGraph(g, calibrate(g, Array.from({ length: 4 }, () => ({ input: sample() }))), { activations });
  return { name: `mobilenetv2_16px_${activations === 'int8' ? 'int8' : '16x8'}`, graph: q.graph };
}

async function models(): Promise<{ name: string; graph: Graph }[]> {
  if (args.length) return Promise.all(args.map(async (f) => ({ name: path.basename(f).replace(/\.[^.]*$/, ''), graph: await readModel(f) })));
  const out: { name: string; graph: Graph }[] = [];
  for (const m of ['hello_world_int8', 'hello_world_float', 'micro_speech_quantized', 'person_detect']) {
    if (existsSync(`${TFLM}${m}.tflite`)) out.push({ name: m, graph: await readModel(`${TFLM}${m}.tflite`) });
    else console.error(`micro-icount: ${TFLM}${m}.tflite is absent; skipped`);
  }
  out.push(mobileNet('int8'), mobileNet('int16'));
  return out;
}

/** Deterministic inputs over the dtype's range (as test/codegen/emit-graph.test.ts). */
function inputsFor(s: Session): Tensor[] {
  const r = seededRandom(7);
  return s.inputs.map((i) => {
    const t = new Tensor(i.dtype, i.shape as number[]);
    for (let k = 0; k < t.size; k++) (t.data as Float32Array)[k] = i.dtype === 'float32' ? (r() - 0.5) * 2 : Math.floor(r() * 256) - 128;
    return t;
  });
}

for (const { name, graph } of await models()) {
  const engine = new Session(graph, { backend: 'ref', int8Arithmetic: 'tflite-reference' });
  const feeds = inputsFor(engine);
  const want = engine.runSync(Object.fromEntries(graph.inputs.map((n, i) => [n, feeds[i]!])));
  const pkg = emitC(graph, { name: 'model' });
  for (const on of targets as VerifyTarget[]) {
    if (on === 'host') {
      const got = await buildAndRun(pkg, feeds, { on: 'host', keep: true });
      const out = path.join(got.dir!, 'cg.out');
      execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, path.join(got.dir!, 'model')], { stdio: ['ignore', 'ignore', 'ignore'] });
      const report = execFileSync('callgrind_annotate', ['--inclusive=yes', out], { encoding: 'utf8', maxBuffer: 1 << 26 });
      const line = report.split('\n').find((l) => /\bmodel_invoke\b/.test(l));
      rmSync(got.dir!, { recursive: true, force: true });
      console.log(`${name} on host (x86-64, gcc -O2, callgrind): ${line ? line.trim().split(/\s+/)[0] : '?'} instructions in model_invoke (inclusive)`);
      continue;
    }
    const m = MACHINES[on as CortexTarget];
    if (pkg.arenaBytes + m.stackBytes > m.ramBytes) { console.log(`${name} on ${on}: does not fit (${pkg.arenaBytes} B arena + ${m.stackBytes} B stack > ${m.ramBytes} B RAM)`); continue; }
    // Cortex-M4 has the DSP extension: the package's DSP loops run by default, the plain ones with -DCL_NO_DSP.
    const builds: [string, string[]][] = on === 'cortex-m4' ? [['plain, -DCL_NO_DSP', ['CL_NO_DSP']], ['DSP', []]] : [['plain', []]];
    for (const [label, defines] of builds) {
      let got: RunResult;
      try {
        got = await buildAndRun(pkg, feeds, { on, timeoutMs: 600_000, defines });
      } catch (err) {
        console.log(`${name} on ${on} (${label}): not run: ${(err as Error).message.split('\n')[0]}`);
        continue;
      }
      const exact = got.status === 0 && graph.outputs.every((n, i) => {
        const w = want[n]!;
        const wb = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
        return got.outputs[i]!.length === wb.length && wb.every((b, k) => b === got.outputs[i]![k]);
      });
      console.log(`${name} on ${on} (QEMU ${m.machine}, ${label}): ${got.instructions} instructions per inference (±${got.instructionResolution}), `
        + `flash ${got.size!.text + got.size!.data} B, arena ${pkg.arenaBytes} B, stack ${got.stackBytes} B, ${exact ? 'bit-exact with the engine' : 'NOT bit-exact'}`);
    }
  }
}
