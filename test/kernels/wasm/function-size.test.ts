/**
 * No function of the built kernels may be big. V8 runs a new module's code on
 * its baseline compiler (Liftoff) and optimises hot functions with TurboFan on
 * background threads; the time that takes grows faster than the body's size,
 * and while it runs the layers keep running on the baseline code. With the
 * reference-mode requantization inlined into every tile epilogue, gemm_i8 and
 * depthwise_i8 were 35 and 17 KB bodies, and a cold start's first run of
 * MobileNet-v2 int8 took ~100 ms of CPU against ~56 ms without it
 * (docs/cold-start.md). This reads each build's code section and fails,
 * naming the function, if a body exceeds MAX_BODY bytes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAX_BODY = 16 * 1024;
const generated = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/kernels/wasm/generated');

interface FunctionBody { index: number; name: string; bytes: number }

/** The body sizes of a module's defined functions, named by their export where they have one. */
function functionBodies(bytes: Uint8Array): { bodies: FunctionBody[]; declared: number } {
  let p = 8;
  const u32 = (): number => {
    let r = 0, shift = 0, b: number;
    do { b = bytes[p++]!; r += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return r;
  };
  const skipName = () => { const len = u32(); p += len; };
  const skipLimits = () => { const flags = bytes[p++]!; u32(); if (flags & 1) u32(); };
  let importedFunctions = 0, declared = 0;
  const exported = new Map<number, string>();
  const sizes: number[] = [];
  while (p < bytes.length) {
    const id = bytes[p++]!;
    const size = u32();
    const end = p + size;
    if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        skipName(); skipName();
        const kind = bytes[p++]!;
        if (kind === 0) { u32(); importedFunctions++; }
        else if (kind === 1) { p++; skipLimits(); }
        else if (kind === 2) skipLimits();
        else if (kind === 3) p += 2;
        else throw new Error(`import kind ${kind}`);
      }
    } else if (id === 3) {
      declared = u32();
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const len = u32();
        const name = new TextDecoder().decode(bytes.subarray(p, p + len));
        p += len;
        const kind = bytes[p++]!;
        const index = u32();
        if (kind === 0) exported.set(index, name);
      }
    } else if (id === 10) {
      for (let n = u32(); n > 0; n--) { const body = u32(); sizes.push(body); p += body; }
      if (p !== end) throw new Error('code section: bodies do not add up to its size');
    }
    p = end;
  }
  const bodies = sizes.map((b, i) => {
    const index = importedFunctions + i;
    return { index, name: exported.get(index) ?? `function #${index} (not exported)`, bytes: b };
  });
  return { bodies, declared };
}

const builds = readdirSync(generated).filter((f) => f.endsWith('.wasm')).sort();

describe('the size of the kernels\' functions', () => {
  it('finds the four builds', () => {
    expect(builds).toEqual(['kernels-relaxed-threads.wasm', 'kernels-relaxed.wasm', 'kernels-threads.wasm', 'kernels.wasm']);
  });

  it.each(builds)(`%s: every function body is at most ${MAX_BODY} bytes`, (file) => {
    const { bodies, declared } = functionBodies(readFileSync(path.join(generated, file)));
    // The parse found every declared function and the exported kernels among them.
    expect(bodies.length).toBe(declared);
    const names = bodies.map((b) => b.name);
    for (const kernel of ['conv_i8', 'depthwise_i8', 'gemm_f32', 'depthwise_f32']) expect(names).toContain(kernel);
    const big = bodies.filter((b) => b.bytes > MAX_BODY).map((b) => `${b.name}: ${b.bytes} bytes`);
    expect(big.length, `over ${MAX_BODY} bytes (an @inline helper inlined into them?): ${big.join(', ')}`).toBe(0);
  });
});
