#!/usr/bin/env node
/**
 * Measures whether the relaxed 8-bit dot product would speed up the int8 GEMM
 * (issue 18), before any kernel of the product uses it. Compiles gemm.as.ts
 * (three inner loops of one 4×8 tile, see its header), packs one set of
 * random int8 activations and weights for each, checks every int32 output
 * against a plain JS sum, and runs one of them N times for instruction counts:
 *
 *   node scripts/relaxed-dot/probe.mjs check [--rows R --k K --cout C]
 *   valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg.out \
 *     node --single-threaded scripts/relaxed-dot/probe.mjs run --variant i16|split|usdot --iters N
 *
 * Take the difference of two counts (N = 1 and N = 11) over 10: compiling and
 * packing cancel out. Needs an engine with relaxed SIMD (Node 22+). Not a test.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const mode = args[0] ?? 'check';
const opt = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const rows = Number(opt('rows', '784')), K = Number(opt('k', '96')), cout = Number(opt('cout', '576'));
const iters = Number(opt('iters', '1'));
if (rows % 4 || K % 16 || cout % 8) throw new Error('probe: rows must be a multiple of 4, k of 16, cout of 8');

// Compiled once into the temp directory (rebuilt when gemm.as.ts is newer), so counted runs do not count the compiler.
const source = join(here, 'gemm.as.ts');
const cached = join(tmpdir(), 'cloudless-relaxed-dot', 'gemm.wasm');
if (!existsSync(cached) || statSync(cached).mtimeMs < statSync(source).mtimeMs) {
  const { default: asc } = await import('assemblyscript/asc');
  const outputs = {};
  const r = await asc.main([source, '--outFile', 'gemm.wasm', '--enable', 'simd,relaxed-simd', '-O3', '--runtime', 'stub', '--noAssert'], {
    writeFile: (name, contents) => { outputs[name] = contents; },
    stdout: { write() {} }, stderr: { write: (s) => process.stderr.write(s) },
  });
  if (r.error) throw r.error;
  mkdirSync(dirname(cached), { recursive: true });
  writeFileSync(cached, outputs['gemm.wasm']);
}
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(cached)), {});
const memory = exports.memory;

/** mulberry32, as src/ir/random.ts. */
function rng(seed) {
  let a = seed >>> 0;
  return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}
const rand = rng(7);
const extreme = args.includes('--extreme');
const x = new Int8Array(rows * K).map(() => (extreme ? (rand() < 0.5 ? -128 : 127) : Math.floor(rand() * 256) - 128));
const w = new Int8Array(cout * K).map(() => (extreme ? (rand() < 0.5 ? -127 : 127) : Math.floor(rand() * 255) - 127));
const bias = new Int32Array(cout).map(() => Math.floor(rand() * 2 ** 20) - 2 ** 19);

function reference() {
  const y = new Int32Array(rows * cout);
  for (let i = 0; i < rows; i++) for (let o = 0; o < cout; o++) {
    let s = bias[o];
    for (let k = 0; k < K; k++) s = (s + x[i * K + k] * w[o * K + k]) | 0;
    y[i * cout + o] = s;
  }
  return y;
}

/** Weight value of channel c at k, or 0 past the block. */
const wAt = (c, k) => w[c * K + k];
function pack(variant) {
  const blocks = cout / 8;
  if (variant === 'i16') {
    const p = new Int8Array(blocks * K * 8);
    let o = 0;
    for (let j = 0; j < blocks; j++) for (let g = 0; g < K; g += 8) for (let s = 0; s < 4; s++) for (let q = 0; q < 2; q++) {
      for (let l = 0; l < 4; l++) { const pair = (l + s) % 4; p[o++] = wAt(j * 8 + q * 4 + l, g + 2 * pair); p[o++] = wAt(j * 8 + q * 4 + l, g + 2 * pair + 1); }
    }
    return { p, b: bias };
  }
  const halves = variant === 'split';
  const p = new Int8Array(blocks * K * 8 * (halves ? 2 : 1));
  let o = 0;
  for (let j = 0; j < blocks; j++) for (let g = 0; g < K; g += 16) for (let s = 0; s < 4; s++) for (let q = 0; q < 2; q++) {
    for (const half of halves ? [0, 1] : [0]) {
      for (let l = 0; l < 4; l++) {
        const quad = (l + s) % 4;
        for (let t = 0; t < 4; t++) {
          const v = wAt(j * 8 + q * 4 + l, g + 4 * quad + t);
          if (!halves) p[o++] = v;
          else { const a = Math.min(v + 127, 127); p[o++] = half === 0 ? a : v + 127 - a; }
        }
      }
    }
  }
  if (halves) return { p, b: bias };
  const b = bias.map((v, c) => { let s = 0; for (let k = 0; k < K; k++) s += wAt(c, k); return (v - 128 * s) | 0; });
  return { p, b };
}

function setUp(variant) {
  const { p, b } = pack(variant);
  const ax = 1024, aw = ax + x.length + 64, ab = (aw + p.length + 64 + 15) & ~15, ay = ab + 4 * b.length + 64;
  const need = ay + 4 * rows * cout + 64;
  if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  new Int8Array(memory.buffer, ax, x.length).set(x);
  new Int8Array(memory.buffer, aw, p.length).set(p);
  new Int32Array(memory.buffer, ab, b.length).set(b);
  const fn = exports[`gemm_${variant}`];
  return { run: () => fn(ax, rows, K, aw, ab, cout, ay), out: () => new Int32Array(memory.buffer, ay, rows * cout).slice() };
}

if (mode === 'check') {
  const ref = reference();
  for (const v of ['i16', 'split', 'usdot']) {
    const s = setUp(v);
    s.run();
    const y = s.out();
    let bad = 0, first = -1;
    for (let i = 0; i < y.length; i++) if (y[i] !== ref[i]) { bad++; if (first < 0) first = i; }
    console.log(`${process.version} ${v}: ${bad === 0 ? 'exact' : `${bad} of ${y.length} outputs differ (first at ${first}: ${y[first]} != ${ref[first]})`} (rows ${rows}, K ${K}, cout ${cout}${extreme ? ', extreme values' : ''})`);
  }
} else {
  const s = setUp(opt('variant', 'i16'));
  for (let i = 0; i < iters; i++) s.run();
  console.log(`${process.version} ${opt('variant', 'i16')} × ${iters}: y[0] = ${s.out()[0]}`);
}
