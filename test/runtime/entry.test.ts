import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Builder } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType, BuiltinOptions } from '../../src/formats/tflite/schema.js';
import { f32Bytes, tinyModel } from '../formats/tflite/tiny-model.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bundle = path.join(root, 'dist/node/runtime.js');
const mainBundle = path.join(root, 'dist/node/index.js');
const ADD = 0;

describe.skipIf(!existsSync(bundle))('cloudless/runtime (dist/node/runtime.js; skipped when missing: npm run build)', () => {
  it('loads a .tflite from bytes and runs it on the wasm kernels it found beside the bundle', async () => {
    const m = (await import(pathToFileURL(bundle).href)) as typeof import('../../src/runtime/entry.js');
    expect(m.wasmUnavailable).toBeUndefined();
    expect(m.wasmKernels.length).toBeGreaterThan(0);
    const bytes = tinyModel(
      [{ name: 'a', shape: [4] }, { name: 'b', shape: [4], data: f32Bytes([1, -1, 5, 0]) }, { name: 'y', shape: [4] }],
      [{ code: ADD, inputs: [0, 1], outputs: [2], options: { type: BuiltinOptions.AddOptions, slots: 2, write: (b: Builder) => b.addFieldInt8(0, ActivationFunctionType.RELU6, 0) } }],
      [0], [2],
    );
    const session = await m.load(bytes);
    const out = await session.run({ a: new m.Tensor('float32', [4], Float32Array.from([2, 0.5, 3, -4])) });
    expect([...(out.y!.data as Float32Array)]).toEqual([3, 0, 6, 0]);
  });

  it('is what package.json exports as ./runtime', async () => {
    const pkg = (await import(pathToFileURL(path.join(root, 'package.json')).href, { with: { type: 'json' } })).default as { main: string; exports: Record<string, { default: string }> };
    expect(pkg.exports['./runtime']!.default).toBe('./dist/node/runtime.js');
    expect(pkg.exports['.']!.default).toBe('./dist/node/index.js');
    expect(pkg.main).toBe('dist/node/index.js');
  });

  it('shares one copy of the classes, the kernels and the registry with the main entry', async () => {
    const pkg = (await import(pathToFileURL(path.join(root, 'package.json')).href, { with: { type: 'json' } })).default as { exports: Record<string, { default: string }> };
    const main = (await import(pathToFileURL(path.join(root, pkg.exports['.']!.default)).href)) as typeof import('../../src/index.js');
    const rt = (await import(pathToFileURL(path.join(root, pkg.exports['./runtime']!.default)).href)) as typeof import('../../src/runtime/entry.js');
    expect(path.join(root, pkg.exports['.']!.default)).toBe(mainBundle);
    expect(rt.Tensor).toBe(main.Tensor);
    expect(rt.CloudlessError).toBe(main.CloudlessError);
    expect(rt.Session).toBe(main.Session);
    expect(rt.defaultRegistry).toBe(main.defaultRegistry);
    // One kernels module, so one wasm heap: the same kernel list and tier.
    expect(rt.wasmKernels).toBe(main.wasmKernels);
    expect(rt.wasmTier()).toBe(main.wasmTier());
    const bytes = tinyModel(
      [{ name: 'a', shape: [4] }, { name: 'b', shape: [4], data: f32Bytes([1, -1, 5, 0]) }, { name: 'y', shape: [4] }],
      [{ code: ADD, inputs: [0, 1], outputs: [2], options: { type: BuiltinOptions.AddOptions, slots: 2, write: (b: Builder) => b.addFieldInt8(0, ActivationFunctionType.RELU6, 0) } }],
      [0], [2],
    );
    // A session of one entry, a tensor of the other: each is the other's class.
    const session = await main.load(bytes);
    expect(session).toBeInstanceOf(rt.Session);
    const out = await session.run({ a: new rt.Tensor('float32', [4], Float32Array.from([2, 0.5, 3, -4])) });
    expect(out.y).toBeInstanceOf(rt.Tensor);
    expect([...(out.y!.data as Float32Array)]).toEqual([3, 0, 6, 0]);
    const err = await rt.load(new Uint8Array([1, 2, 3, 4])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(main.CloudlessError);
  });
});
