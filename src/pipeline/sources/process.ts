/**
 * Sources fed by a child process's stdout (ffmpeg for video and cameras,
 * arecord for microphones) or by a stream. Raw bytes go from the pipe into a
 * frame buffer the pipeline owns; nothing touches the disk. A process that
 * dies is a source fault; with restart on, it is started again with growing
 * delays and the fault clears with its first frame.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { CloudlessError } from '../../ir/index.js';
import type { SourceConfig } from '../config.js';
import { safeText } from '../privacy.js';
import type { Frame } from '../types.js';
import { restartDelay, type Source, type SourceContext } from './source.js';

/** Cuts a byte stream into frames of `frameBytes`, advancing by `hopBytes` (overlap when hop < frame). */
export class Framer {
  private buf: Uint8Array;
  private filled = 0;

  constructor(private readonly frameBytes: number, private readonly hopBytes: number, private readonly emit: (data: Uint8Array) => void) {
    if (hopBytes > frameBytes) throw new RangeError('hop must not exceed the frame');
    this.buf = new Uint8Array(frameBytes);
  }

  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.frameBytes - this.filled);
      this.buf.set(chunk.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === this.frameBytes) {
        const frame = this.buf;
        this.buf = new Uint8Array(this.frameBytes);
        const keep = this.frameBytes - this.hopBytes;
        if (keep > 0) this.buf.set(frame.subarray(this.hopBytes));
        this.filled = keep;
        this.emit(frame);
      }
    }
    // The chunk is the pipe's buffer, raw data too: zero it once copied.
    chunk.fill(0);
  }

  /** Zeroes the partial frame (shutdown or restart). */
  reset(): void {
    this.buf.fill(0);
    this.filled = 0;
  }
}

abstract class StreamSource implements Source {
  abstract readonly name: string;
  protected ctx?: SourceContext;
  protected stopped = false;
  private child?: ChildProcess;
  private restarts = 0;
  private faulted = false;
  private restartTimer?: NodeJS.Timeout;
  protected seq = 0;

