#!/usr/bin/env node
/**
 * node scripts/kernel-ab.mjs before.wasm after.wasm [--rounds 80]
 *
 * Interleaved A/B of the int8 convolution kernels of two builds of
 * kernels.wasm (copy src/kernels/wasm/generated/kernels.wasm aside, change the
 * AssemblyScript, `npm run build-wasm`, compare): each layer shape runs in
 * both modules alternately, five calls a turn, and the best turn of each is
 * kept, so a slow spell of a shared machine hits both alike. Prints the best
 * milliseconds of each and after/before. The inputs are random and the
 * weights random int8 (packed layout does not matter for timing); 1×1 convs
 * take the GEMM straight over the input, others im2col. The depthwise cases
 * (`dw` in the first column) call depthwise_i8 with its fast interior path
 * (biasF set) and padding 1 (or 2 for 5×5), so the edge pixels take the
 * generic one.
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const files = args.filter((a) => a.endsWith('.wasm'));
const at = args.indexOf('--rounds');
const rounds = at >= 0 ? Number(args[at + 1]) : 80;
if (files.length !== 2) {
  console.error('usage: node scripts/kernel-ab.mjs before.wasm after.wasm [--rounds 80]');
  process.exit(1);
}

// [output H (= W), Cin, Cout, kernel, stride]: MobileNet-v1/v2 and CenterNet layer shapes.
const CASES = [
  [112, 16, 96, 1, 1], [112, 32, 16, 1, 1], [56, 24, 144, 1, 1], [28, 32, 192, 1, 1], [14, 96, 576, 1, 1],
  [14, 576, 96, 1, 1], [7, 960, 320, 1, 1], [7, 320, 1280, 1, 1], [7, 1024, 1024, 1, 1], [112, 3, 32, 3, 2],
  [28, 128, 128, 3, 1],
];
// [output H (= W), channels, kernel, stride]: depthwise layers.
const DW_CASES = [[112, 32, 3, 1], [56, 96, 3, 2], [56, 144, 3, 1], [28, 192, 3, 1], [14, 576, 3, 1], [7, 960, 3, 1], [14, 480, 5, 1]];

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 16777216;

async function load(file) {
  const { instance } = await WebAssembly.instantiate(readFileSync(file), { env: { abort() { throw new Error(`${file} aborted`); } } });
  const e = instance.exports;
  const base = e.memory.buffer.byteLength;
  e.memory.grow(1024);
  return { e, mem: e.memory, base };
}

/** A call of conv_i8 on one layer shape, its buffers laid out past the module's own memory. */
function convCall(m, [h, cin, cout, k, stride]) {
  let top = m.base;
  const alloc = (n) => { const p = top; top += (n + 63) & ~63; return p; };
  const u8 = new Uint8Array(m.mem.buffer), f32 = new Float32Array(m.mem.buffer);
  const inH = h * stride, k8 = (k * k * cin + 7) & ~7, cp = (cout + 7) & ~7;
  const x = alloc(inH * inH * cin + 64);
  for (let i = 0; i < inH * inH * cin; i++) u8[x + i] = (random() * 256) | 0;
  const wp = alloc(cp * k8 * 2);
  for (let i = 0; i < cp * k8 * 2; i++) u8[wp + i] = (random() * 256) | 0;
  const bias = alloc(cp * 4), scales = alloc(cp * 4), mults = alloc(cp * 4), shifts = alloc(cp * 4);
  for (let i = 0; i < cp; i++) f32[(scales >> 2) + i] = 0.0003;
  const y = alloc(h * h * cout + 64), col = alloc(h * k8 + 64);
  const pad = k === 3 ? 1 : 0;
  // Builds with int8-packed weights take a w8 flag after the weights.
  const w = m.e.conv_i8.length === 29 ? [wp, 1] : [wp];
  return () => m.e.conv_i8(x, 1, inH, inH, cin, h, h, k, k, stride, stride, 1, 1, pad, pad, 3, ...w, bias, cout, y, col, 0, scales, mults, shifts, -5, -128, 127);
}

/** A call of depthwise_i8 on one layer shape. */
function depthwiseCall(m, [h, c, k, stride]) {
  let top = m.base;
  const alloc = (n) => { const p = top; top += (n + 63) & ~63; return p; };
  const u8 = new Uint8Array(m.mem.buffer), f32 = new Float32Array(m.mem.buffer);
  const pad = k >> 1, inH = h * stride, cp = (c + 7) & ~7;
  const x = alloc(inH * inH * c + 64);
  for (let i = 0; i < inH * inH * c; i++) u8[x + i] = (random() * 256) | 0;
  const wp = alloc(k * k * cp * 2);
  for (let i = 0; i < k * k * cp * 2; i++) u8[wp + i] = (random() * 256) | 0;
  const bias = alloc(cp * 4), biasF = alloc(cp * 4), scales = alloc(cp * 4), mults = alloc(cp * 4), shifts = alloc(cp * 4);
  for (let i = 0; i < cp; i++) f32[(scales >> 2) + i] = 0.0003;
  const y = alloc(h * h * c + 64);
  return () => m.e.depthwise_i8(x, 1, inH, inH, c, h, h, k, k, stride, stride, 1, 1, pad, pad, 3, wp, bias, biasF, y, 0, scales, mults, shifts, -5, -128, 127);
}

const modules = [await load(files[0]), await load(files[1])];
console.log(`${'layer (H Cin Cout k s)'.padEnd(24)}${'before ms'.padStart(10)}${'after ms'.padStart(10)}${'after/before'.padStart(14)}`);
for (const [label, c] of [...CASES.map((c) => [c.join(' '), c]), ...DW_CASES.map((c) => [`dw ${c.join(' ')}`, c])]) {
  const calls = modules.map((m) => (label.startsWith('dw') ? depthwiseCall(m, c) : convCall(m, c)));
  const best = [Infinity, Infinity];
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < 2; j++) {
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) calls[j]();
      best[j] = Math.min(best[j], (performance.now() - t0) / 5);
    }
  }
  console.log(`${label.padEnd(24)}${best[0].toFixed(3).padStart(10)}${best[1].toFixed(3).padStart(10)}${(best[1] / best[0]).toFixed(3).padStart(14)}`);
}
