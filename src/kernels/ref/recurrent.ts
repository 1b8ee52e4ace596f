/**
 * Reference kernels of LSTM, GRU and RNN (ONNX semantics, float32).
 *
 * One loop per direction, batch entry and time step. Each step first computes
 * every gate's pre-activation from the previous hidden state (so the state can
 * then be updated in place), in double precision, rounded to float32 on store:
 *
 *   LSTM  i = f(Wi·x + Ri·h + Pi⊙c + bi)   f = f(Wf·x + Rf·h + Pf⊙c + bf)  (f = 1 − i with input_forget)
 *         c' = f⊙c + i⊙g(Wc·x + Rc·h + bc)   o = f(Wo·x + Ro·h + Po⊙c' + bo)   h' = o⊙h(c')
 *   GRU   z = f(Wz·x + Rz·h + bz)   r = f(Wr·x + Rr·h + br)
 *         n = g(Wn·x + Rn·(r⊙h) + Rbn + Wbn), or with linear_before_reset g(Wn·x + r⊙(Rn·h + Rbn) + Wbn)
 *         h' = (1 − z)⊙n + z⊙h
 *   RNN   h' = f(Wi·x + Ri·h + bi)
 *
 * `clip` bounds every pre-activation to [−clip, clip]. With sequence_lens, batch
 * entry b runs its first len_b steps (the reverse direction from len_b − 1 down),
 * Y is zero past them and Y_h/Y_c hold the state after the last real step.
 */
import {
  CloudlessError, attrFloat, attrFloats, attrInt, attrStrings, defineKernel,
  type KernelDef, type Node, type Tensor,
} from '../../ir/index.js';
import { RECURRENT_GATES, recurrentDims, recurrentDirections, type RecurrentDims } from '../../ir/ops/recurrent.js';

type Activation = (x: number) => number;

/** Activation functions by lowercase name; `alpha`/`beta` default as ONNX's ops of the same name. */
const ACTIVATIONS: Record<string, { params: number; defaults: number[]; make(a: number, b: number): Activation }> = {
  sigmoid: { params: 0, defaults: [], make: () => (x) => 1 / (1 + Math.exp(-x)) },
  tanh: { params: 0, defaults: [], make: () => Math.tanh },
  relu: { params: 0, defaults: [], make: () => (x) => (x > 0 ? x : 0) },
  affine: { params: 2, defaults: [1, 0], make: (a, b) => (x) => a * x + b },
  leakyrelu: { params: 1, defaults: [0.01], make: (a) => (x) => (x >= 0 ? x : a * x) },
  thresholdedrelu: { params: 1, defaults: [1], make: (a) => (x) => (x > a ? x : 0) },
  scaledtanh: { params: 2, defaults: [1, 1], make: (a, b) => (x) => a * Math.tanh(b * x) },
  hardsigmoid: { params: 2, defaults: [0.2, 0.5], make: (a, b) => (x) => Math.max(0, Math.min(1, a * x + b)) },
  elu: { params: 1, defaults: [1], make: (a) => (x) => (x >= 0 ? x : a * (Math.exp(x) - 1)) },
  softsign: { params: 0, defaults: [], make: () => (x) => x / (1 + Math.abs(x)) },
  softplus: { params: 0, defaults: [], make: () => (x) => Math.log1p(Math.exp(x)) },
};

const DEFAULT_ACTIVATIONS: Record<string, string[]> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };

/**
 * The activations of each direction. activation_alpha/beta are consumed in list
 * order by the activations that take a parameter (as onnxruntime reads them).
 */
function activations(node: Node, dirs: number): Activation[][] {
  const per = DEFAULT_ACTIVATIONS[node.op]!.length;
  let names = node.attrs['activations'] === undefined ? DEFAULT_ACTIVATIONS[node.op]! : attrStrings(node, 'activations');
  if (names.length === per && dirs === 2) names = [...names, ...names];
  if (names.length !== per * dirs) {
    throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): attribute "activations" needs ${per * dirs} names, got ${names.length}`, { node: node.name });
  }
  const alphas = node.attrs['activation_alpha'] === undefined ? [] : attrFloats(node, 'activation_alpha');
  const betas = node.attrs['activation_beta'] === undefined ? [] : attrFloats(node, 'activation_beta');
  let ai = 0, bi = 0;
  const fns = names.map((n) => {
    const a = ACTIVATIONS[n.toLowerCase()];
    if (!a) throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (${node.op}): activation ${n} is not supported`, { node: node.name });
    const alpha = a.params >= 1 ? alphas[ai++] ?? a.defaults[0]! : 0;
    const beta = a.params >= 2 ? betas[bi++] ?? a.defaults[1]! : 0;
    return a.make(alpha, beta);
  });
  return Array.from({ length: dirs }, (_, d) => fns.slice(d * per, (d + 1) * per));
}

