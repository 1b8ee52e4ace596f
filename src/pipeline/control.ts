/**
 * Asking a running pipeline to pause, from outside its process: the file
 * `control/<pipeline>.json` in the data directory (`{ "paused": true, "by": ..., "at": ... }`),
 * written atomically (temporary file, then rename) with mode 0600. A running pipeline
 * reads it once a second (Pipeline.start); the dashboard writes it (an action behind its login).
 * Paused, a pipeline keeps its source and sinks open but decides no frame: each is thrown
 * away unseen and counted, no rule fires, and no safe state is entered — pausing is a
 * decision of the owner, not a fault.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CloudlessError } from '../ir/index.js';

export interface PipelineControl {
  paused: boolean;
  /** Who asked (e.g. "dashboard"), for the log. */
  by?: string;
  /** ISO time of the request. */
  at?: string;
}

export function controlFile(dataDir: string, pipeline: string): string {
  return path.join(dataDir, 'control', `${encodeURIComponent(pipeline)}.json`);
}

/** The control request for `pipeline`, or undefined when there is none. A malformed file is an E_CONFIG error naming it. */
export function readControl(dataDir: string, pipeline: string): PipelineControl | undefined {
  const file = controlFile(dataDir, pipeline);
  if (!existsSync(file)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CloudlessError('E_CONFIG', `${file}: not JSON (${(err as Error).message})`, { file, hint: 'delete the file to resume the pipeline' });
  }
  const c = v as Partial<PipelineControl> | null;
  if (!c || typeof c !== 'object' || typeof c.paused !== 'boolean') {
    throw new CloudlessError('E_CONFIG', `${file}: expected { "paused": true | false }`, { file, hint: 'delete the file to resume the pipeline' });
  }
  return { paused: c.paused, by: typeof c.by === 'string' ? c.by : undefined, at: typeof c.at === 'string' ? c.at : undefined };
}

export function writeControl(dataDir: string, pipeline: string, control: PipelineControl): void {
  const file = controlFile(dataDir, pipeline);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(control)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
