/**
 * Rules on tracks: zones (polygons a track enters and leaves), loitering (in a
 * zone longer than N seconds), line crossings counted by direction, and
 * stationary objects. A track's position is the bottom centre of its box, where
 * a person or a car touches the ground (as Frigate places objects in zones).
 *
 * The monitor sees only track ids, labels, boxes and times; the events it emits
 * carry the track id, the zone or line, a direction and a dwell time, never a
 * picture.
 */
import { CloudlessError } from '../../ir/index.js';
import type { Track } from './track.js';

export type Point = readonly [number, number];

export interface ZoneSpec { name: string; polygon: readonly Point[] }
export interface LineSpec { name: string; from: Point; to: Point }

export type TrackRuleSpec =
  | { name: string; type: 'zone'; zone: string; on: 'enter' | 'leave' | 'both'; labels?: readonly string[] }
  | { name: string; type: 'loiter'; zone: string; seconds: number; labels?: readonly string[] }
  | { name: string; type: 'line'; line: string; direction: 'any' | 'left_to_right' | 'right_to_left'; labels?: readonly string[] }
  | { name: string; type: 'stationary'; seconds: number; max_move: number; zone?: string; labels?: readonly string[] };

export interface TrackEvent {
  rule: string;
  kind: 'enter' | 'leave' | 'loiter' | 'line' | 'stationary';
  trackId: number;
  label: string;
  zone?: string;
  line?: string;
  /** For line crossings: as seen walking from the line's `from` to its `to`. */
  direction?: 'left_to_right' | 'right_to_left';
  /** Seconds in the zone (enter: 0; leave, loiter: so far) or standing still (stationary). */
  dwellS?: number;
  /** For line rules: crossings so far in the rule's direction(s). */
  count?: number;
  time: number;
}

/** The point a track stands on: bottom centre of its box. */
export const anchorOf = (t: Pick<Track, 'box'>): Point => [(t.box[0] + t.box[2]) / 2, t.box[3]];

/** Even-odd point in polygon. */
export function insidePolygon(p: Point, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!, [xj, yj] = poly[j]!;
    if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Whether segments ab and cd cross at a point inside both (touching at an end counts). */
export function segmentsIntersect(a: Point, b: Point, c: Point, d: Point): boolean {
  const d1 = cross(c, d, a), d2 = cross(c, d, b), d3 = cross(a, b, c), d4 = cross(a, b, d);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  const on = (p: Point, q: Point, r: Point): boolean =>
    cross(p, q, r) === 0 && Math.min(p[0], q[0]) <= r[0] && r[0] <= Math.max(p[0], q[0]) && Math.min(p[1], q[1]) <= r[1] && r[1] <= Math.max(p[1], q[1]);
  return on(c, d, a) || on(c, d, b) || on(a, b, c) || on(a, b, d);
}

/**
 * Checks a zone polygon: at least 3 points, inside the frame (when its size is
 * known), non-zero area, and no two non-adjacent edges crossing. `key` names the
 * config key in errors.
 */
export function checkPolygon(poly: readonly Point[], key: string, frame?: { width: number; height: number }): void {
  const bad = (m: string, hint?: string): never => { throw new CloudlessError('E_CONFIG', `${key}: ${m}`, hint ? { hint } : {}); };
  if (poly.length < 3) bad(`a zone polygon needs at least 3 points, got ${poly.length}`);
  poly.forEach((p, i) => {
    if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) bad(`point ${i} is not a pair of finite numbers`);
    if (frame && (p[0] < 0 || p[1] < 0 || p[0] > frame.width || p[1] > frame.height)) {
      bad(`point ${i} (${p[0]}, ${p[1]}) lies outside the ${frame.width}x${frame.height} frame`, 'zone points are in pixels of the frame the source delivers (source width and height)');
    }
  });
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // Adjacent edges share a vertex; skip them (edge 0 and edge n-1 are adjacent too).
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (segmentsIntersect(poly[i]!, poly[(i + 1) % n]!, poly[j]!, poly[(j + 1) % n]!)) {
        bad(`the polygon intersects itself (edge ${i}-${(i + 1) % n} crosses edge ${j}-${(j + 1) % n})`, 'list the points in order around the zone, clockwise or anticlockwise');
      }
    }
  }
  let area2 = 0;
  for (let i = 0; i < poly.length; i++) {
    const a = poly[i]!, b = poly[(i + 1) % poly.length]!;
    area2 += a[0] * b[1] - b[0] * a[1];
  }
  if (area2 === 0) bad('the polygon has no area (its points are on one line)');
}

