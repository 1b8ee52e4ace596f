import picocolors from 'picocolors';

/**
 * Colours only for a person at a terminal: picocolors alone also colours when the
 * CI variable is set, which puts escape codes into captured output and logs.
 */
export const pc = picocolors.createColors(!!process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb');
import { CloudlessError } from '../ir/index.js';

/** Exit codes: 0 ok, 1 the job ran but found a problem (e.g. some files failed), 2 bad usage or input, 3 internal error. */
export const EXIT = { ok: 0, partial: 1, usage: 2, internal: 3 } as const;

/** Prints an error the way a user wants to read it and returns the exit code it deserves. */
export function reportError(err: unknown, json = false): number {
  if (err instanceof CloudlessError) {
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint } })}\n`);
    else process.stderr.write(`${pc.red('error')} ${err.code}: ${err.describe()}\n`);
    return err.code === 'E_INTERNAL' ? EXIT.internal : EXIT.usage;
  }
  const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: 'E_INTERNAL', message: String(err) } })}\n`);
  else process.stderr.write(`${pc.red('internal error')} (please report): ${msg}\n`);
  return EXIT.internal;
}

/** A plain aligned text table. */
export function table(headers: string[], rows: (string | number)[][], align: ('l' | 'r')[] = []): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) => r.map((v, c) => (align[c] === 'r' ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join('  ').trimEnd();
  return [pc.bold(fmt(headers)), ...cells.slice(1).map(fmt)].join('\n');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** `--input-shape NAME=AxBxC` flags (repeatable) as shapes by input name. */
export function parseShapes(specs: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of specs) {
    const m = /^([^=]+)=(\d+(?:x\d+)*)$/.exec(s);
    if (!m) throw new CloudlessError('E_CONFIG', `--input-shape "${s}" must look like NAME=1x3x224x224`);
    out[m[1]!] = m[2]!.split('x').map(Number);
  }
  return out;
}
