/**
 * A running pipeline's heartbeat: `status/<pipeline>.json` in the data
 * directory, rewritten once a second (write to a temporary file, then rename,
 * so a reader never sees half a file) and a last time when it stops. It holds
 * counters and the recent decisions/events per second, never a frame. The
 * dashboard reads these files: a file whose process is gone, or that has not
 * been rewritten for a few seconds, is a pipeline that stopped without saying
 * so (killed, crashed).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PipelineStats } from './pipeline.js';

export interface StatusSample {
  /** Epoch ms. */
  t: number;
  decided: number;
  events: number;
  dropped: number;
}

export interface PipelineStatus {
  pipeline: string;
  pid: number;
  startedAt: string;
  updatedAt: string;
  /** 'running' while the loop runs; 'stopped' once stop() finished. */
  phase: 'running' | 'stopped';
  source: string;
  task: string;
  model?: string;
  stats: PipelineStats;
  /** The last minutes of counters, one sample per write (oldest first). */
  history: StatusSample[];
}

/** Samples kept: ten minutes at one per second. */
export const STATUS_HISTORY = 600;
export const STATUS_INTERVAL_MS = 1000;

export function statusDir(dataDir: string): string {
  return path.join(dataDir, 'status');
}

export class StatusWriter {
  private readonly file: string;
  private readonly history: StatusSample[] = [];
  private timer?: ReturnType<typeof setInterval>;
  private readonly startedAt = new Date().toISOString();

  constructor(dataDir: string, private readonly fixed: Pick<PipelineStatus, 'pipeline' | 'source' | 'task' | 'model'>, private readonly stats: () => PipelineStats) {
    const dir = statusDir(dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, `${encodeURIComponent(fixed.pipeline)}.json`);
  }

  start(): void {
    this.write('running');
    this.timer = setInterval(() => this.write('running'), STATUS_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.write('stopped');
  }

  private write(phase: PipelineStatus['phase']): void {
    const stats = this.stats();
    this.history.push({ t: Date.now(), decided: stats.framesDecided, events: stats.events, dropped: stats.framesDropped });
    if (this.history.length > STATUS_HISTORY) this.history.shift();
    const status: PipelineStatus = { ...this.fixed, pid: process.pid, startedAt: this.startedAt, updatedAt: new Date().toISOString(), phase, stats, history: this.history };
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(status), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // A full disk must not stop the pipeline: the heartbeat is for viewers only.
    }
  }
}

export type PipelineLiveness = 'running' | 'stopped' | 'gone';

/** Every status file of a data directory, with whether its pipeline is alive. */
export function readStatuses(dataDir: string, now = Date.now()): (PipelineStatus & { liveness: PipelineLiveness })[] {
  let names: string[];
  try {
    names = readdirSync(statusDir(dataDir)).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: (PipelineStatus & { liveness: PipelineLiveness })[] = [];
  for (const n of names.sort()) {
    let s: PipelineStatus;
    try {
      s = JSON.parse(readFileSync(path.join(statusDir(dataDir), n), 'utf8')) as PipelineStatus;
    } catch {
      continue;
    }
    if (typeof s?.pipeline !== 'string' || !s.stats) continue;
    let liveness: PipelineLiveness = s.phase === 'stopped' ? 'stopped' : 'running';
    if (liveness === 'running' && (now - Date.parse(s.updatedAt) > 5 * STATUS_INTERVAL_MS || !processAlive(s.pid))) liveness = 'gone';
    out.push({ ...s, liveness });
  }
  return out;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
