import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mobileNetV1, toOnnxBytes } from '../../src/bench/model-builders.js';
import { runConvert } from '../../src/cli/convert.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { readModel } from '../../src/runtime/load.js';
import { tflmDir } from '../helpers/data.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tflm = tflmDir();
if (!tflm) console.warn('convert test: person_detect case skipped (../shared/models/tflm is absent)');

describe('cloudless convert', () => {
  it('writes an ONNX model as .tflite that gives the same outputs', async () => {
    const src = path.join(dir, 'mobilenet.onnx');
    writeFileSync(src, toOnnxBytes(mobileNetV1({ size: 32, blocks: 3, classes: 5, alpha: 0.25 })));
    const out = path.join(dir, 'mobilenet.tflite');
    const s = await runConvert(src, { out });
    expect(s).toMatchObject({ format: 'tflite', dtype: 'float32' });
    expect(s.outputs[0]!.maxAbsDiff).toBeLessThanOrEqual(1e-4 * s.outputs[0]!.range);
    expect((await readModel(new Uint8Array(readFileSync(out)))).meta.format).toBe('tflite');
  });

  it.skipIf(!tflm)('writes int8 person_detect as QDQ ONNX, bit-exact on the check input', async () => {
    const out = path.join(dir, 'person_detect.onnx');
    const s = await runConvert(path.join(tflm!, 'person_detect.tflite'), { out });
    expect(s).toMatchObject({ format: 'onnx', dtype: 'int8' });
    expect(s.outputs.map((o) => o.maxAbsDiff)).toEqual([0]);
    expect(s.outputs[0]!.range).toBeGreaterThan(10);
  });

  it('refuses an unknown extension and a model it cannot express, naming the nodes, and writes nothing', async () => {
    const src = path.join(dir, 'gelu.onnx');
    writeFileSync(src, writeOnnx({
      opset: 20,
      graph: {
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 10] }],
        outputs: [{ name: 'v', dtype: 'float32', shape: [1, 10] }],
        nodes: [{ op: 'Gelu', name: 'best', inputs: ['x'], outputs: ['v'] }],
      },
    }));
    await expect(runConvert(src, { out: path.join(dir, 'x.pb') })).rejects.toThrow(/\.onnx and \.tflite/);
    const out = path.join(dir, 'gelu-copy.onnx');
    await expect(runConvert(src, { out })).rejects.toThrow(/best \(Gelu\)/);
    expect(existsSync(out)).toBe(false);
  });
});
