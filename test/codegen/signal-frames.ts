/**
 * Framing of 16 kHz audio as micro_speech's feature generator does it (30 ms
 * windows of 480 samples every 20 ms = 320 samples; 49 frames per second), and
 * the engine's output over a frame sequence in one session (the preprocessor's
 * noise estimate carries from frame to frame). Shared by the codegen tests.
 */
import { Tensor, type Graph } from '../../src/ir/index.js';
import { Session } from '../../src/runtime/session.js';

export const FRAME_LENGTH = 480;
export const FRAME_HOP = 320;

export interface Frames {
  count: number;
  /** int16 [count, 480]: the frames back to back. */
  tensor: Tensor;
}

/** Every whole 480-sample frame of `samples` at a 320-sample hop. */
export function framesOf(samples: Int16Array): Frames {
  const count = samples.length < FRAME_LENGTH ? 0 : Math.floor((samples.length - FRAME_LENGTH) / FRAME_HOP) + 1;
  const data = new Int16Array(count * FRAME_LENGTH);
  for (let f = 0; f < count; f++) data.set(samples.subarray(f * FRAME_HOP, f * FRAME_HOP + FRAME_LENGTH), f * FRAME_LENGTH);
  return { count, tensor: new Tensor('int16', [count, FRAME_LENGTH], data) };
}

/** The preprocessor's outputs for the frames in sequence, in one fresh session, as bytes back to back. */
export function engineFrames(graph: Graph, frames: Frames): Uint8Array {
  const s = new Session(graph, { backend: 'ref' });
  const input = graph.inputs[0]!, output = graph.outputs[0]!;
  const parts: Uint8Array[] = [];
  const all = frames.tensor.data as Int16Array;
  for (let f = 0; f < frames.count; f++) {
    const out = s.runSync({ [input]: new Tensor('int16', [1, FRAME_LENGTH], all.slice(f * FRAME_LENGTH, (f + 1) * FRAME_LENGTH)) })[output]!;
    parts.push(new Uint8Array(out.data.buffer.slice(out.data.byteOffset, out.data.byteOffset + out.data.byteLength)));
  }
  const joined = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { joined.set(p, at); at += p.length; }
  return joined;
}
