import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { parseNpy, serializeNpy } from '../../src/formats/npy.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { mobileNetV2, toOnnxBytes } from '../../src/bench/model-builders.js';
import { runCli } from './helpers.js';
import { tflmDir } from '../helpers/data.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-cli-'));
const modelPath = path.join(dir, 'mnv2.onnx');
writeFileSync(modelPath, toOnnxBytes(mobileNetV2({ size: 32, alpha: 0.35, classes: 5, blocks: 3 })));

describe('cloudless info', () => {
  it('prints format, I/O, ops, parameters and the planned arena', async () => {
    const r = await runCli(['info', modelPath]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/format\s+onnx/);
    expect(r.stdout).toMatch(/input\s+float32\s+\[1, 3, 32, 32\]/);
    expect(r.stdout).toMatch(/DepthwiseConv/);
    expect(r.stdout).toMatch(/arena\s+[\d.]+ KiB planned/);
  });

  it('prints JSON and lists unsupported ops by node with exit code 1', async () => {
    const p = path.join(dir, 'unknown.onnx');
    writeFileSync(p, writeOnnx({ graph: {
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'], name: 'r' }, { op: 'MysteryOp', inputs: ['y'], outputs: ['z'], name: 'mystery_node' }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }], outputs: [{ name: 'z', dtype: 'float32', shape: [2] }],
    } }));
    const r = await runCli(['info', p, '--json']);
    expect(r.code).toBe(1);
    const info = JSON.parse(r.stdout);
    expect(info.unsupported).toEqual([{ node: 'mystery_node', op: 'MysteryOp' }]);
    expect(info.ops).toEqual({ Relu: 1, MysteryOp: 1 });
  });

  it('gives a clear error for a truncated file, random bytes and a missing file', async () => {
    const bytes = readFileSync(modelPath);
    const truncated = path.join(dir, 'truncated.onnx');
    writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
    const random = path.join(dir, 'random.onnx');
    writeFileSync(random, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff)));
    for (const [file, pattern] of [[truncated, /E_FORMAT.*truncated\.onnx/], [random, /E_FORMAT.*random\.onnx/], [path.join(dir, 'nope.onnx'), /E_FILE.*nope\.onnx/]] as const) {
      const r = await runCli(['info', file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
    }
  });
});

describe('cloudless infer', () => {
  it('runs on .npy inputs and writes each output as DIR/<name>.npy', async () => {
    const x = new Tensor('float32', [1, 3, 32, 32]);
    (x.data as Float32Array).fill(0.5);
    const xPath = path.join(dir, 'x.npy');
    writeFileSync(xPath, serializeNpy(x));
    const out = path.join(dir, 'out');
    const r = await runCli(['infer', modelPath, '--input', `input=${xPath}`, '--out', out, '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.outputs[0].name).toBe('probabilities');
    const probs = parseNpy(readFileSync(path.join(out, 'probabilities.npy')));
    expect(probs.shape).toEqual([1, 5]);
    expect(probs.toNumbers().reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('names the input when a feed is wrong', async () => {
    const bad = path.join(dir, 'bad.npy');
    writeFileSync(bad, serializeNpy(new Tensor('float32', [1, 3, 16, 16])));
    let r = await runCli(['infer', modelPath, '--input', `input=${bad}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/input "input" must have shape \[1, 3, 32, 32\], got \[1, 3, 16, 16\]/);
    r = await runCli(['infer', modelPath, '--input', `wrong=${bad}`]);
    expect(r.stderr).toMatch(/no input "wrong"[\s\S]*inputs are: input/);
    const ints = path.join(dir, 'ints.npy');
    writeFileSync(ints, serializeNpy(new Tensor('int32', [1, 3, 32, 32])));
    r = await runCli(['infer', modelPath, '--input', `input=${ints}`]);
    expect(r.stderr).toMatch(/input "input" must be float32, got int32/);
  });

  it.skipIf(!tflmDir())('runs a .tflite model (hello_world_float)', async () => {
    const x = path.join(dir, 'hx.npy');
    writeFileSync(x, serializeNpy(Tensor.fromNumbers('float32', [1, 1], [Math.PI / 2])));
    const model = path.join(tflmDir()!, 'hello_world_float.tflite');
    const inName = JSON.parse((await runCli(['info', model, '--json'])).stdout).inputs[0].name;
    const out = path.join(dir, 'hout');
    const r = await runCli(['infer', model, '--input', `${inName}=${x}`, '--out', out, '--json']);
    expect(r.code).toBe(0);
    const file = JSON.parse(r.stdout).outputs[0].file;
    expect(existsSync(file)).toBe(true);
    expect(parseNpy(readFileSync(file)).toNumbers()[0]).toBeCloseTo(1, 0);
  });
});
