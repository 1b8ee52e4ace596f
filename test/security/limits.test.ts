/**
 * Finding 4 of issue 21: tiny files that ask for huge memory. The ~100-byte
 * ONNX file whose Expand makes a [50000, 50000] tensor, graph-input dims of
 * 2^31 and negative ones, and a TFLite input dim of 2^31-1 are refused at
 * plan (or import) time with a CloudlessError naming node and size, with the
 * process's peak RSS barely moving; and a property: any model whose planned
 * size exceeds the limit is refused before the allocation.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { CloudlessError, DEFAULT_LIMITS } from '../../src/ir/index.js';
import { load, machineLimits } from '../../src/runtime/load.js';
import { tinyModel } from '../formats/tflite/tiny-model.js';

const { Writer } = protobuf;
type W = protobuf.Writer;
const msg = (w: W, field: number, body: (w: W) => void) => { w.uint32((field << 3) | 2).fork(); body(w); w.ldelim(); };
const str = (w: W, field: number, s: string) => w.uint32((field << 3) | 2).string(s);
const varint = (w: W, field: number, v: number) => w.uint32(field << 3).int64(v);

/** ONNX TensorProto: int64 or float data, packed. */
function tensor(w: W, field: number, name: string, dims: number[], type: 1 | 7, values: number[]) {
  msg(w, field, (t) => {
    for (const d of dims) varint(t, 1, d);
    varint(t, 2, type);
    if (type === 1) { t.uint32((4 << 3) | 2).fork(); for (const v of values) t.float(v); t.ldelim(); }
    else { t.uint32((7 << 3) | 2).fork(); for (const v of values) t.int64(v); t.ldelim(); }
    str(t, 8, name);
  });
}
function valueInfo(w: W, field: number, name: string, dims?: number[]) {
  msg(w, field, (v) => {
    str(v, 1, name);
    msg(v, 2, (tp) => msg(tp, 1, (tt) => { varint(tt, 1, 1); if (dims) msg(tt, 2, (sh) => { for (const d of dims) msg(sh, 1, (dm) => varint(dm, 1, d)); }); }));
  });
}
function onnxModel(graph: (g: W) => void): Uint8Array {
  const w = Writer.create();
  varint(w, 1, 8);
  msg(w, 8, (o) => varint(o, 2, 13));
  msg(w, 7, (g) => { graph(g); str(g, 2, 'g'); });
  return w.finish();
}
const node = (g: W, op: string, inputs: string[], outputs: string[]) => msg(g, 1, (n) => {
  for (const i of inputs) str(n, 1, i);
  for (const o of outputs) str(n, 2, o);
  str(n, 3, op.toLowerCase());
  str(n, 4, op);
});

/** Constant x (one float) expanded to `shape`, then (optionally) reshaped to itself. */
const expandBomb = (shape: number[], reshape = false) => onnxModel((g) => {
  node(g, 'Expand', ['x', 's'], [reshape ? 'e' : 'y']);
  if (reshape) node(g, 'Reshape', ['e', 's'], ['y']);
  tensor(g, 5, 'x', [1], 1, [1]);
  tensor(g, 5, 's', [shape.length], 7, shape);
  valueInfo(g, 12, 'y');
});
/** y = Relu(x) with x declared of `dims`. */
const reluOf = (dims: number[]) => onnxModel((g) => {
  node(g, 'Relu', ['x'], ['y']);
  valueInfo(g, 11, 'x', dims);
  valueInfo(g, 12, 'y');
});

async function refusal(p: Promise<unknown>): Promise<CloudlessError> {
  try { await p; } catch (err) { return err as CloudlessError; }
  throw new Error('expected a refusal');
}
const MB = 1024 * 1024;

