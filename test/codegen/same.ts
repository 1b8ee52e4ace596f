/**
 * The one comparison of the codegen tests: the generated C's outputs equal the
 * engine's on every byte (lengths first), for one graph and its inputs.
 */
import { expect } from 'vitest';
import type { Graph, Tensor } from '../../src/ir/index.js';
import type { Int8Arithmetic } from '../../src/ir/kernel.js';
import { Session } from '../../src/runtime/session.js';
import { emitC } from '../../src/codegen/emit-graph.js';
import { buildAndRun, type VerifyTarget } from '../../src/codegen/verify.js';

export function bytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Expects every output of the C run to equal the engine's, byte for byte (lengths first); `defines` are -D macros of the build (e.g. CL_NO_DSP). */
export async function expectSame(graph: Graph, feeds: Tensor[], on: VerifyTarget, sanitize = false, int8Arithmetic: Int8Arithmetic = 'tflite-reference', defines: string[] = []) {
  const engine = new Session(graph, { backend: 'ref', int8Arithmetic });
  const want = engine.runSync(Object.fromEntries(graph.inputs.map((n, i) => [n, feeds[i]!])));
  const pkg = emitC(graph, { name: 'model', int8Arithmetic });
  const got = await buildAndRun(pkg, feeds, { on, sanitize, defines });
  expect(got.status).toBe(0);
  expect(got.outputs.length).toBe(graph.outputs.length);
  graph.outputs.forEach((n, i) => {
    const w = bytes(want[n]!);
    expect(got.outputs[i]!.length, n).toBe(w.length);
    const diff = w.findIndex((b, k) => b !== got.outputs[i]![k]);
    expect(diff, `${graph.name} output ${n}: first differing byte`).toBe(-1);
  });
  return { pkg, got };
}

