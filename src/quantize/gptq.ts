/**
 * GPTQ weight rounding (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ:
 * Accurate Post-Training Quantization for Generative Pre-trained
 * Transformers", after Optimal Brain Quantization).
 *
 * Rounding each weight to its nearest int8 grid point minimises the error of
 * each weight, not of the layer. One output channel computes y = w · x over
 * patch rows x (an im2col row of a convolution, a row of a FullyConnected
 * input); over the calibration rows X its output error is
 *
 *     ‖X δwᵀ‖² = δw H δwᵀ / 2,    H = 2 XᵀX,
 *
 * the same quadratic form for every output channel that reads the same
 * patches. GPTQ quantizes the columns of w (input positions) one at a time and,
 * after each, moves the columns not yet quantized so that they cancel what the
 * rounding of that column did to the output (the least-squares optimum given
 * H). The Optimal Brain Surgeon update for rounding column i by e is
 * δw_j = −e · [H_F⁻¹]_ij / [H_F⁻¹]_ii over the remaining columns F, and H_F⁻¹
 * after removing i is a rank-one downdate of the previous one. Both are read
 * off the upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU): row i of U is
 * [H_F⁻¹]_{i,·} / √[H_F⁻¹]_ii when columns 0..i−1 have been removed, so
 *
 *     q_i = clamp(round(w_i / s), −127, 127)
 *     w_j −= (w_i − q_i·s) / U_ii · U_ij        for j > i.
 *
 * Here the grid is the one quantizeWeights chooses (per output channel,
 * s = max|w| / 127 or the bias-scale floor): GPTQ changes only which grid
 * points the weights land on, so the int8 kernels, bias quantization and bias
 * correction see the same kind of tensor as with nearest rounding.
 *
 * H is regularised as in the paper: a column whose input was always 0 has a
 * zero row and column; its diagonal is set to 1, which decouples it (it rounds
 * to nearest and no error flows into or out of it; we keep its weight rather
 * than zero it, since calibration data may simply not have reached that
 * input). Then 1 % of the mean diagonal (over the live columns) is added to the
 * diagonal, so H is positive definite and directions the calibration never
 * excited are not trusted blindly.
 *
 * Where the patches come from, per op (activations are channels-last, the
 * layout every conv kernel in src/kernels reads after the layout pass):
 *  - Conv, X [N, *S, Cin], W OHWI [Cout, *K, Cin/group]: one H per group over
 *    the K·Cin/group columns of a patch, zero where the window leaves the input
 *    (the padding the kernel adds is zeros too).
 *  - DepthwiseConv, W 1HWO [1, *K, C·M]: output channel o reads only input
 *    channel ⌊o/M⌋, so there is one H per input channel over its K taps.
 *  - FullyConnected, X [..., K], W [O, K]: one H over the K inputs.
 *
 * The inputs are the float model's activations, as calibration sees them (the
 * paper feeds each layer the outputs of the already-quantized layers before it;
 * here each layer is fitted to the float model instead). What is kept is the
 * plain sum Σ x xᵀ: the factor 2 and the row count scale H as a whole, which
 * the relative dampening makes irrelevant to the rounding. Accumulating it
 * costs rows · columns² / 2 multiply-adds per layer and sample: for
 * CenterNet-512 about 2.7·10⁹ per image, some 6 s here, five times its float
 * inference.
 */
import { CloudlessError, attrInt, type Node, Tensor } from '../ir/index.js';
import { WindowWalk, channelsLastWindow } from '../ir/window.js';

/** The ops whose weights GPTQ rounds. */
export const GPTQ_OPS = new Set(['Conv', 'DepthwiseConv', 'FullyConnected']);

/**
 * Patch rows taken from one sample at most; a layer with more output pixels is
 * sampled at an even stride. 65,536 is a 256×256 output: CenterNet-512's
 * largest layers fit, smaller models are never subsampled.
 */
export const MAX_ROWS_PER_SAMPLE = 65536;

