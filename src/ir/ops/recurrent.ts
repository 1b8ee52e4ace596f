/**
 * Schemas of ONNX's recurrent ops LSTM, GRU and RNN (opset 14 form: attr `layout`).
 *
 * layout 0: X [seq, batch, input], Y [seq, dirs, batch, hidden], Y_h/Y_c [dirs, batch, hidden];
 * layout 1: X [batch, seq, input], Y [batch, seq, dirs, hidden], Y_h/Y_c [batch, dirs, hidden].
 * W is [dirs, gates·hidden, input], R [dirs, gates·hidden, hidden], B [dirs, 2·gates·hidden];
 * LSTM has 4 gates (i, o, f, c), GRU 3 (z, r, h), RNN 1.
 */
import { attrInt, attrString } from '../attrs.js';
import { CloudlessError } from '../errors.js';
import type { Node } from '../graph.js';
import { requireInput, shapeError, type OpSchema, type ValueInfo } from '../schema.js';
import { shapeToString } from '../tensor.js';

export const RECURRENT_GATES: Readonly<Record<string, number>> = { LSTM: 4, GRU: 3, RNN: 1 };

/** The directions a recurrent node runs: 1 (forward or reverse) or 2 (bidirectional). */
export function recurrentDirections(node: Node): number {
  const d = attrString(node, 'direction', 'forward');
  if (d !== 'forward' && d !== 'reverse' && d !== 'bidirectional') {
    throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): attribute "direction" must be forward, reverse or bidirectional, got ${d}`, { node: node.name });
  }
  return d === 'bidirectional' ? 2 : 1;
}

/** Sizes of a recurrent node, checked against its weights. */
export interface RecurrentDims {
  seq: number;
  batch: number;
  input: number;
  hidden: number;
  dirs: number;
  layout: 0 | 1;
}

export function recurrentDims(node: Node, x: ValueInfo, w: ValueInfo, r: ValueInfo): RecurrentDims {
  const gates = RECURRENT_GATES[node.op]!;
  const layout = attrInt(node, 'layout', 0);
  if (layout !== 0 && layout !== 1) throw shapeError(node, `attribute "layout" must be 0 or 1, got ${layout}`);
  if (x.shape.length !== 3) throw shapeError(node, `X must have rank 3, got ${shapeToString(x.shape)}`);
  const [seq, batch] = layout === 0 ? [x.shape[0]!, x.shape[1]!] : [x.shape[1]!, x.shape[0]!];
  const input = x.shape[2]!;
  const dirs = recurrentDirections(node);
  const hidden = node.attrs['hidden_size'] !== undefined ? attrInt(node, 'hidden_size') : (w.shape[1] ?? 0) / gates;
  const want = (what: string, got: readonly number[], exp: number[]) => {
    if (got.length !== exp.length || got.some((d, i) => d !== exp[i])) {
      throw shapeError(node, `${what} must have shape ${shapeToString(exp)}, got ${shapeToString(got)}`);
    }
  };
  want('W', w.shape, [dirs, gates * hidden, input]);
  want('R', r.shape, [dirs, gates * hidden, hidden]);
  return { seq, batch, input, hidden, dirs, layout };
}

function recurrentSchema(op: 'LSTM' | 'GRU' | 'RNN'): OpSchema {
  const gates = RECURRENT_GATES[op]!;
  const stateOutputs = op === 'LSTM' ? 3 : 2;
  return {
    op,
    inputs: [3, op === 'LSTM' ? 8 : 6],
    outputs: [0, stateOutputs],
    infer(ctx) {
      const node = ctx.node;
      const x = requireInput(ctx, 0);
      const d = recurrentDims(node, x, requireInput(ctx, 1), requireInput(ctx, 2));
      const { seq, batch, hidden: h, dirs } = d;
      const check = (i: number, what: string, exp: number[]) => {
        const v = ctx.inputs[i];
        if (v && (v.shape.length !== exp.length || v.shape.some((s, k) => s !== exp[k]))) {
          throw shapeError(node, `${what} must have shape ${shapeToString(exp)}, got ${shapeToString(v.shape)}`);
        }
      };
      const state = d.layout === 0 ? [dirs, batch, h] : [batch, dirs, h];
      check(3, 'B', [dirs, 2 * gates * h]);
      check(4, 'sequence_lens', [batch]);
      check(5, 'initial_h', state);
      if (op === 'LSTM') { check(6, 'initial_c', state); check(7, 'P', [dirs, 3 * h]); }
      const seqLens = ctx.inputs[4];
      if (seqLens && seqLens.dtype !== 'int32' && seqLens.dtype !== 'int64') throw shapeError(node, `sequence_lens must be int32 or int64, got ${seqLens.dtype}`);
      const y: ValueInfo = { dtype: x.dtype, shape: d.layout === 0 ? [seq, dirs, batch, h] : [batch, seq, dirs, h] };
      const outs: ValueInfo[] = [y, { dtype: x.dtype, shape: state }];
      if (op === 'LSTM') outs.push({ dtype: x.dtype, shape: [...state] });
      return outs.slice(0, node.outputs.length);
    },
  };
}

export const recurrentSchemas: readonly OpSchema[] = [recurrentSchema('LSTM'), recurrentSchema('GRU'), recurrentSchema('RNN')];