  protected abstract readonly restart: boolean;
  /** Opens the byte stream: a child process, or a plain stream. */
  protected abstract open(): { child?: ChildProcess; stream: Readable };
  /** Handles a chunk of the stream. */
  protected abstract onData(chunk: Buffer): void;
  protected abstract resetFraming(): void;

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    this.launch();
  }

  protected frameReady(frame: Frame): void {
    if (this.faulted) { this.faulted = false; this.restarts = 0; this.ctx!.healthy(); }
    this.ctx!.queue.offer(frame);
  }

  private launch(): void {
    if (this.stopped) return;
    let opened: { child?: ChildProcess; stream: Readable };
    try { opened = this.open(); } catch (err) { this.died(safeText(err)); return; }
    const { child, stream } = opened;
    this.child = child;
    let stderr = '';
    child?.stderr?.on('data', (d: Buffer) => { stderr = `${stderr}${d.toString('utf8')}`.slice(-400); });
    stream.on('data', (chunk: Buffer) => { if (!this.stopped) this.onData(chunk); });
    let finished = false;
    const finish = (ok: boolean, why: string) => {
      if (finished) return;
      finished = true;
      this.resetFraming();
      if (this.stopped) return;
      if (ok && !this.restart) this.ctx!.end();
      else this.died(why);
    };
    if (child) {
      child.on('error', (e) => finish(false, `cannot start: ${safeText(e)}`));
      child.on('close', (code, signal) => finish(code === 0, `exited with ${signal ?? `status ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`));
    } else {
      stream.on('error', (e) => finish(false, safeText(e)));
      stream.on('end', () => finish(true, 'stream ended'));
    }
  }

  private died(why: string): void {
    if (!this.faulted) { this.faulted = true; this.ctx!.fault(`${this.name} ${why}`); }
    if (!this.restart) { this.ctx!.end(); return; }
    this.restartTimer = setTimeout(() => this.launch(), restartDelay(this.restarts++));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const closed = new Promise((r) => c.once('close', r));
      c.kill('SIGTERM');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    }
    this.resetFraming();
  }
}

type VideoConfig = Extract<SourceConfig, { type: 'video' }>;

/** A video file or camera through ffmpeg: frames scaled to width x height, RGB24, at `fps`, piped raw. */
export class VideoSource extends StreamSource {
  readonly name: string;
  protected readonly restart: boolean;
  private readonly framer: Framer;

  constructor(private readonly cfg: VideoConfig, private readonly input: string, private readonly ffmpeg = 'ffmpeg') {
    super();
    this.name = `video:${path.basename(cfg.input)}`;
    this.restart = cfg.restart;
    const bytes = cfg.width * cfg.height * 3;
    this.framer = new Framer(bytes, bytes, (data) => this.frameReady({
      kind: 'video', seq: this.seq++, time: Date.now(), source: this.name, data, width: cfg.width, height: cfg.height,
    }));
  }

  protected open() {
    const c = this.cfg;
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
    if (c.realtime) args.push('-re');
    if (c.format) args.push('-f', c.format);
    args.push('-i', this.input, '-vf', `fps=${c.fps},scale=${c.width}:${c.height}`, '-an', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
    const child = spawn(this.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    return { child, stream: child.stdout! };
  }

  protected onData(chunk: Buffer): void { this.framer.push(chunk); }
  protected resetFraming(): void { this.framer.reset(); }
}

type AudioConfig = Extract<SourceConfig, { type: 'audio' }>;

/**
 * Microphone audio through `arecord` (16-bit mono at sample_rate), or a wav
 * file / wav stream on stdin. Frames are frame_ms of 16-bit little-endian PCM,
 * advancing by hop_ms. A wav must be 16-bit PCM mono at sample_rate: resampling
 * is the audio task's business, not the source's.
 */
export class AudioSource extends StreamSource {
  readonly name: string;
  protected readonly restart: boolean;
  private readonly framer: Framer;
  private header?: WavHeaderReader;

  constructor(private readonly cfg: AudioConfig, private readonly input: string, private readonly stdin: Readable = process.stdin) {
    super();
    this.name = cfg.input === 'arecord' ? 'audio:arecord' : `audio:${path.basename(cfg.input)}`;
    this.restart = cfg.restart;
    const bytesPerMs = cfg.sample_rate * 2 / 1000;
    const frame = Math.round(cfg.frame_ms * bytesPerMs) & ~1;
    const hop = Math.round((cfg.hop_ms ?? cfg.frame_ms) * bytesPerMs) & ~1;
    this.framer = new Framer(frame, hop, (data) => this.frameReady({
      kind: 'audio', seq: this.seq++, time: Date.now(), source: this.name, data, sampleRate: cfg.sample_rate,
    }));
  }

  protected open() {
    const c = this.cfg;
    if (c.input === 'arecord') {
      const args = ['-q', '-t', 'raw', '-f', 'S16_LE', '-c', '1', '-r', String(c.sample_rate)];
      if (c.device) args.push('-D', c.device);
      const child = spawn('arecord', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.header = undefined;
      return { child, stream: child.stdout! };
    }
    this.header = new WavHeaderReader(this.name, c.sample_rate);
    return { stream: c.input === '-' ? this.stdin : createReadStream(this.input) };
  }

  protected onData(chunk: Buffer): void {
    if (!this.header) { this.framer.push(chunk); return; }
    let pcm: Uint8Array | undefined;
    try { pcm = this.header.push(chunk); } catch (err) {
      this.ctx!.fault(safeText(err));
      this.stopped = true;
      this.ctx!.end();
      return;
    }
    if (pcm) { this.framer.push(pcm); this.header = undefined; }
  }

  protected resetFraming(): void { this.framer.reset(); }
}

/**
 * Reads a RIFF/WAVE header from the start of a stream and returns the first
 * PCM bytes after it. The header is parsed from a small prefix; audio bytes
 * are never kept here beyond handing them on.
 */
export class WavHeaderReader {
  private head = Buffer.alloc(0);
  constructor(private readonly name: string, private readonly sampleRate: number) {}

  push(chunk: Buffer): Uint8Array | undefined {
    this.head = Buffer.concat([this.head, chunk]);
    chunk.fill(0);
    const h = this.head;
    const bad = (why: string) => { h.fill(0); return new CloudlessError('E_AUDIO', `${this.name}: ${why}`); };
    if (h.length < 12) return undefined;
    if (h.toString('latin1', 0, 4) !== 'RIFF' || h.toString('latin1', 8, 12) !== 'WAVE') throw bad('not a RIFF/WAVE stream');
    let off = 12;
    let fmtOk = false;
    while (off + 8 <= h.length) {
      const id = h.toString('latin1', off, off + 4);
      const size = h.readUInt32LE(off + 4);
      if (id === 'data') {
        if (!fmtOk) throw bad('data chunk before a fmt chunk');
        const pcm = new Uint8Array(h.subarray(off + 8));
        h.fill(0, 0, off + 8);
        this.head = Buffer.alloc(0);
        return pcm;
      }
      if (off + 8 + size > h.length) {
        if (h.length > 1 << 16) throw bad('header larger than 64 KiB');
        return undefined;
      }
      if (id === 'fmt ') {
        const format = h.readUInt16LE(off + 8), channels = h.readUInt16LE(off + 10), rate = h.readUInt32LE(off + 12), bits = h.readUInt16LE(off + 22);
        if ((format !== 1 && format !== 0xfffe) || bits !== 16) throw bad(`expected 16-bit PCM, got format ${format} with ${bits} bits`);
        if (channels !== 1) throw bad(`expected mono, got ${channels} channels`);
        if (rate !== this.sampleRate) throw bad(`sample rate ${rate} Hz, but the pipeline's source says sample_rate: ${this.sampleRate}`);
        fmtOk = true;
      }
      off += 8 + size + (size & 1);
    }
    return undefined;
  }
}