export function checkLine(l: LineSpec, key: string, frame?: { width: number; height: number }): void {
  for (const [which, p] of [['from', l.from], ['to', l.to]] as const) {
    if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) throw new CloudlessError('E_CONFIG', `${key}.${which}: not a pair of finite numbers`);
    if (frame && (p[0] < 0 || p[1] < 0 || p[0] > frame.width || p[1] > frame.height)) {
      throw new CloudlessError('E_CONFIG', `${key}.${which}: (${p[0]}, ${p[1]}) lies outside the ${frame.width}x${frame.height} frame`);
    }
  }
  if (l.from[0] === l.to[0] && l.from[1] === l.to[1]) throw new CloudlessError('E_CONFIG', `${key}: from and to are the same point`);
}

interface TrackMemory {
  label: string;
  last: Point;
  lastTime: number;
  /** zone name → entry time, for zones the track is in. */
  inZone: Map<string, number>;
  /** Rules that already fired for this visit / standstill. */
  fired: Set<string>;
  /** Recent positions for the stationary rule. */
  trail: { p: Point; t: number }[];
}

export class ZoneMonitor {
  private readonly zones = new Map<string, ZoneSpec>();
  private readonly lines = new Map<string, LineSpec>();
  private readonly memory = new Map<number, TrackMemory>();
  private readonly counts = new Map<string, number>();
  private readonly longestStill: number;

  constructor(zones: readonly ZoneSpec[], lines: readonly LineSpec[], private readonly rules: readonly TrackRuleSpec[]) {
    for (const z of zones) this.zones.set(z.name, z);
    for (const l of lines) this.lines.set(l.name, l);
    for (const r of rules) {
      if ((r.type === 'zone' || r.type === 'loiter' || (r.type === 'stationary' && r.zone)) && !this.zones.has((r as { zone: string }).zone)) {
        throw new CloudlessError('E_CONFIG', `track rule ${r.name}: no zone named "${(r as { zone: string }).zone}" (zones: ${[...this.zones.keys()].join(', ') || 'none'})`);
      }
      if (r.type === 'line' && !this.lines.has(r.line)) {
        throw new CloudlessError('E_CONFIG', `track rule ${r.name}: no line named "${r.line}" (lines: ${[...this.lines.keys()].join(', ') || 'none'})`);
      }
    }
    this.longestStill = Math.max(0, ...rules.map((r) => (r.type === 'stationary' ? r.seconds : 0)));
  }

  /** Crossings counted so far per line rule. */
  lineCounts(): Record<string, number> { return Object.fromEntries(this.counts); }

