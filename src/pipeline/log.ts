import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { safeText } from './privacy.js';

export type LogFields = Record<string, string | number | boolean | undefined>;

/**
 * The pipeline's log: JSON lines in the data directory, optionally echoed to
 * stderr. It takes only scalar fields, and every string goes through the
 * privacy guard, so no buffer or long payload can be logged by mistake.
 */
export class PipelineLog {
  private stream?: WriteStream;

  constructor(file: string | undefined, private readonly echo: ((line: string) => void) | undefined = undefined) {
    if (file) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      this.stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
    }
  }

  write(level: 'info' | 'warn' | 'error', msg: string, fields: LogFields = {}): void {
    const rec: Record<string, string | number | boolean> = { time: new Date().toISOString(), level, msg: safeText(msg) };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      rec[k] = typeof v === 'string' ? safeText(v) : v;
    }
    const line = JSON.stringify(rec);
    this.stream?.write(`${line}\n`);
    this.echo?.(`${level} ${rec.msg}${Object.keys(fields).length ? ` ${JSON.stringify(Object.fromEntries(Object.entries(rec).filter(([k]) => k in fields)))}` : ''}`);
  }

  info(msg: string, fields?: LogFields): void { this.write('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.write('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.write('error', msg, fields); }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    return s ? new Promise((r) => s.end(r)) : Promise.resolve();
  }
}
