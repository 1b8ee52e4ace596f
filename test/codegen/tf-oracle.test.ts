/**
 * An oracle we did not write: TensorFlow's TFLite reference kernels (tf.lite.Interpreter with
 * the BUILTIN_REF op resolver) against the engine's `tflite-reference` outputs and the generated
 * C built on the host, element for element, on int8 and 16x8 models that TensorFlow's own
 * converter makes at test time from small Keras graphs (scripts/tf-oracle.py; nothing is
 * committed). The one known difference is pinned: a MEAN whose input and output share scale and
 * zero point, where TFLite's interpreter rounds the mean and TFLite Micro (which the engine and
 * the C follow) truncates it (docs/micro.md).
 *
 * Dev-only: needs TensorFlow (`npm run setup-tf`, ~1.6 GB) and CLOUDLESS_SLOW=1 (converting
 * ~60 models takes minutes). Run: CLOUDLESS_SLOW=1 npx vitest run test/codegen/tf-oracle.test.ts
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CloudlessError, type Graph, type Tensor } from '../../src/ir/index.js';
import { readModel } from '../../src/runtime/load.js';
import { Session } from '../../src/runtime/session.js';
import { emitC } from '../../src/codegen/emit-graph.js';
import { buildAndRun } from '../../src/codegen/verify.js';
import { parseNpy } from '../../src/formats/npy.js';
import { tfVenvPython } from '../../scripts/setup-tf.mjs';
import { compareElements, meanRoundVsTruncate, valuesAs, type Manifest, type OracleModel } from './tf-oracle-helpers.js';

const root = new URL('../../', import.meta.url).pathname;
const haveTf = existsSync(tfVenvPython);
const slow = !!process.env.CLOUDLESS_SLOW;
const enabled = haveTf && slow;

/**
 * The C generator's refusals among the cases (tag → what the message names): ops it has no kernel
 * for must be refused by name, and the engine is still checked against TF. None at present (the
 * 16x8 pools were the last ones).
 */
const C_REFUSES: Record<string, RegExp> = {};

/** Cases where TFLite's interpreter and TFLite Micro differ by design: MEAN with equal quantization. */
const MEAN_EQUAL = new Set(['mean_equal_int8', 'mean_equal_16x8']);

function runOracle(): { dir: string; manifest: Manifest } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-tf-oracle-'));
  const r = spawnSync(tfVenvPython, [path.join(root, 'scripts/tf-oracle.py'), dir], { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`scripts/tf-oracle.py failed (exit ${r.status}):\n${(r.stderr ?? '').slice(-4000)}`);
  return { dir, manifest: JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest };
}

const oracle = enabled ? runOracle() : undefined;
const totals = { models: 0, ops: new Set<string>(), elements: 0, intermediates: 0, mismatches: 0, pinned: 0, cRefused: 0 };

/** TF's tensors by the engine's value names (the importer's names: TFLite's, made unique with `_k`). */
function tfTensors(dir: string, m: OracleModel): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const used = new Set<string>();
  m.tensors.forEach((t) => {
    let name = t.name || `tensor_${t.index}`;
    if (used.has(name)) for (let k = 1; ; k++) if (!used.has(`${name}_${k}`)) { name = `${name}_${k}`; break; }
    used.add(name);
    if (t.npy) out.set(name, parseNpy(new Uint8Array(readFileSync(path.join(dir, t.npy))), t.npy));
  });
  return out;
}

