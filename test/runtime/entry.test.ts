import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Builder } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType, BuiltinOptions } from '../../src/formats/tflite/schema.js';
import { f32Bytes, tinyModel } from '../formats/tflite/tiny-model.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bundle = path.join(root, 'dist/runtime/bundle.js');
const ADD = 0;

describe.skipIf(!existsSync(bundle))('cloudless/runtime (dist/runtime/bundle.js; skipped when missing: npm run build)', () => {
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
    const pkg = (await import(pathToFileURL(path.join(root, 'package.json')).href, { with: { type: 'json' } })).default as { exports: Record<string, { default: string }> };
    expect(pkg.exports['./runtime']!.default).toBe('./dist/runtime/bundle.js');
  });
});
