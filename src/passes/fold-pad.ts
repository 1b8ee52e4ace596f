/**
 * Pad → Conv / DepthwiseConv with the padding moved into the layer: an
 * explicit constant Pad of the spatial axes only (Keras's ZeroPadding2D, the
 * PAD a TFLite converter puts before stride-2 layers, the PAD our TFLite
 * writer emits for asymmetric ONNX pads) is what the layer's own pads mean,
 * so the padded copy of the activation is never made.
 *
 * The layer's own pads are resolved first (auto_pad needs the padded input's
 * size) and then grow by the Pad's; the output is the same element for
 * element. Folded only when the pad value is what the layer pads with — 0 in
 * float, the zero point in int8 (TFLite PAD's default), with the same
 * quantization on both sides of the Pad — and the Pad's output feeds nothing
 * else.
 */
import { attrString, sameQuant, type Dim, type Graph, type Node } from '../ir/index.js';
import { integerValues, padAmounts, windowGeometry } from '../ir/ops/nn.js';
import { dropUnusedConstants } from './fold-batchnorm.js';

const LAYERS = new Set(['Conv', 'DepthwiseConv']);


/** Two known sizes, or undefined. */
function staticDims(dims: Dim[] | undefined): number[] | undefined {
  return dims && dims.length === 2 && dims.every((d) => typeof d === 'number' && d >= 1) ? dims as number[] : undefined;
}

/** [begin, end] of a rank-4 Pad over the axes `spatial` only, or undefined when it is not a foldable padding. */
function spatialPads(graph: Graph, pad: Node, spatial: [number, number]): [number[], number[]] | undefined {
  if (attrString(pad, 'mode', 'constant') !== 'constant') return undefined;
  const x = graph.values.get(pad.inputs[0]!);
  const y = graph.values.get(pad.outputs[0]!);
  if ((x?.shape && x.shape.length !== 4) || (x && y && y.dtype !== x.dtype)) return undefined;
  // Importers need not declare intermediate values; an undeclared one feeding a Conv is float (int8 ones carry their quantization).
  const dtype = x?.dtype ?? y?.dtype ?? 'float32';
  const padsT = graph.constant(pad.inputs[1]);
  if (!padsT) return undefined;
  const axesT = pad.inputs[3] ? graph.constant(pad.inputs[3]) : undefined;
  if (pad.inputs[3] && !axesT) return undefined;
  const [begin, end] = padAmounts(pad, 4, integerValues(pad, padsT, 'pads'), axesT && axesT.size > 0 ? integerValues(pad, axesT, 'axes') : undefined);
  for (let a = 0; a < 4; a++) if (!spatial.includes(a) && (begin[a] !== 0 || end[a] !== 0)) return undefined;
  if ([...begin, ...end].some((p) => p < 0)) return undefined;
  const amounts: [number[], number[]] = [spatial.map((a) => begin[a]!), spatial.map((a) => end[a]!)];
  // The value the layer pads with: 0, or in int8 the zero point shared by X and the Pad's output.
  const cv = pad.inputs[2] ? graph.constant(pad.inputs[2]) : undefined;
  if (pad.inputs[2] && !cv) return undefined;
  const fill = cv && cv.size > 0 ? Number(cv.data[0]) : undefined;
  if (dtype === 'float32') return fill === undefined || fill === 0 ? amounts : undefined;
  if (dtype === 'int8' || dtype === 'uint8') {
    if (!x?.quant || !y || !sameQuant(x.quant, y.quant) || x.quant.scale.length !== 1) return undefined;
    return fill === undefined || fill === x.quant.zeroPoint[0] ? amounts : undefined;
  }
  return undefined;
}

const NCHW_TO_NHWC = [0, 2, 3, 1];

/**
 * Folds every foldable Pad into the Conv or DepthwiseConv reading it —
 * directly, or through the NCHW→NHWC Transpose an ONNX import puts before the
 * layer (Pad → Transpose → Conv becomes Transpose → Conv) — and returns how many.
 */
export function foldPadIntoLayer(graph: Graph): number {
  const producers = graph.producers();
  const consumers = graph.consumers();
  const only = (value: string, reader: Node) => !graph.outputs.includes(value) && consumers.get(value)?.length === 1 && consumers.get(value)![0] === reader;
  const removed = new Set<Node>();
  for (const layer of graph.nodes) {
    if (!LAYERS.has(layer.op)) continue;
    let pad = producers.get(layer.inputs[0]!);
    let transpose: Node | undefined;
    if (pad?.op === 'Transpose' && only(layer.inputs[0]!, layer)) {
      const perm = pad.attrs.perm;
      if (!Array.isArray(perm) || perm.join() !== NCHW_TO_NHWC.join()) continue;
      transpose = pad;
      pad = producers.get(transpose.inputs[0]!);
    }
    if (!pad || pad.op !== 'Pad' || removed.has(pad) || !only(pad.outputs[0]!, transpose ?? layer)) continue;
    const spatialAxes: [number, number] = transpose ? [2, 3] : [1, 2];
    const amounts = spatialPads(graph, pad, spatialAxes);
    const xShape = graph.values.get(pad.inputs[0]!)?.shape;
    const kernel = staticDims(graph.values.get(layer.inputs[1]!)?.shape?.slice(1, 3));
    if (!amounts || !kernel) continue;
    const [begin, end] = amounts;
    // auto_pad needs the padded input's spatial size to resolve the layer's own pads; explicit pads do not.
    const explicit = attrString(layer, 'auto_pad', 'NOTSET') === 'NOTSET';
    const unpadded = explicit ? [1, 1] : staticDims(xShape && spatialAxes.map((a) => xShape[a]!));
    if (!unpadded) continue;
    let geometry: ReturnType<typeof windowGeometry>;
    try {
      geometry = windowGeometry(layer, unpadded.map((d, i) => d + begin[i]! + end[i]! + (explicit ? kernel[i]! : 0)), kernel);
    } catch {
      continue; // the layer's own error is reported when the graph is checked
    }
    layer.attrs = {
      ...layer.attrs,
      auto_pad: 'NOTSET',
      pads: [geometry.padsBegin[0]! + begin[0]!, geometry.padsBegin[1]! + begin[1]!, geometry.padsEnd[0]! + end[0]!, geometry.padsEnd[1]! + end[1]!],
    };
    if (transpose) {
      transpose.inputs = [pad.inputs[0]!];
      const t = graph.values.get(transpose.outputs[0]!);
      if (t) t.shape = xShape ? NCHW_TO_NHWC.map((a) => xShape[a]!) : undefined;
    } else {
      layer.inputs = [pad.inputs[0]!, ...layer.inputs.slice(1)];
    }
    graph.values.delete(pad.outputs[0]!);
    removed.add(pad);
  }
  if (removed.size) {
    graph.nodes = graph.nodes.filter((n) => !removed.has(n));
    dropUnusedConstants(graph);
  }
  return removed.size;
}
