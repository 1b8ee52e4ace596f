/**
 * Pieces shared by the wasm kernel bindings: window geometry, shape checks,
 * weight packing into the layouts of assembly/*.as.ts, and copies between
 * tensors and the module's memory.
 */
import { attrInt, type Node, type Tensor, type ValueInfo } from '../../ir/index.js';
import { convTransposeGeometry, windowGeometry } from '../../ir/ops/nn.js';
import { geometry3, type Geometry3 } from '../../ir/window.js';
import type { WasmHeap } from './heap.js';

/** Bytes left after every buffer the kernels read or write with whole vectors past its end. */
export const SLACK = 16;

/** `check()` reason for a window op whose spatial rank the wasm kernels do not take (they do 1-D and 2-D). */
export function spatialRankReason(x: ValueInfo | undefined): string | undefined {
  const rank = x?.shape.length ?? 0;
  return rank === 3 || rank === 4 ? undefined : `wasm kernel takes 1-D or 2-D windows (rank 3 or 4 X), not rank ${rank}`;
}

/** `check()` reason for a Conv the wasm kernels do not take (grouped convolutions other than depthwise). */
export function convReason(node: Node, x: ValueInfo | undefined): string | undefined {
  const group = attrInt(node, 'group', 1);
  if (group !== 1) return `wasm Conv takes one group, not ${group}`;
  return spatialRankReason(x);
}

/** `check()` reason for a DepthwiseConv whose output channels are not a multiple of its input channels. */
export function depthwiseReason(x: ValueInfo | undefined, w: ValueInfo | undefined): string | undefined {
  const rank = spatialRankReason(x);
  if (rank) return rank;
  const c = x!.shape[x!.shape.length - 1]!;
  const cm = w?.shape[w.shape.length - 1] ?? 0;
  return c > 0 && cm % c === 0 ? undefined : `wasm DepthwiseConv needs a whole depth multiplier (${cm} output channels for ${c} input channels)`;
}

/**
 * A ConvTranspose whose windows tile the output exactly once each (stride =
 * kernel, no dilation or padding, 2-D): output row ih·kH + kh is input row ih
 * times kernel row kh, with no overlap, so the wasm kernels run it as GEMMs
 * straight into the output.
 */
export function tilesOutput(g: Geometry3): boolean {
  return g.inD === 1 && g.kD === 1 && g.sH === g.kH && g.sW === g.kW && g.dH === 1 && g.dW === 1 && g.pH === 0 && g.pW === 0 &&
    g.outH === g.inH * g.sH && g.outW === g.inW * g.sW;
}

/**
 * For a ConvTranspose that tilesOutput: kernel row kh of the IHWO weights as
 * an [kW·Cout, Cin] matrix (row j = kw·Cout + o), so that input row ih times
 * it is output row ih·kH + kh, pixel after pixel. Written into `m`.
 */
export function tilingRow<T extends Int8Array | Float32Array>(src: ArrayLike<number>, m: T, g: Geometry3, cin: number, cout: number, kh: number): T {
  const n = g.kW * cout;
  for (let ic = 0; ic < cin; ic++) {
    const from = (ic * g.kH + kh) * n;
    for (let j = 0; j < n; j++) m[j * cin + ic] = src[from + j]!;
  }
  return m;
}

/** The geometry of a ConvTranspose node with IHWO weights. */
export function transposeGeometry(node: Node, x: ValueInfo, w: ValueInfo): Geometry3 {
  const r = x.shape.length - 2;
  const inSpatial = x.shape.slice(1, r + 1);
  return geometry3(x.shape[0]!, inSpatial, convTransposeGeometry(node, inSpatial, w.shape.slice(1, r + 1)));
}

/**
 * Along one axis, output o of a transposed convolution (stride s, kernel K,
 * padding p) sums input i = (o + p − k) / s over taps k ≡ o + p (mod s). The
 * outputs of phase c = (o + p) mod s, o = m·s + c − p, therefore form a
 * stride-1 convolution over the input with the Kc = ⌈(K − c) / s⌉ taps
 * c, c + s, ... flipped: output m reads inputs m − (Kc − 1) … m. The int8
 * ConvTranspose runs each phase as one im2col + GEMM per output row, written
 * every s-th output pixel; taps outside the input read z_x as in a padded
 * convolution. Needs K ≥ s on both axes, so that every phase has taps.
 * Per axis and phase: `taps` (Kc), the `first` output index and how many
 * (`count`), and the padding before the input as the stride-1 convolution sees it.
 */