describe.skipIf(!enabled)(`TFLite's BUILTIN_REF kernels as an oracle (needs \`npm run setup-tf\` and CLOUDLESS_SLOW=1${haveTf ? '' : '; the venv is absent'})`, () => {
  afterAll(() => {
    if (!oracle) return;
    rmSync(oracle.dir, { recursive: true, force: true });
    console.log(`tf-oracle (tensorflow ${oracle.manifest.tensorflow}): ${totals.models} models, ops ${[...totals.ops].sort().join(' ')}; `
      + `${totals.elements} elements compared (engine and C outputs, engine on ${totals.intermediates} intermediate tensors), ${totals.mismatches} unexplained mismatches, ${totals.pinned} pinned MEAN differences; `
      + `${totals.cRefused} models refused by the C generator as expected`);
  });

  it('the converter made every case in both modes', () => {
    const failed = oracle!.manifest.models.filter((m) => m.error).map((m) => `${m.case} ${m.mode}: ${m.error}`);
    expect(failed).toEqual([]);
  });

  for (const m of oracle?.manifest.models ?? []) {
    if (m.error || m.unsupported) continue;
    const tag = `${m.case}_${m.mode}`;
    it(`${tag} (${m.ops.join(', ')}): engine and C equal TFLite's reference kernels`, async () => {
      const { dir } = oracle!;
      const graph: Graph = await readModel(path.join(dir, m.tflite));
      const tf = tfTensors(dir, m);
      const feeds = Object.fromEntries(graph.inputs.map((n) => {
        const t = tf.get(n);
        if (!t) throw new Error(`${tag}: TF saved no tensor for input ${n}`);
        return [n, t];
      }));
      const engine = new Session(graph, { backend: 'ref', int8Arithmetic: 'tflite-reference' }).runSync(feeds);
      let c: Uint8Array[] | undefined;
      try {
        const pkg = emitC(graph, { name: 'model' });
        const got = await buildAndRun(pkg, graph.inputs.map((n) => feeds[n]!), { on: 'host' });
        expect(got.status).toBe(0);
        c = got.outputs;
        expect(C_REFUSES[tag], `${tag} compiled, but the test expects the C generator to refuse it`).toBeUndefined();
      } catch (err) {
        if (!(err instanceof CloudlessError) || !C_REFUSES[tag]) throw err;
        expect(err.code).toBe('E_UNSUPPORTED_OP');
        expect(err.message).toMatch(C_REFUSES[tag]!);
        totals.cRefused++;
      }
      totals.models++;
      for (const op of m.ops) totals.ops.add(op);
      // Every intermediate activation TF preserved that the engine's graph still has (same name): engine only.
      const inner = await readModel(path.join(dir, m.tflite));
      const extra = [...tf.keys()].filter((n) => !inner.inputs.includes(n) && !inner.outputs.includes(n) && inner.values.has(n) && !inner.value(n).constant
        && inner.nodes.some((node) => node.outputs.includes(n)));
      if (extra.length) {
        inner.outputs.push(...extra);
        const all = new Session(inner, { backend: 'ref', int8Arithmetic: 'tflite-reference' }).runSync(feeds);
        for (const n of extra) {
          const diff = compareElements(tf.get(n)!, all[n]!);
          totals.elements += tf.get(n)!.size;
          totals.intermediates++;
          totals.mismatches += diff.length;
          expect(diff.slice(0, 10), `${tag} intermediate ${n}: ${diff.length} of ${tf.get(n)!.size} elements differ from TF`).toEqual([]);
        }
      }
      graph.outputs.forEach((name, k) => {
        const want = tf.get(name);
        expect(want, `${tag}: TF saved output ${name}`).toBeDefined();
        const ours: [string, Uint8Array | Tensor][] = [['engine', engine[name]!]];
        if (c) ours.push(['C', c[k]!]);
        for (const [who, got] of ours) {
          const diff = compareElements(want!, got);
          totals.elements += want!.size;
          if (MEAN_EQUAL.has(tag)) {
            // TFLite Micro (engine and C) truncates sum/n; TFLite's interpreter rounds it (int8: half away from
            // zero; 16x8: its integer MEAN path, within 1 of the exact mean). Pinned: ours is exactly the
            // truncation, TF differs by exactly 1 where it differs, and the case exercises the difference.
            const pin = meanRoundVsTruncate(feeds[graph.inputs[0]!]!, want!.size);
            expect(Array.from(valuesAs(want!, got)), `${tag} ${who}: TFLM's MEAN truncates`).toEqual(pin.truncated);
            if (m.mode === 'int8') expect(Array.from(want!.data as Int8Array), `${tag}: TF's MEAN rounds half away from zero`).toEqual(pin.rounded);
            (want!.data as Int16Array).forEach((v, k) => expect(Math.abs(v - pin.exact[k]!), `${tag}: TF element ${k}`).toBeLessThan(1));
            for (const d of diff) expect(Math.abs(d.want - d.got), `${tag} ${who} element ${d.index}`).toBe(1);
            expect(diff.length, `${tag}: the case must exercise the difference`).toBeGreaterThan(0);
            if (who === 'C') console.log(`${tag}: TF ${JSON.stringify(Array.from(want!.data as Int16Array))}, TFLM/engine/C ${JSON.stringify(pin.truncated)}, exact ${JSON.stringify(pin.exact.map((v) => +v.toFixed(3)))}`);
            totals.pinned += diff.length;
          } else {
            totals.mismatches += diff.length;
            expect(diff.slice(0, 10), `${tag} ${who} output ${name}: ${diff.length} of ${want!.size} elements differ from TF`).toEqual([]);
          }
        }
      });
    }, 120_000);
  }
});
