/**
 * `cloudless detect video.avi --track`: detection on every frame of a video
 * (ffmpeg, no frame dropped), a SORT/ByteTrack-style tracker over the boxes, and
 * optionally a counting line. Prints one line per track (or JSON per frame).
 */
import { CloudlessError } from '../ir/index.js';
import { readVideoFrames } from '../pipeline/sources/video-frames.js';
import type { BackendChoice } from '../runtime/session.js';
import { createDetector } from '../tasks/vision/detector.js';
import type { PreprocessSpec } from '../tasks/vision/preprocess.js';
import { type Track, Tracker } from '../tasks/vision/track.js';
import { type LineSpec, ZoneMonitor, anchorOf, checkLine } from '../tasks/vision/zones.js';
import { pc, table } from './output.js';

export interface TrackCommandOptions {
  model: string;
  backend: BackendChoice;
  threads?: number;
  resize?: PreprocessSpec['interpolation'];
  json?: boolean;
  fps?: number;
  start?: number;
  duration?: number;
  labels?: string;
  line?: string;
}

export const VIDEO_EXTENSIONS = /\.(avi|mp4|mkv|mov|webm|m4v|mpg|mpeg|ts|flv|wmv)$/i;

export function parseLine(v: string): LineSpec {
  const n = v.split(',').map(Number);
  if (n.length !== 4 || n.some((x) => !Number.isFinite(x))) {
    throw new CloudlessError('E_CONFIG', `--line ${v}: expected x1,y1,x2,y2 in frame pixels`);
  }
  return { name: 'line', from: [n[0]!, n[1]!], to: [n[2]!, n[3]!] };
}

interface TrackSummary { id: number; label: string; frames: number; first: number; last: number; from: [number, number]; to: [number, number] }

export async function runTrack(file: string, o: TrackCommandOptions): Promise<void> {
  const tracker = new Tracker();
  const detector = await createDetector(o.model, { backend: o.backend, threads: o.threads, interpolation: o.resize, threshold: tracker.lowScore });
  const labels = o.labels ? new Set(o.labels.split(',').map((s) => s.trim()).filter(Boolean)) : undefined;
  const line = o.line ? parseLine(o.line) : undefined;
  let monitor: ZoneMonitor | undefined;
  const summaries = new Map<number, TrackSummary>();
  let frames = 0;
  const crossings = { left_to_right: 0, right_to_left: 0 };
  const t0 = performance.now();
  for await (const f of readVideoFrames(file, { fps: o.fps, startS: o.start, durationS: o.duration })) {
    if (line && !monitor) {
      checkLine(line, '--line', f);
      monitor = new ZoneMonitor([], [line], [{ name: 'line', type: 'line', line: 'line', direction: 'any' }]);
    }
    const r = await detector.detect({ data: f.data, width: f.width, height: f.height, channels: 3 });
    const dets = labels ? r.detections.filter((d) => labels.has(d.label)) : r.detections;
    const tracks = tracker.update(dets, f.time);
    const events = monitor?.update(tracks, f.time) ?? [];
    frames++;
    for (const e of events) if (e.direction) crossings[e.direction]++;
    for (const t of tracks) if (t.missed === 0) note(summaries, t, f.time);
    if (o.json) {
      process.stdout.write(`${JSON.stringify({
        frame: f.seq, time_s: Number((f.time / 1000).toFixed(3)),
        tracks: tracks.map((t) => ({ id: t.id, label: t.label, score: Number(t.score.toFixed(3)), box: t.box.map((v) => Math.round(v)), missed: t.missed })),
        ...(events.length ? { events: events.map((e) => ({ track: e.trackId, line: e.line, direction: e.direction, count: e.count })) } : {}),
      })}\n`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (o.json) return;
  const rows = [...summaries.values()].sort((a, b) => a.id - b.id);
  process.stdout.write(`${pc.bold(file)}  ${frames} frames  ${detector.model} + tracker  ${(frames / seconds).toFixed(2)} frames/s\n`);
  process.stdout.write(`${table(['track', 'label', 'frames', 'from s', 'to s', 'start x,y', 'end x,y'],
    rows.map((s) => [s.id, s.label, s.frames, (s.first / 1000).toFixed(1), (s.last / 1000).toFixed(1), s.from.map(Math.round).join(','), s.to.map(Math.round).join(',')]),
    ['r', 'l', 'r', 'r', 'r', 'r', 'r'])}\n`);
  if (monitor) {
    const n = monitor.lineCounts()['line'] ?? 0;
    process.stdout.write(`line ${o.line}: ${n} crossings (left_to_right ${crossings.left_to_right}, right_to_left ${crossings.right_to_left})\n`);
  }
}

function note(m: Map<number, TrackSummary>, t: Track, time: number): void {
  const p = anchorOf(t) as [number, number];
  const s = m.get(t.id);
  if (!s) { m.set(t.id, { id: t.id, label: t.label, frames: 1, first: time, last: time, from: p, to: p }); return; }
  s.frames++;
  s.last = time;
  s.to = p;
}
