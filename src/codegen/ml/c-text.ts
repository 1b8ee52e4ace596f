/** Formatting helpers for the classic-ML C emitter: exact literals and tables in the smallest type. */
import { CloudlessError } from '../../ir/index.js';

/** A float32 value as a C float literal that reads back as the same float32 (9 significant digits suffice). */
export function cFloat(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) throw new CloudlessError('E_UNSUPPORTED', 'a model constant is NaN, which the C emitter does not write');
  if (f === Infinity) return 'HUGE_VALF';
  if (f === -Infinity) return '(-HUGE_VALF)';
  if (Object.is(f, -0)) return '-0.0f';
  let s = f.toPrecision(9);
  if (!/[.e]/.test(s)) s += '.0';
  return `${s}f`;
}

/** A float64 value as a C double literal that reads back exactly (17 significant digits). */
export function cDouble(v: number): string {
  if (!Number.isFinite(v)) throw new CloudlessError('E_UNSUPPORTED', `a model constant is ${v}, which the C emitter does not write`);
  if (Object.is(v, -0)) return '-0.0';
  let s = v.toPrecision(17);
  if (!/[.e]/.test(s)) s += '.0';
  return s;
}

/** The smallest C integer type holding every value of `values`. */
export function intType(values: ArrayLike<number>): { type: string; bytes: number } {
  let lo = 0, hi = 0;
  for (let i = 0; i < values.length; i++) { lo = Math.min(lo, values[i]!); hi = Math.max(hi, values[i]!); }
  if (lo >= 0 && hi <= 0xff) return { type: 'uint8_t', bytes: 1 };
  if (lo >= -0x80 && hi <= 0x7f) return { type: 'int8_t', bytes: 1 };
  if (lo >= 0 && hi <= 0xffff) return { type: 'uint16_t', bytes: 2 };
  if (lo >= -0x8000 && hi <= 0x7fff) return { type: 'int16_t', bytes: 2 };
  return { type: 'int32_t', bytes: 4 };
}

/** Wraps comma-separated items into lines of about 100 characters. */
function wrap(items: string[]): string {
  const lines: string[] = [];
  let line = '';
  for (const it of items) {
    if (line.length + it.length > 96) { lines.push(line); line = ''; }
    line += `${it}, `;
  }
  if (line) lines.push(line);
  return lines.map((l) => `  ${l.trimEnd()}`).join('\n');
}

/** A `static const` table; returns its C text and its bytes in flash. Empty tables get one dummy entry (C has no empty arrays). */
export function cTable(name: string, type: string, bytesPer: number, items: string[]): { text: string; bytes: number } {
  const list = items.length ? items : ['0'];
  return { text: `static const ${type} ${name}[${list.length}] = {\n${wrap(list)}\n};\n`, bytes: bytesPer * list.length };
}

export function intTable(name: string, values: ArrayLike<number>): { text: string; bytes: number; type: string } {
  const t = intType(values);
  return { ...cTable(name, t.type, t.bytes, Array.from(values, String)), type: t.type };
}

export function floatTable(name: string, values: ArrayLike<number>): { text: string; bytes: number } {
  return cTable(name, 'float', 4, Array.from(values, cFloat));
}

/** A C identifier from a user-given name, or an E_CONFIG error. */
export function checkCName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new CloudlessError('E_CONFIG', `package name "${name}" is not a C identifier`, { hint: 'use letters, digits and _ (not starting with a digit)' });
  }
  return name;
}
