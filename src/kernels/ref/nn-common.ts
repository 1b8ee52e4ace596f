/** Small pieces shared by the neural-network reference kernels. */
import { sizeOf, type Node, type ValueInfo } from '../../ir/index.js';

export type FloatArray = Float32Array | Float64Array;

/** The dtypes of the float reference kernels (int8 kernels are registered apart). */
export const FLOATS = ['float32', 'float64'] as const;

/** Kernel `check`: every present, non-empty input has input 0's dtype (a float kernel reads them all as one array type). */
export function sameDtypes(_node: Node, inputs: readonly (ValueInfo | undefined)[]): string | undefined {
  const d = inputs[0]?.dtype;
  for (let i = 1; i < inputs.length; i++) {
    const v = inputs[i];
    if (v && sizeOf(v.shape) > 0 && v.dtype !== d) {
      return `input ${i} is ${v.dtype} but input 0 is ${d}; the float kernel needs one dtype`;
    }
  }
  return undefined;
}
