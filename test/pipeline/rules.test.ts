import { describe, expect, it } from 'vitest';
import { pipelineSchema } from '../../src/pipeline/config.js';
import { Rule, inWindows } from '../../src/pipeline/rules.js';
import type { TaskResult } from '../../src/pipeline/types.js';

const rule = (r: Record<string, unknown>) => new Rule(pipelineSchema.shape.rules.element.parse({ name: 'r', ...r }), 'p');
const cat = (score: number, box?: [number, number, number, number]): TaskResult => ({ width: 100, height: 100, findings: [{ label: 'cat', score, box }] });
const T = Date.parse('2024-05-01T12:00:00Z');

describe('rules', () => {
  it('label set and score threshold', () => {
    const r = rule({ labels: ['cat', 'dog'], min_score: 0.5 });
    expect(r.evaluate(cat(0.4), T)).toBeUndefined();
    const e = r.evaluate(cat(0.81234567, [1.2, 2.6, 50, 60]), T)!;
    expect(e).toMatchObject({ rule: 'r', kind: 'rule', label: 'cat', score: 0.8123, box: [1, 3, 50, 60], count: 1, pipeline: 'p' });
    expect(r.evaluate({ findings: [{ label: 'bird', score: 0.9 }] }, T)).toBeUndefined();
  });

  it('count and region of interest (box centre, fractions of the frame)', () => {
    const r = rule({ labels: ['cat'], min_count: 2, roi: [0.5, 0.5, 1, 1] });
    const two = (a: [number, number, number, number], b: [number, number, number, number]): TaskResult =>
      ({ width: 100, height: 100, findings: [{ label: 'cat', score: 0.9, box: a }, { label: 'cat', score: 0.8, box: b }] });
    expect(r.evaluate(two([60, 60, 80, 80], [0, 0, 20, 20]), T)).toBeUndefined();
    expect(r.evaluate(two([60, 60, 80, 80], [70, 50, 100, 90]), T)).toMatchObject({ count: 2, score: 0.9 });
  });

  it('n of the last m frames', () => {
    const r = rule({ labels: ['cat'], n_of_m: [2, 3] });
    const none: TaskResult = { findings: [] };
    expect(r.evaluate(cat(0.9), T)).toBeUndefined();
    expect(r.evaluate(none, T + 1)).toBeUndefined();
    expect(r.evaluate(cat(0.9), T + 2)).toBeDefined();
    expect(r.evaluate(none, T + 3)).toBeUndefined();
    expect(r.evaluate(none, T + 4)).toBeUndefined();
    expect(r.evaluate(cat(0.9), T + 5)).toBeUndefined();
  });

  it('cooldown', () => {
    const r = rule({ labels: ['cat'], cooldown_s: 10 });
    expect(r.evaluate(cat(0.9), T)).toBeDefined();
    expect(r.evaluate(cat(0.9), T + 9_999)).toBeUndefined();
    expect(r.evaluate(cat(0.9), T + 10_000)).toBeDefined();
  });

  it('time windows, including one over midnight', () => {
    const at = (h: number, m: number) => new Date(2024, 4, 1, h, m);
    expect(inWindows([[22 * 60, 6 * 60]], at(23, 0))).toBe(true);
    expect(inWindows([[22 * 60, 6 * 60]], at(5, 59))).toBe(true);
    expect(inWindows([[22 * 60, 6 * 60]], at(6, 0))).toBe(false);
    const r = rule({ labels: ['cat'], active: ['07:00-08:00'] });
    expect(r.evaluate(cat(0.9), at(7, 30).getTime())).toBeDefined();
    expect(r.evaluate(cat(0.9), at(9, 0).getTime())).toBeUndefined();
  });

  it('value and anomaly thresholds for sensors', () => {
    const hot = rule({ value_above: 30 });
    expect(hot.evaluate({ findings: [], value: 29 }, T)).toBeUndefined();
    expect(hot.evaluate({ findings: [], value: 31.5 }, T)).toMatchObject({ value: 31.5 });
    expect(hot.evaluate({ findings: [], value: 31.5 }, T)!.label).toBeUndefined();
    const odd = rule({ anomaly_above: 3 });
    expect(odd.evaluate({ findings: [], value: 5, anomaly: 1 }, T)).toBeUndefined();
    expect(odd.evaluate({ findings: [], value: 50, anomaly: 9 }, T)).toMatchObject({ value: 50 });
  });
});
