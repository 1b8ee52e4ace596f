/**
 * Tracking rules in a pipeline: the detector's findings go through a tracker,
 * and zone / loiter / line / stationary rules on the tracks produce events that
 * carry the track id, zone or line, direction and dwell time — never a picture.
 *
 *   tracking:
 *     labels: [person]                       # optional: track only these
 *     zones:  [{ name: driveway, polygon: [[100, 300], [700, 300], [700, 570], [100, 570]] }]
 *     lines:  [{ name: door, from: [600, 500], to: [600, 260] }]
 *     rules:
 *       - { name: someone-in-driveway, type: zone, zone: driveway, on: enter, actions: [mqtt] }
 *       - { name: lingering, type: loiter, zone: driveway, seconds: 60 }
 *       - { name: door-count, type: line, line: door, direction: left_to_right }
 *       - { name: parked, type: stationary, seconds: 600, max_move: 20, labels: [car] }
 *
 * Points are pixels of the frames the source delivers; with a video source whose
 * width and height are known, points outside the frame are refused at load.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CloudlessError } from '../ir/index.js';
import type { Detection } from '../tasks/vision/detection.js';
import { Tracker } from '../tasks/vision/track.js';
import { type TrackEvent, type TrackRuleSpec, ZoneMonitor, checkLine, checkPolygon } from '../tasks/vision/zones.js';
import type { PipelineEvent, TaskResult } from './types.js';

const name = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only').min(1).max(64);
const point = z.tuple([z.number(), z.number()]);
const labels = z.array(z.string().min(1)).min(1).optional();
const actions = z.array(name).default([]);

const trackRule = z.discriminatedUnion('type', [
  z.object({ name, type: z.literal('zone'), zone: name, on: z.enum(['enter', 'leave', 'both']).default('enter'), labels, actions }).strict(),
  z.object({ name, type: z.literal('loiter'), zone: name, seconds: z.number().positive(), labels, actions }).strict(),
  z.object({ name, type: z.literal('line'), line: name, direction: z.enum(['any', 'left_to_right', 'right_to_left']).default('any'), labels, actions }).strict(),
  z.object({ name, type: z.literal('stationary'), seconds: z.number().positive(), max_move: z.number().positive().default(20), zone: name.optional(), labels, actions }).strict(),
]);

export const trackingSchema = z.object({
  labels,
  tracker: z.object({
    iou: z.number().gt(0).max(1).default(0.3),
    high_score: z.number().min(0).max(1).default(0.4),
    low_score: z.number().min(0).max(1).default(0.15),
    max_missed: z.number().int().min(0).default(30),
    min_hits: z.number().int().min(1).default(3),
  }).strict().default({}),
  zones: z.array(z.object({ name, polygon: z.array(point) }).strict()).default([]),
  lines: z.array(z.object({ name, from: point, to: point }).strict()).default([]),
  rules: z.array(trackRule).min(1),
}).strict();

export type TrackingConfig = z.output<typeof trackingSchema>;

/**
 * Checks what zod cannot: polygon geometry (against the frame when its size is
 * known), duplicate names, and references to zones, lines and actions.
 * `where(path)` names a key path with its line for the error message.
 */
export function checkTracking(t: TrackingConfig, where: (p: (string | number)[]) => string, actionNames: ReadonlySet<string>, frame?: { width: number; height: number }): void {
  const fail = (p: (string | number)[], m: string): never => { throw new CloudlessError('E_CONFIG', `${where(p)}: ${m}`); };
  const unique = (items: readonly { name: string }[], key: string): Set<string> => {
    const s = new Set<string>();
    items.forEach((it, i) => { if (s.has(it.name)) fail(['tracking', key, i, 'name'], `a second ${key.slice(0, -1)} named "${it.name}"`); s.add(it.name); });
    return s;
  };
  const zones = unique(t.zones, 'zones'), lines = unique(t.lines, 'lines');
  unique(t.rules, 'rules');
  t.zones.forEach((z, i) => checkPolygon(z.polygon as [number, number][], where(['tracking', 'zones', i, 'polygon']), frame));
  t.lines.forEach((l, i) => checkLine(l, where(['tracking', 'lines', i]), frame));
  if (t.tracker.low_score > t.tracker.high_score) fail(['tracking', 'tracker', 'low_score'], 'must not exceed high_score');
  t.rules.forEach((r, i) => {
    const zone = 'zone' in r ? r.zone : undefined;
    if (zone !== undefined && !zones.has(zone)) fail(['tracking', 'rules', i, 'zone'], `no zone named "${zone}" (zones: ${[...zones].join(', ') || 'none'})`);
    if (r.type === 'line' && !lines.has(r.line)) fail(['tracking', 'rules', i, 'line'], `no line named "${r.line}" (lines: ${[...lines].join(', ') || 'none'})`);
    r.actions.forEach((a, k) => { if (!actionNames.has(a)) fail(['tracking', 'rules', i, 'actions', k], `no action named "${a}"`); });
  });
}

/** The tracker and the track rules of one pipeline. */
export class TrackingRules {
  private readonly tracker: Tracker;
  private readonly monitor: ZoneMonitor;
  private readonly labels?: Set<string>;
  private readonly actionsOf = new Map<string, readonly string[]>();

  constructor(config: TrackingConfig, private readonly pipeline: string) {
    const k = config.tracker;
    this.tracker = new Tracker({ iouThreshold: k.iou, highScore: k.high_score, lowScore: k.low_score, maxMissed: k.max_missed, minHits: k.min_hits });
    if (config.labels) this.labels = new Set(config.labels);
    for (const r of config.rules) this.actionsOf.set(r.name, r.actions);
    this.monitor = new ZoneMonitor(
      config.zones.map((z) => ({ name: z.name, polygon: z.polygon as [number, number][] })),
      config.lines,
      config.rules as TrackRuleSpec[],
    );
  }

  /** Feeds one frame's findings (boxes only); returns the events and the actions each goes to. */
  evaluate(result: TaskResult, time: number): { event: PipelineEvent; actions: readonly string[] }[] {
    const dets: Detection[] = result.findings
      .filter((f) => f.box && (!this.labels || this.labels.has(f.label)))
      .map((f) => ({ label: f.label, score: f.score, box: f.box!, classId: -1 }));
    const tracks = this.tracker.update(dets, time);
    return this.monitor.update(tracks, time).map((e) => ({ event: this.toEvent(e), actions: this.actionsOf.get(e.rule) ?? [] }));
  }

  private toEvent(e: TrackEvent): PipelineEvent {
    const ev: PipelineEvent = { id: randomUUID(), pipeline: this.pipeline, kind: 'rule', rule: e.rule, time: new Date(e.time).toISOString(), label: e.label, track_id: e.trackId, track_event: e.kind };
    if (e.zone !== undefined) ev.zone = e.zone;
    if (e.line !== undefined) ev.line = e.line;
    if (e.direction !== undefined) ev.direction = e.direction;
    if (e.dwellS !== undefined) ev.dwell_s = Number(e.dwellS.toFixed(2));
    if (e.count !== undefined) ev.count = e.count;
    return ev;
  }
}
