/**
 * Quantize from a quantized input (TFLite's Requantize; TensorFlow's converter puts an int16 →
 * int16 one before a 16x8 CONCATENATION of differently scaled inputs): the generated C equals the
 * engine's Quantize on every element, for ratios of scales from 2^-7 to 2^7 (powers of two and
 * ratio 1 included) and, for int8 → int8, also outside XNNPACK's [2^-8, 2^7], over each input
 * type's whole range. int8 → int8 runs in both arithmetics: TFLite's Requantize in
 * tflite-reference, XNNPACK's convert inside its range in tflite-xnnpack.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, perTensorQuant, type DType } from '../../src/ir/index.js';
import { Session } from '../../src/runtime/session.js';
import { emitC } from '../../src/codegen/emit-graph.js';
import { buildAndRun } from '../../src/codegen/verify.js';
import { lcg } from '../helpers/int8-cases.js';

const haveGcc = spawnSync('sh', ['-c', 'command -v gcc'], { stdio: 'ignore' }).status === 0;

function requantizeGraph(seed: number, pairs: [DType, DType][], extraRatios: number[] = []): { graph: Graph; feeds: Tensor[] } {
  const r = lcg(seed);
  const graph = new Graph('requantize', { format: 'cloudless' });
  const feeds: Tensor[] = [];
  let k = 0;
  for (const [a, b] of pairs) {
    for (const ratio of [1, 2, 0.5, 128, 2 ** -7, ...extraRatios, ...Array.from({ length: 6 }, () => 2 ** (r() * 14 - 7))]) {
      const sx = Math.fround(2 ** (r() * 8 - 12));
      const sy = Math.fround(sx / ratio);
      const zp = (t: DType) => (t === 'int8' ? Math.floor(r() * 256) - 128 : r() < 0.5 ? 0 : Math.floor(r() * 2001) - 1000);
      const qx = perTensorQuant(sx, zp(a)), qy = perTensorQuant(sy, zp(b));
      const n = 512;
      const x = new Tensor(a, [n], undefined, qx);
      const lo = a === 'int8' ? -128 : -32768, span = a === 'int8' ? 256 : 65536;
      for (let i = 0; i < n; i++) (x.data as Int16Array)[i] = i < 4 ? [lo, lo + span - 1, 0, qx.zeroPoint[0]!][i]! : lo + Math.floor(r() * span);
      graph.setValue({ name: `x${k}`, dtype: a, shape: [n], quant: qx });
      graph.setValue({ name: `y${k}`, dtype: b, shape: [n], quant: qy });
      graph.addNode({ name: `q${k}`, op: 'Quantize', inputs: [`x${k}`], outputs: [`y${k}`], attrs: { to: b } });
      graph.inputs.push(`x${k}`);
      graph.outputs.push(`y${k}`);
      feeds.push(x);
      k++;
    }
  }
  return { graph, feeds };
}

async function expectSameBytes(graph: Graph, feeds: Tensor[], int8Arithmetic: 'tflite-reference' | 'tflite-xnnpack', fn: string): Promise<void> {
  const want = new Session(graph, { backend: 'ref', int8Arithmetic }).runSync(Object.fromEntries(graph.inputs.map((n, i) => [n, feeds[i]!])));
  const pkg = emitC(graph, { name: 'model', int8Arithmetic });
  expect(pkg.files['cloudless_kernels.c']).toContain(fn);
  const got = await buildAndRun(pkg, feeds, { on: 'host', sanitize: true });
  expect(got.status).toBe(0);
  expect(got.outputs.length).toBe(graph.outputs.length);
  graph.outputs.forEach((n, i) => {
    const w = want[n]!;
    const wb = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    expect(got.outputs[i]!.length, n).toBe(wb.length);
    expect(wb.findIndex((b, j) => b !== got.outputs[i]![j]), `${n}: first differing byte`).toBe(-1);
  });
}

describe.skipIf(!haveGcc)('Requantize compiled to C (needs gcc)', () => {
  it('int8→int16, int16→int8, int16→int16: 33 nodes bit-exact with the engine (sanitized)', async () => {
    const { graph, feeds } = requantizeGraph(2027, [['int8', 'int16'], ['int16', 'int8'], ['int16', 'int16']]);
    await expectSameBytes(graph, feeds, 'tflite-reference', 'cl_requantize_s16_s16');
  }, 120_000);

  it('int8→int8 in both arithmetics, inside and outside XNNPACK\'s range: bit-exact with the engine (sanitized)', async () => {
    const outside = [2 ** -8, 2 ** 7, 2 ** -9, 2 ** 8, 2 ** -12];
    const ref = requantizeGraph(2031, [['int8', 'int8']], outside);
    await expectSameBytes(ref.graph, ref.feeds, 'tflite-reference', 'cl_requantize_s8_s8');
    const xnn = requantizeGraph(2032, [['int8', 'int8']], outside);
    const pkg = emitC(xnn.graph, { name: 'model', int8Arithmetic: 'tflite-xnnpack' });
    // Both paths are taken: the convert inside [2^-8, 2^7], the Requantize at 2^8, 2^-9 and 2^-12.
    expect(pkg.files['model.c']).toMatch(/cl_convert_s8_s8_xnnpack\(/);
    expect(pkg.files['model.c']).toMatch(/cl_requantize_s8_s8\(/);
    await expectSameBytes(xnn.graph, xnn.feeds, 'tflite-xnnpack', 'cl_convert_s8_s8_xnnpack');
  }, 120_000);

  it('a per-axis quantized requantization is refused by name, not emitted wrong', () => {
    const graph = new Graph('q8', { format: 'cloudless' });
    graph.setValue({ name: 'x', dtype: 'int8', shape: [2, 2], quant: { scale: Float32Array.of(0.1, 0.2), zeroPoint: Int32Array.of(0, 0), axis: 0 } });
    graph.setValue({ name: 'y', dtype: 'int8', shape: [2, 2], quant: perTensorQuant(0.3, 1) });
    graph.addNode({ name: 'q', op: 'Quantize', inputs: ['x'], outputs: ['y'], attrs: { to: 'int8' } });
    graph.inputs.push('x');
    graph.outputs.push('y');
    expect(() => emitC(graph, { name: 'model' })).toThrow(/node q \(Quantize\).*quantized per axis/);
  });
});