export interface AxisPhase { taps: number; first: number; count: number; pad: number }

function axisPhases(k: number, s: number, p: number, out: number): AxisPhase[] {
  return Array.from({ length: s }, (_, c) => {
    const taps = Math.ceil((k - c) / s);
    const m0 = Math.ceil((p - c) / s), m1 = Math.floor((out - 1 + p - c) / s);
    return { taps, first: m0 * s + c - p, count: Math.max(0, m1 - m0 + 1), pad: taps - 1 - m0 };
  });
}

/** One output phase (c_h, c_w) of a 2-D transposed convolution: its taps per axis and K = taps_h · taps_w · Cin. */
export interface Phase { h: AxisPhase; w: AxisPhase; ch: number; cw: number; k: number }

/** The phases of a ConvTranspose (kernels ≥ strides, no dilation) that have outputs. */
export function outputPhases(g: Geometry3, cin: number): Phase[] {
  const rows = axisPhases(g.kH, g.sH, g.pH, g.outH), cols = axisPhases(g.kW, g.sW, g.pW, g.outW);
  const out: Phase[] = [];
  rows.forEach((h, ch) => cols.forEach((w, cw) => {
    if (h.count > 0 && w.count > 0) out.push({ h, w, ch, cw, k: h.taps * w.taps * cin });
  }));
  return out;
}

/**
 * A phase's weights as an OHWI [Cout, taps_h, taps_w, Cin] matrix (im2col's
 * (kh, kw, ci) order) gathered from the IHWO kernel, the taps flipped.
 */
export function phaseKernel<T extends Int8Array | Float32Array>(src: ArrayLike<number>, m: T, g: Geometry3, cin: number, cout: number, ph: Phase): T {
  for (let o = 0; o < cout; o++) {
    let at = o * ph.k;
    for (let jh = 0; jh < ph.h.taps; jh++) {
      const kh = ph.ch + (ph.h.taps - 1 - jh) * g.sH;
      for (let jw = 0; jw < ph.w.taps; jw++) {
        const kw = ph.cw + (ph.w.taps - 1 - jw) * g.sW;
        for (let ic = 0; ic < cin; ic++) m[at++] = src[((ic * g.kH + kh) * g.kW + kw) * cout + o]!;
      }
    }
  }
  return m;
}

/** The 2-D window of a rank-3 or rank-4 conv/pool node (1-D is H = 1). */
export function geometry2(node: Node, x: ValueInfo, kernel: readonly number[]): Geometry3 {
  const r = x.shape.length - 2;
  return geometry3(x.shape[0]!, x.shape.slice(1, r + 1), windowGeometry(node, x.shape.slice(1, r + 1), kernel));
}

/** The arguments the assembly kernels take after X, in their order (H, W, channels, out H/W, window). */
export function windowArgs(g: Geometry3): number[] {
  return [g.outH, g.outW, g.kH, g.kW, g.sH, g.sW, g.dH, g.dW, g.pH, g.pW];
}

/**
 * Packs a float matrix W[o][k] (element (o, k) at o·strideO + k·strideK) into
 * blocks of 8 output channels, K floats × 8 each, zero-filled past `cout`.
 */
export function packBlocksF32(dst: Float32Array, at: number, w: Float32Array, cout: number, k: number, strideO: number, strideK: number): void {
  const blocks = Math.ceil(cout / 8);
  // dst[at + (j·k + i)·8 + l] = W[8j + l][i], 0 past cout; one channel at a time, so the source is read in order.
  for (let j = 0; j < blocks; j++) {
    const block = at + j * k * 8;
    for (let l = 0; l < 8; l++) {
      const o = j * 8 + l;
      if (o >= cout) { for (let i = 0, d = block + l; i < k; i++, d += 8) dst[d] = 0; continue; }
      for (let i = 0, d = block + l, s = o * strideO; i < k; i++, d += 8, s += strideK) dst[d] = w[s]!;
    }
  }
}

/** Floats of packBlocksF32's layout. */
export function packedF32Length(cout: number, k: number): number {
  return Math.ceil(cout / 8) * 8 * k;
}

