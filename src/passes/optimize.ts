/**
 * The inference rewrites every loaded graph gets (float layers only; int8
 * graphs from TFLite come fused already): BatchNormalization folded into the
 * layer before it; constant scale Muls and bias Adds after a layer folded into
 * its weights and bias; hard-swish spelled out as Add, Clip, Mul and a division
 * by 6 (or a product with the float32 nearest to ⅙) made one HardSwish; Relu,
 * Relu6 and Relu-N1-to-1 fused into the layer as its `activation`. Each is the
 * same function up to float32 rounding (a few ulp), so outputs stay within the
 * oracle tolerances against the source runtimes; the TF.js float16 ⅙ is left
 * spelled out, since HardSwish's exact ⅙ would change results by 2.4e-4.
 * Explicit zero Pads before a Conv or DepthwiseConv (float or int8) become the
 * layer's own pads (src/passes/fold-pad.ts): exact, no padded copy.
 */
import type { Graph } from '../ir/index.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { foldPadIntoLayer } from './fold-pad.js';
import { fuseActivations } from './fuse-activation.js';
import { foldAddIntoBias, foldMulIntoLayer, fuseHardSwish } from './quantize-prep.js';

export function optimizeForInference(graph: Graph): void {
  foldPadIntoLayer(graph);
  foldBatchNorm(graph);
  foldMulIntoLayer(graph);
  foldAddIntoBias(graph);
  fuseHardSwish(graph, { exactSixth: true });
  fuseActivations(graph);
}