/** Σ x xᵀ over the patch rows of one weighted node, one block per independent quadratic form. */
export interface WeightHessian {
  /** One per Conv group, one per DepthwiseConv input channel, one for FullyConnected. */
  blocks: number;
  /** Columns of each block (the length of a patch row). */
  columns: number;
  /** blocks × columns × columns, row-major; only the upper triangle (j ≥ i) is filled. */
  sum: Float64Array;
  /** Patch rows accumulated (per block). */
  rows: number;
}

/**
 * Accumulates the Hessian of one weighted node from its float inputs, one
 * sample at a time (the Calibrator feeds it).
 */
export class HessianAccumulator {
  private h?: WeightHessian;

  constructor(readonly node: Node, private readonly weightShape: readonly number[], private readonly maxRowsPerSample = MAX_ROWS_PER_SAMPLE) {
    if (!GPTQ_OPS.has(node.op)) throw new CloudlessError('E_INTERNAL', `GPTQ: node ${node.name} (${node.op}) has no weights to round`);
  }

  /** What has been accumulated so far, or undefined before the first sample. */
  get hessian(): WeightHessian | undefined {
    return this.h;
  }

  add(x: Tensor): void {
    if (x.dtype !== 'float32') throw new CloudlessError('E_DTYPE', `GPTQ: input of ${this.node.name} is ${x.dtype}, not float32`);
    const data = x.data as Float32Array;
    if (this.node.op === 'FullyConnected') this.addFullyConnected(data);
    else if (this.node.op === 'Conv') this.addConv(x.shape, data);
    else this.addDepthwise(x.shape, data);
  }

  private blocksOf(blocks: number, columns: number): WeightHessian {
    if (!this.h) this.h = { blocks, columns, sum: new Float64Array(blocks * columns * columns), rows: 0 };
    else if (this.h.blocks !== blocks || this.h.columns !== columns) {
      throw new CloudlessError('E_SHAPE', `GPTQ: the patches of ${this.node.name} changed from ${this.h.blocks}×${this.h.columns} to ${blocks}×${columns} between samples`);
    }
    return this.h;
  }

  private addFullyConnected(x: Float32Array): void {
    const k = this.weightShape[1]!;
    const h = this.blocksOf(1, k);
    const rows = x.length / k;
    const stride = Math.ceil(rows / this.maxRowsPerSample);
    const batch = new PatchBatch(k);
    for (let r = 0; r < rows; r += stride) {
      const at = batch.count;
      for (let i = 0; i < k; i++) batch.xt[i * BATCH + at] = x[r * k + i]!;
      batch.push(h.sum, 0);
      h.rows++;
    }
    batch.flush(h.sum, 0);
  }

  private addConv(shape: readonly number[], x: Float32Array): void {
    const spatial = shape.length - 2;
    const { g } = channelsLastWindow(this.node, shape, this.weightShape.slice(1, spatial + 1));
    const groups = attrInt(this.node, 'group', 1);
    const cin = shape[shape.length - 1]!, cinG = cin / groups;
    const columns = g.kD * g.kH * g.kW * cinG;
    const h = this.blocksOf(groups, columns);
    const stride = Math.ceil(g.batch * g.outD * g.outH * g.outW / this.maxRowsPerSample);
    const batches = Array.from({ length: groups }, () => new PatchBatch(columns));
    const walk = new WindowWalk(g);
    let pixel = 0;
    for (walk.start(); walk.next(); pixel++) {
      if (pixel % stride !== 0) continue;
      for (let grp = 0; grp < groups; grp++) {
        // Taps outside the input are left at 0, as the kernel's zero padding.
        const batch = batches[grp]!, xt = batch.xt, at = batch.count;
        for (let kd = walk.kd0; kd < walk.kd1; kd++) {
          for (let kh = walk.kh0; kh < walk.kh1; kh++) {
            for (let kw = walk.kw0; kw < walk.kw1; kw++) {
              const xo = walk.inputPixel(kd, kh, kw) * cin + grp * cinG;
              const col = ((kd * g.kH + kh) * g.kW + kw) * cinG;
              for (let c = 0; c < cinG; c++) xt[(col + c) * BATCH + at] = x[xo + c]!;
            }
          }
        }
        batch.push(h.sum, grp * columns * columns);
      }
      h.rows++;
    }
    batches.forEach((b, grp) => b.flush(h.sum, grp * columns * columns));
  }