interface RecurrentState {
  dims: RecurrentDims;
  gates: number;
  acts: Activation[][];
  /** Whether direction d runs backwards in time. */
  reverse: boolean[];
  clip: number;
  inputForget: boolean;
  linearBeforeReset: boolean;
  /** Scratch: pre-activations of one step (gates·hidden), hidden and cell state of one batch entry, r⊙h for GRU. */
  pre: Float64Array;
  h: Float64Array;
  c: Float64Array;
  rh: Float64Array;
}

function prepareRecurrent(node: Node, dims: RecurrentDims): RecurrentState {
  const gates = RECURRENT_GATES[node.op]!;
  const dirs = recurrentDirections(node);
  const direction = node.attrs['direction'] ?? 'forward';
  const clip = node.attrs['clip'] === undefined ? Infinity : attrFloat(node, 'clip');
  const h = dims.hidden;
  return {
    dims, gates, acts: activations(node, dirs),
    reverse: Array.from({ length: dirs }, (_, d) => direction === 'reverse' || d === 1),
    clip,
    inputForget: node.op === 'LSTM' && attrInt(node, 'input_forget', 0) !== 0,
    linearBeforeReset: node.op === 'GRU' && attrInt(node, 'linear_before_reset', 0) !== 0,
    pre: new Float64Array(gates * h), h: new Float64Array(h), c: new Float64Array(h), rh: new Float64Array(h),
  };
}

/** Σ_k m[row·n + k]·v[k] over k < n, for matrix m read from offset `base`. */
function dot(m: Float32Array, base: number, row: number, n: number, v: ArrayLike<number>, vOff: number): number {
  let s = 0;
  const o = base + row * n;
  for (let k = 0; k < n; k++) s += m[o + k]! * v[vOff + k]!;
  return s;
}

/** Offset of state entry (dir, batch) in an initial_h / Y_h style tensor. */
function stateOffset(d: RecurrentDims, dir: number, b: number): number {
  return (d.layout === 0 ? dir * d.batch + b : b * d.dirs + dir) * d.hidden;
}

