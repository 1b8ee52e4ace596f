import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { parseNpy, serializeNpy } from '../../src/formats/npy.js';
import { runCli } from './helpers.js';
import { loadSklearnFixture, sklearnFixtureNames } from '../helpers/sklearn.js';

const TFLM = new URL('../../../shared/models/tflm/', import.meta.url).pathname;
const model = `${TFLM}micro_speech_quantized.tflite`;

describe.skipIf(!existsSync(model))('cloudless compile (needs ../shared/models/tflm)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cloudless-compile-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes the package and prints flash and RAM', async () => {
    const r = await runCli(['compile', model, '--target', 'c', '-o', path.join(dir, 'pkg'), '--name', 'kws']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/RAM: +5968 B arena \(KWS_ARENA_BYTES; lower bound 5968 B, met\)/);
    expect((await readdir(path.join(dir, 'pkg'))).sort()).toEqual(['cloudless_kernels.c', 'cloudless_kernels.h', 'kws.c', 'kws.h']);
    expect(await readFile(path.join(dir, 'pkg', 'kws.h'), 'utf8')).toMatch(/#define KWS_ARENA_BYTES 5968/);
  });

  it('--verify builds, runs and finds the outputs bit-exact; --out writes them as .npy', async () => {
    const x = new Tensor('int8', [1, 1960], Int8Array.from({ length: 1960 }, (_, i) => ((i * 53) % 256) - 128));
    const npy = path.join(dir, 'x.npy');
    await writeFile(npy, serializeNpy(x));
    const r = await runCli(['compile', model, '-o', path.join(dir, 'pkg2'), '--verify', '--input', `Reshape_1=${npy}`, '--out', path.join(dir, 'out')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/bit-exact/);
    expect(r.code).toBe(0);
    const files = await readdir(path.join(dir, 'out'));
    expect(files.length).toBe(1);
    const y = parseNpy(new Uint8Array(await readFile(path.join(dir, 'out', files[0]!))));
    expect(y.shape).toEqual([1, 4]);
  }, 120_000);

  it('a graph too large for the target RAM is reported with the figure', async () => {
    const r = await runCli(['compile', `${TFLM}person_detect.tflite`, '-o', path.join(dir, 'pd'), '--verify', '--on', 'cortex-m0plus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/arena \(55296 B\).*cortex-m0plus \(QEMU microbit\) has 16384 B/);
  }, 120_000);
});

describe.skipIf(!sklearnFixtureNames()?.includes('rf_clf_iris'))('cloudless compile of a classic ONNX-ML model', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cloudless-compile-ml-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a random forest: --verify bit-exact on the host and on Cortex-M4 under QEMU; int16 --verify refused', async () => {
    const f = loadSklearnFixture('rf_clf_iris');
    const n = f.X.shape[1]!;
    const x = new Tensor('float32', [1, n], Float32Array.from((f.X.data as Float32Array).subarray(0, n)));
    const npy = path.join(dir, 'x.npy');
    await writeFile(npy, serializeNpy(x));
    for (const on of ['host', 'cortex-m4']) {
      const r = await runCli(['compile', f.modelPath, '-o', path.join(dir, `pkg-${on}`), '--name', 'forest', '--verify', '--input', `X=${npy}`, '--on', on]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.match(/bit-exact/g)?.length).toBe(2);
    }
    const bad = await runCli(['compile', f.modelPath, '-o', path.join(dir, 'pkg16'), '--features', 'int16', '--verify', '--input', `X=${npy}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--features int16 outputs are not meant to equal it/);
  }, 120_000);
});
