import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/index.js';
import { readTfliteFile } from '../../../src/formats/tflite/read-file.js';
import { runOp } from '../../../src/runtime/eval-node.js';
import { Session } from '../../../src/runtime/session.js';
import { readWav, toInt16 } from '../../../src/tasks/audio/wav.js';
import { tflmDir } from '../../helpers/data.js';

describe('Signal kernels', () => {
  it('kernels run through runOp with int64 (uint32) tensors', () => {
    const spec = Tensor.fromNumbers('int16', [8], [3, 0, 4, 1, -2, 2, 0, 0]);
    const [e] = runOp('tflite.custom.SignalEnergy', [spec], { start_index: 0, end_index: 3 });
    expect(Array.from(e!.data as BigInt64Array)).toEqual([9n, 17n, 8n, 0n]);
    const [s] = runOp('tflite.custom.SignalFilterBankSquareRoot', [Tensor.fromNumbers('int64', [3], [16, 100, 2 ** 33]), Tensor.scalar('int32', 1)]);
    expect(Array.from(s!.data as BigInt64Array)).toEqual([2n, 5n, BigInt(Math.round(Math.sqrt(2 ** 33))) >> 1n]);
  });
});

const dir = tflmDir();
describe.skipIf(!dir)('audio_preprocessor_int8.tflite through cloudless', () => {
  const model = path.join(dir ?? '', 'audio_preprocessor_int8.tflite');
  const yes = () => toInt16(readWav(path.join(dir!, 'yes_1000ms.wav')).channels[0]!);

  it('reproduces TFLM micro_speech_test YesFeatureTest bit for bit', async () => {
    // TFLM's yes_30ms.wav is yes_1000ms.wav from sample 8000 (its header comment says so; we checked).
    const expected = [124, 105, 126, 103, 125, 101, 123, 100, 116, 98, 115, 97, 113, 90, 91, 82, 104, 96, 117, 97,
      121, 103, 126, 101, 125, 104, 126, 104, 125, 101, 116, 90, 81, 74, 80, 71, 83, 76, 82, 71];
    const g = readTfliteFile(model);
    const s = new Session(g, { backend: 'ref' });
    const out = await s.run({ [g.inputs[0]!]: new Tensor('int16', [1, 480], yes().slice(8000, 8480)) });
    expect(Array.from(out[g.outputs[0]!]!.data as Int8Array)).toEqual(expected);
  });
});
