import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/index.js';
import { readTfliteFile } from '../../../src/formats/tflite/read-file.js';
import { Session } from '../../../src/runtime/session.js';
import { MicroFrontend, microFrontendConfig } from '../../../src/tasks/audio/features.js';
import { readWav, toInt16 } from '../../../src/tasks/audio/wav.js';
import { tflmDir } from '../../helpers/data.js';

const dir = tflmDir();
describe.skipIf(!dir)('MicroFrontend against audio_preprocessor_int8.tflite', () => {
  const model = path.join(dir ?? '', 'audio_preprocessor_int8.tflite');
  const yes = () => toInt16(readWav(path.join(dir!, 'yes_1000ms.wav')).channels[0]!);

  it('the streaming front end equals the preprocessor frame by frame, state included', async () => {
    const g = readTfliteFile(model);
    const s = new Session(g, { backend: 'ref' });
    const x = yes();
    const fe = new MicroFrontend(microFrontendConfig(g));
    const streamed: number[][] = [];
    // Odd chunk sizes: frames straddle chunk boundaries.
    for (let i = 0; i < x.length; i += 333) fe.push(x.subarray(i, i + 333), (f) => streamed.push(Array.from(f)));
    expect(streamed.length).toBe(49);
    for (let k = 0; k < streamed.length; k++) {
      const out = await s.run({ [g.inputs[0]!]: new Tensor('int16', [1, 480], x.slice(320 * k, 320 * k + 480)) });
      expect(streamed[k]).toEqual(Array.from(out[g.outputs[0]!]!.data as Int8Array));
    }
  });
});
