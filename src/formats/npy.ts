import { CloudlessError, Tensor, type DType, allocTyped, bytesPerElement } from '../ir/index.js';

/**
 * NumPy .npy files (format versions 1.0–3.0): the tensor exchange format of
 * `cloudless infer` and of calibration data. Little-endian, C order only.
 */
const DESCR: Record<string, DType> = {
  '<f4': 'float32', '<f8': 'float64', '|i1': 'int8', '<i1': 'int8', '|u1': 'uint8', '<u1': 'uint8',
  '<i2': 'int16', '<i4': 'int32', '<i8': 'int64', '|b1': 'bool', '<b1': 'bool',
};
const DESCR_OF: Record<DType, string> = {
  float32: '<f4', float64: '<f8', int8: '|i1', uint8: '|u1', int16: '<i2', int32: '<i4', int64: '<i8', bool: '|b1',
};
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy(bytes: Uint8Array, file = '.npy data'): Tensor {
  const fail = (why: string): never => { throw new CloudlessError('E_FORMAT', `${file}: not a valid .npy file: ${why}`, { file }); };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('missing the \\x93NUMPY magic');
  const major = bytes[6]!;
  let headerLen: number, start: number;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) { headerLen = dv.getUint16(8, true); start = 10; }
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header');
    headerLen = dv.getUint32(8, true); start = 12;
  } else return fail(`unknown format version ${major}`);
  if (start + headerLen > bytes.length) fail('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return fail(`unreadable header ${JSON.stringify(header.trim())}`);
  const dtype = DESCR[descr];
  if (!dtype) return fail(`dtype ${descr} is not supported (use little-endian float32/64, int8/16/32/64, uint8 or bool)`);
  if (fortran === 'True') fail('Fortran-order arrays are not supported (save with np.ascontiguousarray)');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const need = count * bytesPerElement(dtype);
  if (bytes.length - dataStart < need) fail(`expected ${need} bytes of data for shape (${shape.join(', ')}), found ${bytes.length - dataStart}`);
  const data = allocTyped(dtype, count);
  new Uint8Array(data.buffer).set(bytes.subarray(dataStart, dataStart + need));
  return new Tensor(dtype, shape, data);
}

export function serializeNpy(t: Tensor): Uint8Array {
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[t.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + t.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1; out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.byteLength), 10 + header.length);
  return out;
}
