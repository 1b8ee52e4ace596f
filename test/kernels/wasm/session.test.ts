/**
 * The wasm kernels inside a Session: a small MobileNet-v2 style graph gives
 * the reference backend's result (float32 within tolerance), the packed
 * weights are reported in session.memory, and nodes the wasm kernels refuse
 * run on 'ref' under backend 'auto'.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, type Graph } from '../../../src/ir/index.js';
import { KernelRegistry } from '../../../src/runtime/registry.js';
import { Session } from '../../../src/runtime/session.js';
import { readModel } from '../../../src/runtime/load.js';
import { refKernels } from '../../../src/kernels/ref/index.js';
import { wasmKernels, wasmAvailable } from '../../../src/kernels/wasm/index.js';
import { mobileNetV2, toOnnxBytes } from '../../../src/bench/model-builders.js';
import { randomF32, seeded } from './helpers.js';

function registryWith(kernels: boolean): KernelRegistry {
  const r = new KernelRegistry();
  if (kernels) r.registerAll(wasmKernels);
  r.registerAll(refKernels);
  return r;
}

async function outputOf(graph: Graph, registry: KernelRegistry, x: Tensor): Promise<{ y: Float32Array; session: Session }> {
  const session = new Session(graph, { backend: 'auto', registry });
  const out = await session.run({ [session.inputs[0]!.name]: x });
  return { y: Float32Array.from(Object.values(out)[0]!.data as Float32Array), session };
}

describe.skipIf(!wasmAvailable())('wasm kernels in a session', () => {
  it('a MobileNet-v2 style graph matches the reference backend', async () => {
    const graph = await readModel(toOnnxBytes(mobileNetV2({ size: 40, blocks: 4, classes: 10, alpha: 0.5 })), 'onnx');
    const x = randomF32([1, 3, 40, 40], seeded(11));
    const ref = await outputOf(graph, registryWith(false), x);
    const wasm = await outputOf(graph, registryWith(true), x);
    expect(wasm.session.backends()).toEqual(['wasm', 'ref']);
    // Softmax probabilities after a dozen layers of float32 sums: 1e-5 absolute is far above rounding, far below a wrong tap.
    for (let i = 0; i < ref.y.length; i++) expect(Math.abs(wasm.y[i]! - ref.y[i]!)).toBeLessThan(1e-5);
    expect(wasm.session.memory.scratchBytes).toBeGreaterThan(ref.session.memory.scratchBytes);
  });

  it('falls back to ref for a grouped convolution', async () => {
    const graph = await readModel(toOnnxBytes({
      opset: 17, producer: 'test',
      graph: {
        name: 'grouped',
        nodes: [{ op: 'Conv', name: 'c', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [3, 3], group: 2, pads: [1, 1, 1, 1] } }],
        initializers: { w: randomF32([4, 2, 3, 3], seeded(2)) },
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 5, 5] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 5, 5] }],
      },
    }), 'onnx');
    const x = randomF32([1, 4, 5, 5], seeded(3));
    const ref = await outputOf(graph, registryWith(false), x);
    const auto = await outputOf(graph, registryWith(true), x);
    expect(Array.from(auto.y)).toEqual(Array.from(ref.y));
  });
});