  private addDepthwise(shape: readonly number[], x: Float32Array): void {
    const spatial = shape.length - 2;
    const { g } = channelsLastWindow(this.node, shape, this.weightShape.slice(1, spatial + 1));
    const channels = shape[shape.length - 1]!;
    const taps = g.kD * g.kH * g.kW;
    const h = this.blocksOf(channels, taps);
    const stride = Math.ceil(g.batch * g.outD * g.outH * g.outW / this.maxRowsPerSample);
    // The input pixel under each tap of each sampled window (−1 outside the input), listed once for all channels.
    const sampled = Math.ceil(g.batch * g.outD * g.outH * g.outW / stride);
    const under = new Int32Array(sampled * taps).fill(-1);
    const walk = new WindowWalk(g);
    let pixel = 0, row = 0;
    for (walk.start(); walk.next(); pixel++) {
      if (pixel % stride !== 0) continue;
      for (let kd = walk.kd0; kd < walk.kd1; kd++) {
        for (let kh = walk.kh0; kh < walk.kh1; kh++) {
          for (let kw = walk.kw0; kw < walk.kw1; kw++) under[row * taps + (kd * g.kH + kh) * g.kW + kw] = walk.inputPixel(kd, kh, kw);
        }
      }
      row++;
    }
    // A few channels at a time: their Hessian blocks stay in cache, and each
    // cache line of X read serves all of them.
    const batches = Array.from({ length: Math.min(channels, DEPTHWISE_CHANNELS) }, () => new PatchBatch(taps));
    for (let c0 = 0; c0 < channels; c0 += DEPTHWISE_CHANNELS) {
      const count = Math.min(DEPTHWISE_CHANNELS, channels - c0);
      for (let r = 0; r < sampled; r++) {
        const at = batches[0]!.count;
        for (let t = 0; t < taps; t++) {
          const p = under[r * taps + t]!;
          if (p < 0) continue;
          const xo = p * channels + c0;
          for (let k = 0; k < count; k++) batches[k]!.xt[t * BATCH + at] = x[xo + k]!;
        }
        for (let k = 0; k < count; k++) batches[k]!.push(h.sum, (c0 + k) * taps * taps);
      }
      for (let k = 0; k < count; k++) batches[k]!.flush(h.sum, (c0 + k) * taps * taps);
    }
    h.rows += sampled;
  }
}

/** Patch rows gathered before they are multiplied into a Hessian block. */
const BATCH = 64;

/** DepthwiseConv channels whose patches are gathered together (16 float32 are one 64-byte cache line). */
const DEPTHWISE_CHANNELS = 16;

/**
 * Up to BATCH patch rows of one block, stored column by column (xt[i·BATCH + r]
 * is column i of row r), so that adding them to H is one dot product of two
 * contiguous runs per entry, rather than a pass over all of H per row (which
 * for a few hundred columns does not stay in cache).
 */
class PatchBatch {
  readonly xt: Float64Array;
  count = 0;

  constructor(private readonly columns: number) {
    this.xt = new Float64Array(columns * BATCH);
  }

  /** Counts the row just written at index `count`; adds the batch to the block at `offset` of `sum` once it is full. */
  push(sum: Float64Array, offset: number): void {
    if (++this.count === BATCH) this.flush(sum, offset);
  }