  /** Feeds the tracks of one frame (time in ms); tracks that are gone leave their zones. */
  update(tracks: readonly Track[], time: number): TrackEvent[] {
    const events: TrackEvent[] = [];
    const seen = new Set<number>();
    for (const t of tracks) {
      // A track the tracker is coasting on (missed) is not moved: its box is only a prediction.
      if (t.missed > 0) { seen.add(t.id); continue; }
      seen.add(t.id);
      const p = anchorOf(t);
      let m = this.memory.get(t.id);
      if (!m) {
        m = { label: t.label, last: p, lastTime: time, inZone: new Map(), fired: new Set(), trail: [] };
        this.memory.set(t.id, m);
      } else {
        this.crossings(t.id, m, p, time, events);
      }
      for (const z of this.zones.values()) {
        const now = insidePolygon(p, z.polygon);
        const entered = m.inZone.get(z.name);
        if (now && entered === undefined) {
          m.inZone.set(z.name, time);
          this.emit(events, 'enter', t.id, m, time, { zone: z.name, dwellS: 0 });
        } else if (!now && entered !== undefined) {
          this.leave(events, t.id, m, z.name, time);
        }
      }
      for (const r of this.rules) {
        if (!this.applies(r, m.label)) continue;
        if (r.type === 'loiter') {
          const since = m.inZone.get(r.zone);
          const key = `${r.name}@${since}`;
          if (since !== undefined && time - since > r.seconds * 1000 && !m.fired.has(key)) {
            m.fired.add(key);
            events.push({ rule: r.name, kind: 'loiter', trackId: t.id, label: m.label, zone: r.zone, dwellS: (time - since) / 1000, time });
          }
        }
      }
      m.trail.push({ p, t: time });
      while (m.trail.length > 1 && time - m.trail[1]!.t >= this.longestStill * 1000) m.trail.shift();
      this.stationary(t.id, m, p, time, events);
      m.last = p;
      m.lastTime = time;
    }
    for (const [id, m] of this.memory) {
      if (seen.has(id)) continue;
      for (const zone of [...m.inZone.keys()]) this.leave(events, id, m, zone, time);
      this.memory.delete(id);
    }
    return events;
  }

  private applies(r: TrackRuleSpec, label: string): boolean {
    return !r.labels || r.labels.includes(label);
  }

  private emit(events: TrackEvent[], kind: 'enter' | 'leave', id: number, m: TrackMemory, time: number, extra: { zone: string; dwellS: number }): void {
    for (const r of this.rules) {
      if (r.type !== 'zone' || r.zone !== extra.zone || !this.applies(r, m.label)) continue;
      if (r.on === 'both' || r.on === kind) events.push({ rule: r.name, kind, trackId: id, label: m.label, ...extra, time });
    }
  }

  private leave(events: TrackEvent[], id: number, m: TrackMemory, zone: string, time: number): void {
    const since = m.inZone.get(zone)!;
    m.inZone.delete(zone);
    this.emit(events, 'leave', id, m, time, { zone, dwellS: (time - since) / 1000 });
  }

  private crossings(id: number, m: TrackMemory, p: Point, time: number, events: TrackEvent[]): void {
    for (const r of this.rules) {
      if (r.type !== 'line' || !this.applies(r, m.label)) continue;
      const l = this.lines.get(r.line)!;
      const before = cross(l.from, l.to, m.last), after = cross(l.from, l.to, p);
      // A crossing: strictly from one side to the other, through the segment itself.
      if (!(before !== 0 && after !== 0 && Math.sign(before) !== Math.sign(after))) continue;
      if (!segmentsIntersect(m.last, p, l.from, l.to)) continue;
      // Image y points down: cross > 0 is to the right when walking from `from` to `to`.
      const direction = after > 0 ? 'left_to_right' : 'right_to_left';
      if (r.direction !== 'any' && r.direction !== direction) continue;
      const count = (this.counts.get(r.name) ?? 0) + 1;
      this.counts.set(r.name, count);
      events.push({ rule: r.name, kind: 'line', trackId: id, label: m.label, line: r.line, direction, count, time });
    }
  }

  private stationary(id: number, m: TrackMemory, p: Point, time: number, events: TrackEvent[]): void {
    for (const r of this.rules) {
      if (r.type !== 'stationary' || !this.applies(r, m.label)) continue;
      if (r.zone && !m.inZone.has(r.zone)) continue;
      const span = time - m.trail[0]!.t;
      const moved = m.trail.some((q) => Math.hypot(q.p[0] - p[0], q.p[1] - p[1]) > r.max_move);
      const key = `still:${r.name}`;
      if (moved) { m.fired.delete(key); continue; }
      if (span >= r.seconds * 1000 && !m.fired.has(key)) {
        m.fired.add(key);
        events.push({ rule: r.name, kind: 'stationary', trackId: id, label: m.label, ...(r.zone ? { zone: r.zone } : {}), dwellS: span / 1000, time });
      }
    }
  }
}
