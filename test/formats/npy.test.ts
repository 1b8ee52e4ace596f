import { describe, expect, it } from 'vitest';
import { parseNpy, serializeNpy } from '../../src/formats/npy.js';
import { CloudlessError, Tensor } from '../../src/ir/index.js';

describe('npy', () => {
  it('round-trips every dtype', () => {
    for (const dtype of ['float32', 'float64', 'int8', 'uint8', 'int16', 'int32', 'int64', 'bool'] as const) {
      const t = Tensor.fromNumbers(dtype, [2, 3], [0, 1, 0, 1, 1, 0]);
      const back = parseNpy(serializeNpy(t));
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual([2, 3]);
      expect(back.toNumbers()).toEqual(t.toNumbers());
    }
  });
  it('aligns data to 64 bytes and handles scalars and 1-D', () => {
    const bytes = serializeNpy(Tensor.fromNumbers('float32', [4], [1, 2, 3, 4]));
    expect((bytes.length - 16) % 64).toBe(0);
    expect(parseNpy(serializeNpy(Tensor.scalar('float32', 7))).toNumbers()).toEqual([7]);
  });
  it('rejects broken files with a clear error', () => {
    const good = serializeNpy(Tensor.fromNumbers('float32', [8], [1, 2, 3, 4, 5, 6, 7, 8]));
    expect(() => parseNpy(new Uint8Array([1, 2, 3]), 'x.npy')).toThrow(/x\.npy: not a valid \.npy file/);
    expect(() => parseNpy(good.subarray(0, good.length - 4), 'y.npy')).toThrow(CloudlessError);
    const bigEndian = new Uint8Array(good);
    const text = new TextDecoder().decode(bigEndian.subarray(10, 30));
    const at = 10 + text.indexOf('<f4');
    bigEndian[at] = '>'.charCodeAt(0);
    expect(() => parseNpy(bigEndian, 'z.npy')).toThrow(/dtype >f4 is not supported/);
  });
});