  /** sum[offset + i·n + j] += Σ_r x_ri · x_rj for j ≥ i over the rows held; then empties (zeroes) the batch. */
  flush(sum: Float64Array, offset: number): void {
    const n = this.columns, xt = this.xt, rows = this.count;
    if (rows === 0) return;
    // Four entries of a row of H at once, so that each x_ri loaded feeds four
    // independent sums (as rowsTimesWeights in the reference kernels); a block
    // past the last column repeats it and drops the surplus sums.
    for (let i = 0; i < n; i++) {
      const a = i * BATCH, hi = offset + i * n;
      for (let j = i; j < n; j += 4) {
        const b0 = j * BATCH, b1 = j + 1 < n ? b0 + BATCH : b0, b2 = j + 2 < n ? b0 + 2 * BATCH : b0, b3 = j + 3 < n ? b0 + 3 * BATCH : b0;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let r = 0; r < rows; r++) {
          const v = xt[a + r]!;
          s0 += v * xt[b0 + r]!;
          s1 += v * xt[b1 + r]!;
          s2 += v * xt[b2 + r]!;
          s3 += v * xt[b3 + r]!;
        }
        sum[hi + j] = sum[hi + j]! + s0;
        if (j + 1 < n) sum[hi + j + 1] = sum[hi + j + 1]! + s1;
        if (j + 2 < n) sum[hi + j + 2] = sum[hi + j + 2]! + s2;
        if (j + 3 < n) sum[hi + j + 3] = sum[hi + j + 3]! + s3;
      }
    }
    xt.fill(0);
    this.count = 0;
  }
}

export interface GptqOptions {
  /** Added to H's diagonal, as a share of its mean diagonal (default 0.01, the paper's). */
  dampening?: number;
  /** Quantize the columns in order of decreasing H diagonal (the paper's "act-order") instead of their natural order. */
  activationOrder?: boolean;
}

/** Which block, and where in the weight tensor each column, of an output channel. */
interface WeightRows {
  channels: number;
  block(o: number): number;
  index(o: number, column: number): number;
}

function weightRows(op: string, w: Tensor, h: WeightHessian): WeightRows {
  if (op === 'DepthwiseConv') {
    // 1HWO: tap t of output channel o sits at t·(C·M) + o.
    const channels = w.shape[w.rank - 1]!;
    const multiplier = channels / h.blocks;
    return { channels, block: (o) => Math.floor(o / multiplier), index: (o, t) => t * channels + o };
  }
  // OHWI and [O, K]: output channel o's columns are contiguous, in patch order.
  const channels = w.shape[0]!;
  const perBlock = channels / h.blocks;
  return { channels, block: (o) => Math.floor(o / perBlock), index: (o, k) => o * h.columns + k };
}

/**
 * `w` rounded onto the grid of `nearest` (quantizeWeights's result for the
 * same weights, whose per-channel scales are kept) by GPTQ with the node's
 * Hessian. Returns a tensor of the same form: int8, same shape and quantization.
 */
export function gptqRoundWeights(op: string, w: Tensor, nearest: Tensor, h: WeightHessian, options: GptqOptions = {}): Tensor {
  const layout = weightRows(op, w, h);
  const columns = h.columns;
  const perBlockOk = Number.isInteger(layout.channels / h.blocks);
  if (!perBlockOk || w.size !== layout.channels * columns) {
    throw new CloudlessError('E_SHAPE', `GPTQ: a ${op} weight of shape [${w.shape.join(', ')}] does not fit a Hessian of ${h.blocks} blocks × ${columns} columns`);
  }
  const d = w.data as Float32Array, scale = nearest.quant!.scale;
  const q = Int8Array.from(nearest.data as Int8Array);
  const row = new Float64Array(columns);
  const rounded = new Int8Array(columns);
  for (let b = 0; b < h.blocks; b++) {
    const plan = eliminationPlan(h, b, options);
    if (!plan) continue; // nothing was seen: nearest rounding stands
    const { order, u } = plan;
    for (let o = 0; o < layout.channels; o++) {
      if (layout.block(o) !== b) continue;
      for (let k = 0; k < columns; k++) row[k] = d[layout.index(o, order[k]!)]!;
      roundRow(row, scale[scale.length === 1 ? 0 : o]!, u, rounded);
      for (let k = 0; k < columns; k++) q[layout.index(o, order[k]!)] = rounded[k]!;
    }
  }
  return new Tensor('int8', w.shape, q, nearest.quant);
}

