/**
 * Constant data as C: typed arrays written as `static const` initializers (in
 * flash on a microcontroller), with the C type of each dtype.
 */
import { CloudlessError, type DType, type TypedArray } from '../ir/index.js';

/** The C element type of a dtype the emitter handles. */
export function cType(dtype: DType): string {
  switch (dtype) {
    case 'int8': return 'int8_t';
    case 'uint8': return 'uint8_t';
    case 'int16': return 'int16_t';
    case 'int32': return 'int32_t';
    case 'int64': return 'int64_t';
    case 'float32': return 'float';
    default:
      throw new CloudlessError('E_UNSUPPORTED', `the C generator has no element type for ${dtype}`, {
        hint: 'the C target takes int8, uint8, int16, int32 and float32 tensors',
      });
  }
}

/** A float32 value as a C float literal that reads back to the same bits. */
export function floatLiteral(v: number): string {
  if (Number.isNaN(v)) throw new CloudlessError('E_UNSUPPORTED', 'a NaN constant cannot be written as C99 without libm');
  if (!Number.isFinite(v)) throw new CloudlessError('E_UNSUPPORTED', 'an infinite constant cannot be written as a C99 literal here');
  const f = Math.fround(v);
  // 9 significant digits identify a float32 exactly.
  let s = f.toPrecision(9);
  if (!/[.e]/.test(s)) s += '.0';
  return `${s}f`;
}

/** An int32 value as a C literal (INT32_MIN has no literal of its own). */
export function intLiteral(v: number): string {
  return v === -2147483648 ? '(-2147483647 - 1)' : String(v);
}

/** An int64 value as a C literal (INT64_MIN has no literal of its own). */
export function int64Literal(v: bigint): string {
  return v === -(2n ** 63n) ? '(-9223372036854775807LL - 1)' : `${v}LL`;
}

/** The values of `data` as a comma-separated C initializer, wrapped for reading. */
export function initializer(data: TypedArray | readonly number[], dtype: DType): string {
  const values: string[] = [];
  for (let i = 0; i < data.length; i++) {
    const raw = (data as ArrayLike<number | bigint>)[i]!;
    if (dtype === 'int64') { values.push(int64Literal(BigInt(raw))); continue; }
    const v = Number(raw);
    values.push(dtype === 'float32' ? floatLiteral(v) : intLiteral(v));
  }
  if (values.length === 0) return '0';
  const lines: string[] = [];
  const perLine = dtype === 'float32' ? 8 : 16;
  for (let i = 0; i < values.length; i += perLine) lines.push('  ' + values.slice(i, i + perLine).join(', '));
  return '\n' + lines.join(',\n') + '\n';
}

/** A C identifier made from a graph name: letters, digits and underscores, not starting with a digit. */
export function cIdentifier(name: string): string {
  let s = name.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(s)) s = `t_${s}`;
  return s;
}
