/**
 * A watched image folder, the way a camera drops its pictures: each new file is
 * read into a frame, and once the pipeline has decided about it the file is
 * deleted (or, with delete_after: false, remembered and left alone). The folder
 * is the backlog: in 'wait' mode a busy pipeline leaves files on disk until it
 * has room, so memory stays bounded; in 'drop' mode files that arrive while the
 * queue is full are deleted unread and counted as dropped.
 *
 * fs.watch wakes the scanner early; a periodic rescan catches what inotify
 * misses (files moved in before the watch started, overflowed event queues).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { SourceConfig } from '../config.js';
import type { Frame } from '../types.js';
import type { Source, SourceContext } from './source.js';

type FolderConfig = Extract<SourceConfig, { type: 'folder' }>;

export class FolderSource implements Source {
  readonly name: string;
  private ctx?: SourceContext;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private scanning = false;
  private rescan = false;
  private stopped = false;
  private seq = 0;
  private readonly inFlight = new Set<string>();
  private readonly done = new Set<string>();
  private readonly skipped = new Set<string>();
  private readonly extensions: Set<string>;
  private faulted = false;

  constructor(private readonly cfg: FolderConfig, private readonly dir: string) {
    this.name = `folder:${path.basename(dir)}`;
    this.extensions = new Set(cfg.extensions.map((e) => e.toLowerCase()));
  }

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    this.timer = setInterval(() => this.kick(), 500);
    this.kick();
  }

  private ensureWatch(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.dir, () => this.kick());
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = undefined; });
    } catch { /* the folder is missing: scan() reports it and the interval retries */ }
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.scanning) { this.rescan = true; return; }
    this.scanning = true;
    void this.scan().finally(() => {
      this.scanning = false;
      if (this.rescan && !this.stopped) { this.rescan = false; this.kick(); }
    });
  }

  private async scan(): Promise<void> {
    const ctx = this.ctx!;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (!this.faulted) { this.faulted = true; ctx.fault(`cannot read folder ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`); }
      return;
    }
    if (this.faulted) { this.faulted = false; ctx.healthy(); }
    this.ensureWatch();
    const candidates: { name: string; mtime: number }[] = [];
    let unsettled = false;
    for (const name of names) {
      if (name.startsWith('.') || this.inFlight.has(name) || this.done.has(name)) continue;
      if (!this.extensions.has(path.extname(name).toLowerCase())) continue;
      // stat follows symbolic links: a linked image is taken like a file. What is not a file is skipped once, with a word.
      const st = await stat(path.join(this.dir, name)).catch(() => undefined);
      if (!st?.isFile()) {
        if (!this.skipped.has(name)) {
          this.skipped.add(name);
          ctx.log?.warn('skipped', { file: name, reason: st ? 'not a regular file (a folder or device)' : 'a broken symbolic link' });
        }
        continue;
      }
      if (st.size === 0 || Date.now() - st.mtimeMs < this.cfg.settle_ms) { unsettled = true; continue; }
      candidates.push({ name, mtime: st.mtimeMs });
    }
    candidates.sort((a, b) => a.mtime - b.mtime || a.name.localeCompare(b.name));
    for (const { name } of candidates) {
      if (this.stopped) return;
      await this.take(name);
    }
    if (unsettled) setTimeout(() => this.kick(), this.cfg.settle_ms + 5).unref();
  }

  private async take(name: string): Promise<void> {
    const ctx = this.ctx!;
    const file = path.join(this.dir, name);
    if (this.cfg.when_busy === 'drop' && !ctx.queue.hasRoom()) {
      ctx.queue.refuse();
      await this.finish(name, file);
      return;
    }
    let data: Buffer;
    try { data = await readFile(file); } catch { return; /* removed meanwhile */ }
    this.inFlight.add(name);
    const frame: Frame = {
      kind: 'image', seq: this.seq++, time: Date.now(), source: this.name, data,
      release: async () => { await this.finish(name, file); this.inFlight.delete(name); },
    };
    await ctx.queue.put(frame);
  }

  private async finish(name: string, file: string): Promise<void> {
    if (this.cfg.delete_after) await unlink(file).catch(() => undefined);
    else this.done.add(name);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.watcher?.close();
  }
}