/**
 * Packs int8 W[o][k] − zw for gemm_i8, as int16, or as int8 when zw = 0 (the
 * kernel widens on load; see packedI8Bytes): blocks of 8 channels; per
 * group of 8 k (K rounded up to 8, padding 0), four steps of two vectors
 * (channels 0–3, 4–7) in which lane l holds channel l's k-pair (l + s) mod 4
 * at step s, matching the kernel's rotation of the activations.
 * Returns Σ_k (W[o][k] − zw) per channel, for folding z_x into the bias.
 */
export function packBlocksI8(dst: Int16Array | Int8Array, at: number, w: Int8Array, cout: number, k: number, zw: number): Int32Array {
  const k8 = Math.ceil(k / 8) * 8;
  const blocks = Math.ceil(cout / 8);
  const sums = new Int32Array(cout);
  dst.fill(0, at, at + blocks * 8 * k8);
  // Element (o, i) goes to ((((j·k8/8 + g)·4 + s)·2 + h)·8 + 2l + e with j = o/8, h = (o/4) mod 2,
  // l = o mod 4, g = i/8, p = (i/2) mod 4, e = i mod 2, s = (p − l) mod 4: per channel the
  // four step offsets are fixed, so the loop walks k in groups of 8 without the bit arithmetic.
  const full = k >> 3;
  for (let o = 0; o < cout; o++) {
    const j = o >> 3, h = (o >> 2) & 1, l = o & 3;
    const base = at + j * (k8 >> 3) * 64 + h * 8 + l * 2;
    const s0 = ((4 - l) & 3) * 16, s1 = ((5 - l) & 3) * 16, s2 = ((6 - l) & 3) * 16, s3 = ((7 - l) & 3) * 16;
    const row = o * k;
    let sum = 0;
    for (let g = 0; g < full; g++) {
      const src = row + g * 8, d = base + g * 64;
      const v0 = w[src]! - zw, v1 = w[src + 1]! - zw, v2 = w[src + 2]! - zw, v3 = w[src + 3]! - zw;
      const v4 = w[src + 4]! - zw, v5 = w[src + 5]! - zw, v6 = w[src + 6]! - zw, v7 = w[src + 7]! - zw;
      dst[d + s0] = v0; dst[d + s0 + 1] = v1;
      dst[d + s1] = v2; dst[d + s1 + 1] = v3;
      dst[d + s2] = v4; dst[d + s2 + 1] = v5;
      dst[d + s3] = v6; dst[d + s3 + 1] = v7;
      sum += v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7;
    }
    for (let i = full * 8; i < k; i++) {
      const v = w[row + i]! - zw;
      sum += v;
      const g = i >> 3, p = (i >> 1) & 3, e = i & 1;
      dst[base + g * 64 + ((p - l + 4) & 3) * 16 + e] = v;
    }
    sums[o] = sum;
  }
  return sums;
}

/** Elements of packBlocksI8's layout. */
export function packedI8Length(cout: number, k: number): number {
  return Math.ceil(cout / 8) * 8 * Math.ceil(k / 8) * 8;
}

/** Copies a tensor's data into the heap at byte offset `at`. */
export function copyIn(heap: WasmHeap, at: number, t: Tensor): void {
  const d = t.data;
  heap.u8.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
}

/**
 * Copies X [..., C] into the heap with every channel repeated m times, so a
 * depthwise convolution with multiplier m becomes one with multiplier 1 over
 * C·m channels (output channel c·m + j reads input channel c).
 */
export function copyInRepeated(heap: WasmHeap, at: number, t: Tensor, m: number): void {
  if (m === 1) { copyIn(heap, at, t); return; }
  const src = t.data as Float32Array | Int8Array;
  const dst = t.dtype === 'float32' ? heap.f32 : heap.i8;
  let d = t.dtype === 'float32' ? at >> 2 : at;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    for (let j = 0; j < m; j++) dst[d++] = v;
  }
}

/** Copies a tensor's bytes from byte offset `at` of the heap into it. */
export function copyOut(heap: WasmHeap, at: number, t: Tensor): void {
  const d = t.data;
  new Uint8Array(d.buffer, d.byteOffset, d.byteLength).set(heap.u8.subarray(at, at + d.byteLength));
}

/** Bytes of a region holding `n` elements of `bytesEach`, plus vector slack. */
export function regionBytes(n: number, bytesEach: number): number {
  return Math.ceil((n * bytesEach + SLACK) / 16) * 16;
}