describe('resource limits', () => {
  it('the ~100-byte Expand/Reshape [50000, 50000] file is refused naming node and size, peak RSS +<200 MB', async () => {
    for (const bytes of [expandBomb([50000, 50000]), expandBomb([50000, 50000], true)]) {
      expect(bytes.length).toBeLessThan(120);
      const before = process.resourceUsage().maxRSS * 1024;
      const err = await refusal(load(bytes));
      expect(err).toBeInstanceOf(CloudlessError);
      expect(err.code).toBe('E_LIMIT');
      expect(err.message).toMatch(/node expand \(Expand\): output "(e|y)": shape \[50000, 50000\] is 2\.500e\+9 elements \(9\.3 GiB\)/);
      expect(process.resourceUsage().maxRSS * 1024 - before).toBeLessThan(200 * MB);
    }
  });

  it('graph-input dims of 2^31 and negative dims are refused at import; a TFLite dim of 2^31-1 is E_LIMIT, not a RangeError', async () => {
    const big = await refusal(load(reluOf([1, 2 ** 31])));
    expect(big).toMatchObject({ code: 'E_SHAPE', message: expect.stringMatching(/graph input "x" declares the dimension 2147483648/) });
    const neg = await refusal(load(reluOf([1, -5])));
    expect(neg).toMatchObject({ code: 'E_SHAPE', message: expect.stringMatching(/dimension -5/) });
    const tfl = tinyModel([{ name: 'x', shape: [1, 2 ** 31 - 1] }, { name: 'y', shape: [1, 2 ** 31 - 1] }], [{ code: 19, inputs: [0], outputs: [1] }], [0], [1]);
    const before = process.resourceUsage().maxRSS * 1024;
    const err = await refusal(load(tfl));
    expect(err).toBeInstanceOf(CloudlessError);
    expect(err.code).toBe('E_LIMIT');
    expect(err.message).toMatch(/input "x": shape \[1, 2147483647\]/);
    expect(process.resourceUsage().maxRSS * 1024 - before).toBeLessThan(200 * MB);
  });

  it('defaults follow the machine, and explicit limits apply', async () => {
    expect(machineLimits(16 * 2 ** 30)).toEqual({ maxArenaBytes: 4 * 2 ** 30, maxTensorElements: 2 ** 30 });
    expect(machineLimits(2 ** 30).maxTensorElements).toBe(2 ** 26);
    expect(DEFAULT_LIMITS.maxTensorElements).toBeLessThanOrEqual(2 ** 30);
    await expect(load(reluOf([1, 1000]), { maxTensorElements: 999 })).rejects.toMatchObject({ code: 'E_LIMIT' });
    await expect(load(reluOf([1, 1000]), { maxArenaBytes: 3000 })).rejects.toMatchObject({ code: 'E_LIMIT' });
    const s = await load(reluOf([1, 1000]), { maxTensorElements: 1000 });
    expect(s.memory.arenaBytes).toBeGreaterThan(0);
  });

  it('property: a model whose planned size exceeds the limit is refused before any allocation; one within it runs', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 4096 }),
      async (shape, limit) => {
        const elements = shape.reduce((a, b) => a * b, 1);
        if (elements <= limit) {
          // Within the limit: it plans and runs, with the shape asked for.
          const s = await load(expandBomb(shape), { maxTensorElements: limit, maxArenaBytes: 1 << 20 });
          const out = (await s.run({}))['y']!;
          expect(out.shape).toEqual(shape);
          return;
        }
        // Over it: refused with E_LIMIT. Shapes up to 2^124 elements are drawn, so an attempt
        // to allocate first would throw a RangeError or exhaust memory instead.
        const err = await refusal(load(expandBomb(shape), { maxTensorElements: limit }));
        expect(err.code).toBe('E_LIMIT');
      }), { numRuns: 150 });
  });
});

describe('CLI flags', () => {
  it('--max-arena-mb applies to the verbs that load a model (info)', async () => {
    const { runCli } = await import('../cli/helpers.js');
    const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-limits-'));
    const file = path.join(dir, 'relu.onnx');
    writeFileSync(file, reluOf([1, 1 << 20]));
    try {
      // info reports the planning error in place of the arena figure (the file itself is readable).
      const r = await runCli(['--max-arena-mb', '1', 'info', file, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).arenaError).toMatch(/input "x": shape \[1, 1048576\] .*over the limit/);
    } finally {
      delete process.env.CLOUDLESS_MAX_ARENA_MB;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
