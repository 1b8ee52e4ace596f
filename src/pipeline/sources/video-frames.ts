/**
 * Every frame of a video file, in order, as RGB24 through ffmpeg, with
 * back-pressure: the pipe is paused while the consumer works, so no frame is
 * dropped (the live VideoSource drops the oldest instead, which is right for a
 * camera and wrong for counting people in a recording). Times are the frame's
 * position in the video, not the wall clock.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CloudlessError } from '../../ir/index.js';
import { Framer } from './process.js';

export interface VideoInfo { width: number; height: number; fps: number }

export interface VideoFrame {
  seq: number;
  /** Milliseconds from the start of the video. */
  time: number;
  width: number;
  height: number;
  /** Packed RGB24; zeroed and reused by the reader once the consumer asks for the next frame. */
  data: Uint8Array;
}

export interface VideoReadOptions {
  /** Resample to this rate (default: the file's own). */
  fps?: number;
  /** Start this many seconds in, and read at most this many seconds. */
  startS?: number;
  durationS?: number;
  ffmpeg?: string;
  ffprobe?: string;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    c.stderr.on('data', (d: Buffer) => { err = `${err}${d.toString('utf8')}`.slice(-2000); });
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Size and frame rate of the first video stream, by ffprobe. */
export async function probeVideo(file: string, ffprobe = 'ffprobe'): Promise<VideoInfo> {
  if (!existsSync(file)) throw new CloudlessError('E_FILE', `video ${file}: file not found`, { file });
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,r_frame_rate', '-of', 'csv=p=0', file]);
  } catch (err) {
    throw new CloudlessError('E_CONFIG', `video ${file}: cannot run ${ffprobe}: ${(err as Error).message}`, { file, hint: 'install ffmpeg (Debian: apt-get install ffmpeg)' });
  }
  const [w, h, rate] = r.out.trim().split('\n')[0]?.split(',') ?? [];
  const [num, den] = (rate ?? '').split('/').map(Number);
  const fps = den ? num! / den : num!;
  if (r.code !== 0 || !Number(w) || !Number(h) || !(fps > 0)) {
    throw new CloudlessError('E_IMAGE', `video ${file}: no readable video stream${r.err.trim() ? ` (${r.err.trim().split('\n').pop()})` : ''}`, { file });
  }
  return { width: Number(w), height: Number(h), fps };
}

/**
 * Yields the frames of `file`. A file that breaks mid-stream (ffmpeg reports a
 * decoding error, or the data stops inside a frame) ends with an E_IMAGE error
 * naming the file and the last good frame, after the good frames were yielded.
 */
export async function* readVideoFrames(file: string, opts: VideoReadOptions = {}): AsyncGenerator<VideoFrame> {
  const info = await probeVideo(file, opts.ffprobe);
  const fps = opts.fps ?? info.fps;
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-xerror'];
  if (opts.startS) args.push('-ss', String(opts.startS));
  args.push('-i', file);
  if (opts.durationS) args.push('-t', String(opts.durationS));
  args.push('-vf', `fps=${fps}`, '-an', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const child = spawn(opts.ffmpeg ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const bytes = info.width * info.height * 3;
  const ready: Uint8Array[] = [];
  let partial = 0;
  let wake: (() => void) | undefined;
  let exit: { code: number | null; err?: Error } | undefined;
  let stderr = '';
  const framer = new Framer(bytes, bytes, (d) => { ready.push(d); });
  child.stdout.on('data', (chunk: Buffer) => {
    partial = (partial + chunk.length) % bytes;
    framer.push(chunk);
    if (ready.length >= 2) child.stdout.pause();
    wake?.();
  });
  child.stderr.on('data', (d: Buffer) => { stderr = `${stderr}${d.toString('utf8')}`.slice(-1000); });
  child.on('error', (err) => { exit = { code: null, err }; wake?.(); });
  child.on('close', (code) => { exit ??= { code }; wake?.(); });
  let seq = 0;
  try {
    for (;;) {
      const data = ready.shift();
      if (data) {
        yield { seq, time: (seq * 1000) / fps, width: info.width, height: info.height, data };
        data.fill(0);
        seq++;
        if (ready.length < 2) child.stdout.resume();
        continue;
      }
      if (exit) break;
      await new Promise<void>((r) => { wake = r; });
      wake = undefined;
    }
    if (exit.err) throw new CloudlessError('E_CONFIG', `video ${file}: cannot run ffmpeg: ${exit.err.message}`, { file, hint: 'install ffmpeg' });
    const last = seq ? `after frame ${seq - 1}` : 'before the first frame';
    if (exit.code !== 0) {
      throw new CloudlessError('E_IMAGE', `video ${file}: broken ${last} (ffmpeg: ${stderr.trim().split('\n').pop() ?? `exit ${exit.code}`})`, { file });
    }
    if (partial !== 0) throw new CloudlessError('E_IMAGE', `video ${file}: the data stops inside a frame ${last}`, { file });
  } finally {
    framer.reset();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}