/**
 * GPTQ on one output channel: `row` (in elimination order, overwritten) is
 * rounded column by column onto multiples of `s` in [−127, 127], each
 * column's error spread onto the later ones through U.
 */
function roundRow(row: Float64Array, s: number, u: Float64Array, out: Int8Array): void {
  const n = row.length;
  for (let i = 0; i < n; i++) {
    const qi = Math.max(-127, Math.min(127, Math.round(row[i]! / s)));
    out[i] = qi;
    const err = (row[i]! - qi * s) / u[i * n + i]!;
    if (err === 0) continue;
    const ui = i * n;
    for (let j = i + 1; j < n; j++) row[j] = row[j]! - err * u[ui + j]!;
  }
}

/**
 * Block b of the Hessian, regularised (see the file comment), its columns
 * put in elimination order, and the upper Cholesky factor U of its inverse.
 * Undefined when no column was ever nonzero.
 */
function eliminationPlan(h: WeightHessian, b: number, options: GptqOptions): { order: Int32Array; u: Float64Array } | undefined {
  const n = h.columns, base = b * n * n;
  const diag = new Float64Array(n);
  let live = 0, diagSum = 0;
  for (let i = 0; i < n; i++) {
    diag[i] = h.sum[base + i * n + i]!;
    if (diag[i]! > 0) { live++; diagSum += diag[i]!; }
  }
  if (live === 0) return undefined;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  if (options.activationOrder) order.sort((a, c) => diag[c]! - diag[a]! || a - c);
  // H in elimination order, full (both triangles), dead columns decoupled, then dampened.
  const damp = (options.dampening ?? 0.01) * diagSum / live;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const r = order[i]!, c = order[j]!;
      a[i * n + j] = h.sum[base + Math.min(r, c) * n + Math.max(r, c)]!;
    }
    if (a[i * n + i] === 0) a[i * n + i] = 1;
    a[i * n + i] = a[i * n + i]! + damp;
  }
  const l = cholesky(a, n);
  const inverse = l && inverseFromCholesky(l, n);
  const l2 = inverse && cholesky(inverse, n);
  if (!l2) {
    throw new CloudlessError('E_INTERNAL', `GPTQ: a dampened Hessian block (${n} columns) is not positive definite`, {
      hint: 'raise gptq.dampening; the calibration inputs may hold huge values',
    });
  }
  // U = L2ᵀ, stored row-major so that the update of row i reads a contiguous run.
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) u[i * n + j] = l2[j * n + i]!;
  return { order, u };
}

/** Lower-triangular L with A = L·Lᵀ (A n×n symmetric, row-major), or undefined if A is not positive definite. */
function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j]!;
      }
    }
  }
  return l;
}

/** A⁻¹ (symmetric, full) from A's Cholesky factor L: A⁻¹ = L⁻ᵀ·L⁻¹. */
function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  // M = L⁻¹, lower triangular, by forward substitution: row i of L·M = row i of I.
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const lii = l[i * n + i]!;
    m[i * n + i] = 1 / lii;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k]! * m[k * n + j]!;
      m[i * n + j] = -s / lii;
    }
  }
  // (MᵀM)_ij = Σ_k M_ki·M_kj over k ≥ max(i, j): accumulate the lower triangle row of M by row, then mirror.
  const inv = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const mk = k * n;
    for (let i = 0; i <= k; i++) {
      const mki = m[mk + i]!;
      if (mki === 0) continue;
      const ii = i * n;
      for (let j = 0; j <= i; j++) inv[ii + j] = inv[ii + j]! + mki * m[mk + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) inv[j * n + i] = inv[i * n + j]!;
  return inv;
}
