/**
 * Rules turn task results into events. A frame "matches" a rule when its
 * findings pass the label set, score threshold, region of interest and count
 * (or its value / anomaly passes the thresholds); the rule "fires" when enough
 * recent frames matched (n of the last m), it is inside one of its active time
 * windows, and its cooldown has passed. Only the fired rule's summary leaves:
 * label, score, box, count, value, time.
 */
import { randomUUID } from 'node:crypto';
import type { RuleConfig } from './config.js';
import type { Finding, PipelineEvent, TaskResult } from './types.js';

export class Rule {
  private readonly history: boolean[] = [];
  private lastFired = -Infinity;
  private readonly labels?: Set<string>;
  private readonly windows?: [number, number][];

  constructor(readonly config: RuleConfig, private readonly pipeline: string) {
    if (config.labels) this.labels = new Set(config.labels);
    if (config.active) this.windows = config.active.map(parseWindow);
  }

  get name(): string { return this.config.name; }

  /** Findings of one result that pass label, score and region of interest. */
  matchingFindings(result: TaskResult): Finding[] {
    const c = this.config;
    return result.findings.filter((f) => {
      if (this.labels && !this.labels.has(f.label)) return false;
      if (f.score < c.min_score) return false;
      if (c.roi) {
        if (!f.box || !result.width || !result.height) return false;
        const cx = (f.box[0] + f.box[2]) / 2 / result.width;
        const cy = (f.box[1] + f.box[3]) / 2 / result.height;
        if (cx < c.roi[0] || cx > c.roi[2] || cy < c.roi[1] || cy > c.roi[3]) return false;
      }
      return true;
    });
  }

  /** Feeds one frame's result; returns the event when the rule fires. `now` is the frame time (ms since epoch). */
  evaluate(result: TaskResult, now: number): PipelineEvent | undefined {
    const c = this.config;
    const usesFindings = c.labels !== undefined || c.roi !== undefined || c.min_score > 0 ||
      (c.value_above === undefined && c.value_below === undefined && c.anomaly_above === undefined);
    const found = usesFindings ? this.matchingFindings(result) : [];
    let match = !usesFindings || found.length >= c.min_count;
    if (c.value_above !== undefined) match &&= result.value !== undefined && result.value > c.value_above;
    if (c.value_below !== undefined) match &&= result.value !== undefined && result.value < c.value_below;
    if (c.anomaly_above !== undefined) match &&= result.anomaly !== undefined && result.anomaly > c.anomaly_above;
    if (this.windows && !inWindows(this.windows, new Date(now))) match = false;

    const [n, m] = c.n_of_m ?? [1, 1];
    this.history.push(match);
    if (this.history.length > m) this.history.shift();
    const hits = this.history.reduce((s, h) => s + (h ? 1 : 0), 0);
    if (!match || hits < n) return undefined;
    if (now - this.lastFired < c.cooldown_s * 1000) return undefined;
    this.lastFired = now;

    const best = found.reduce<Finding | undefined>((b, f) => (!b || f.score > b.score ? f : b), undefined);
    const event: PipelineEvent = { id: randomUUID(), pipeline: this.pipeline, kind: 'rule', rule: c.name, time: new Date(now).toISOString() };
    if (best) {
      event.label = best.label;
      event.score = round(best.score, 4);
      if (best.box) event.box = best.box.map((v) => Math.round(v)) as PipelineEvent['box'];
      event.count = found.length;
    }
    const usesValue = c.value_above !== undefined || c.value_below !== undefined || c.anomaly_above !== undefined;
    if (usesValue && result.value !== undefined) event.value = round(result.value, 4);
    return event;
  }
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

function parseWindow(w: string): [number, number] {
  const [a, b] = w.split('-') as [string, string];
  const mins = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
  return [mins(a), mins(b)];
}

/** Local time inside any window; a window whose end is before its start wraps over midnight. */
export function inWindows(windows: readonly [number, number][], d: Date): boolean {
  const t = d.getHours() * 60 + d.getMinutes();
  return windows.some(([s, e]) => (s <= e ? t >= s && t < e : t >= s || t < e));
}

/** Runs every rule of a pipeline on each result. */
export class RuleSet {
  readonly rules: Rule[];
  constructor(configs: readonly RuleConfig[], pipeline: string) {
    this.rules = configs.map((c) => new Rule(c, pipeline));
  }

  evaluate(result: TaskResult, now: number): { rule: Rule; event: PipelineEvent }[] {
    const out: { rule: Rule; event: PipelineEvent }[] = [];
    for (const rule of this.rules) {
      const event = rule.evaluate(result, now);
      if (event) out.push({ rule, event });
    }
    return out;
  }
}