function runRecurrent(inputs: (Tensor | undefined)[], outputs: Tensor[], node: Node, s: RecurrentState): void {
  const { dims: d, gates, clip } = s;
  const H = d.hidden, I = d.input, G = gates * H;
  const x = inputs[0]!.data as Float32Array;
  const w = inputs[1]!.data as Float32Array;
  const r = inputs[2]!.data as Float32Array;
  const bias = inputs[3]?.data as Float32Array | undefined;
  const lens = inputs[4]?.data;
  const h0 = inputs[5]?.data as Float32Array | undefined;
  const c0 = inputs[6]?.data as Float32Array | undefined;
  const peep = inputs[7]?.data as Float32Array | undefined;
  const y = node.outputs[0] ? outputs[0]!.data as Float32Array : undefined;
  const yh = node.outputs[1] ? outputs[1]!.data as Float32Array : undefined;
  const yc = node.outputs[2] ? outputs[2]!.data as Float32Array : undefined;
  y?.fill(0);
  const { pre, h, c, rh } = s;
  const cl = (v: number) => (v > clip ? clip : v < -clip ? -clip : v);
  for (let dir = 0; dir < d.dirs; dir++) {
    const [f, g, hAct] = s.acts[dir]!;
    const wOff = dir * G * I, rOff = dir * G * H, bOff = dir * 2 * G, pOff = dir * 3 * H;
    for (let b = 0; b < d.batch; b++) {
      const len = lens ? Number(lens[b]!) : d.seq;
      if (!(len >= 0 && len <= d.seq)) {
        throw new CloudlessError('E_INPUT', `node ${node.name} (${node.op}): sequence_lens[${b}] = ${len} is outside [0, ${d.seq}]`, { node: node.name });
      }
      const so = stateOffset(d, dir, b);
      for (let k = 0; k < H; k++) { h[k] = h0 ? h0[so + k]! : 0; c[k] = c0 ? c0[so + k]! : 0; }
      for (let step = 0; step < len; step++) {
        const t = s.reverse[dir] ? len - 1 - step : step;
        const xo = (d.layout === 0 ? t * d.batch + b : b * d.seq + t) * I;
        for (let gi = 0; gi < G; gi++) {
          pre[gi] = dot(w, wOff, gi, I, x, xo) + (bias ? bias[bOff + gi]! : 0);
        }
        if (node.op === 'LSTM') {
          for (let gi = 0; gi < G; gi++) pre[gi] = pre[gi]! + dot(r, rOff, gi, H, h, 0) + (bias ? bias[bOff + G + gi]! : 0);
          for (let k = 0; k < H; k++) {
            const cPrev = c[k]!;
            const it = f!(cl(pre[k]! + (peep ? peep[pOff + k]! * cPrev : 0)));
            const ft = s.inputForget ? 1 - it : f!(cl(pre[2 * H + k]! + (peep ? peep[pOff + 2 * H + k]! * cPrev : 0)));
            const ct = g!(cl(pre[3 * H + k]!));
            const cNew = Math.fround(ft * cPrev + it * ct);
            const ot = f!(cl(pre[H + k]! + (peep ? peep[pOff + H + k]! * cNew : 0)));
            c[k] = cNew;
            h[k] = Math.fround(ot * hAct!(cNew));
          }
        } else if (node.op === 'GRU') {
          for (let gi = 0; gi < 2 * H; gi++) pre[gi] = pre[gi]! + dot(r, rOff, gi, H, h, 0) + (bias ? bias[bOff + G + gi]! : 0);
          for (let k = 0; k < 2 * H; k++) pre[k] = f!(cl(pre[k]!));
          for (let k = 0; k < H; k++) {
            const rbn = bias ? bias[bOff + G + 2 * H + k]! : 0;
            if (s.linearBeforeReset) pre[2 * H + k] = pre[2 * H + k]! + pre[H + k]! * (dot(r, rOff, 2 * H + k, H, h, 0) + rbn);
            else rh[k] = pre[H + k]! * h[k]!;
          }
          if (!s.linearBeforeReset) for (let k = 0; k < H; k++) pre[2 * H + k] = pre[2 * H + k]! + dot(r, rOff, 2 * H + k, H, rh, 0) + (bias ? bias[bOff + G + 2 * H + k]! : 0);
          for (let k = 0; k < H; k++) {
            const z = pre[k]!;
            h[k] = Math.fround((1 - z) * g!(cl(pre[2 * H + k]!)) + z * h[k]!);
          }
        } else {
          for (let k = 0; k < H; k++) pre[k] = pre[k]! + dot(r, rOff, k, H, h, 0) + (bias ? bias[bOff + G + k]! : 0);
          for (let k = 0; k < H; k++) h[k] = Math.fround(f!(cl(pre[k]!)));
        }
        if (y) {
          const yo = (d.layout === 0 ? (t * d.dirs + dir) * d.batch + b : (b * d.seq + t) * d.dirs + dir) * H;
          for (let k = 0; k < H; k++) y[yo + k] = h[k]!;
        }
      }
      if (yh) for (let k = 0; k < H; k++) yh[so + k] = h[k]!;
      if (yc) for (let k = 0; k < H; k++) yc[so + k] = c[k]!;
    }
  }
}

function recurrentKernel(op: 'LSTM' | 'GRU' | 'RNN'): KernelDef {
  return defineKernel<RecurrentState>({
    op,
    backend: 'ref',
    dtypes: ['float32'],
    check(_node, inputs) {
      for (const i of [1, 2, 3, 5, 6, 7]) {
        const v = inputs[i];
        if (v && v.dtype !== 'float32') return `input ${i} is ${v.dtype}; the kernel takes float32`;
      }
      return undefined;
    },
    prepare({ node, inputs }) {
      const state = prepareRecurrent(node, recurrentDims(node, inputs[0]!, inputs[1]!, inputs[2]!));
      return { state, scratchBytes: (state.pre.length + 3 * state.h.length) * 8 };
    },
    run(inputs, outputs, node, state) {
      runRecurrent(inputs, outputs, node, state);
    },
  });
}

export const recurrentKernels: readonly KernelDef[] = [recurrentKernel('LSTM'), recurrentKernel('GRU'), recurrentKernel('RNN')];
