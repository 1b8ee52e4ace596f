/** Tracking in pipelines: YAML keys validated with errors naming the key and line; track rules give events with track id, zone, dwell time and nothing else. */
import { describe, expect, it } from 'vitest';
import { parsePipelineYaml } from '../../src/pipeline/config.js';
import { toEventJson } from '../../src/pipeline/privacy.js';
import { TrackingRules } from '../../src/pipeline/tracking.js';
import type { TaskResult } from '../../src/pipeline/types.js';

const yaml = (zone: string, extra = '') => `name: driveway
source:
  type: video
  input: cam.avi
  width: 768
  height: 576
task:
  type: detector
  model: centernet
rules: []
tracking:
  labels: [person]
  zones:
    - name: drive
      polygon: ${zone}
  lines:
    - name: door
      from: [600, 500]
      to: [600, 260]
  rules:
    - { name: entered, type: zone, zone: drive, on: both }
    - { name: lingering, type: loiter, zone: drive, seconds: 2 }
    - { name: door-count, type: line, line: door }
${extra}safe_state:
  description: nothing to do
`;
const SQUARE = '[[100, 100], [500, 100], [500, 500], [100, 500]]';

describe('tracking config', () => {
  it('parses zones, lines and track rules with defaults', () => {
    const c = parsePipelineYaml(yaml(SQUARE), 'p.yaml');
    expect(c.tracking!.tracker).toEqual({ iou: 0.3, high_score: 0.4, low_score: 0.15, max_missed: 30, min_hits: 3 });
    expect(c.tracking!.rules[2]).toMatchObject({ type: 'line', direction: 'any' });
  });

  it('a self-intersecting polygon, a point outside the frame, a missing zone: errors name the key and line', () => {
    expect(() => parsePipelineYaml(yaml('[[100, 100], [500, 500], [500, 100], [100, 450]]'), 'p.yaml'))
      .toThrow(/p\.yaml: tracking\.zones\[0\]\.polygon \(line 15\): the polygon intersects itself/);
    expect(() => parsePipelineYaml(yaml('[[100, 100], [900, 100], [500, 500]]'), 'p.yaml'))
      .toThrow(/tracking\.zones\[0\]\.polygon \(line 15\): point 1 \(900, 100\) lies outside the 768x576 frame/);
    expect(() => parsePipelineYaml(yaml(SQUARE).replace('zone: drive, seconds', 'zone: yard, seconds'), 'p.yaml'))
      .toThrow(/tracking\.rules\[1\]\.zone \(line 22\): no zone named "yard" \(zones: drive\)/);
    expect(() => parsePipelineYaml(yaml(SQUARE).replace('type: line, line: door', 'type: line, line: door, actions: [nowhere]'), 'p.yaml'))
      .toThrow(/tracking\.rules\[2\]\.actions\[0\].*no action named "nowhere"/);
    expect(() => parsePipelineYaml(yaml(SQUARE).replace('type: loiter, zone: drive, seconds: 2', 'type: loiter, zone: drive, seconds: -1'), 'p.yaml'))
      .toThrow(/tracking\.rules\[1\]\.seconds/);
  });

  it('a pipeline with neither rules nor tracking rules is refused', () => {
    const text = yaml(SQUARE).replace(/tracking:[\s\S]*?safe_state/, 'safe_state');
    expect(() => parsePipelineYaml(text, 'p.yaml')).toThrow(/at least one rule/);
  });
});

describe('TrackingRules', () => {
  it('a person walking into the zone, staying, and out through the door line: events carry track, zone, dwell, direction', () => {
    const c = parsePipelineYaml(yaml(SQUARE), 'p.yaml');
    const t = new TrackingRules(c.tracking!, 'driveway');
    const events = [];
    for (let f = 0; f < 60; f++) {
      // Walks right along y = 300 (feet at 340) at 10 px per 100 ms frame, from x = 50 to x = 640.
      const x = 50 + f * 10;
      const r: TaskResult = { width: 768, height: 576, findings: [{ label: 'person', score: 0.9, box: [x - 15, 260, x + 15, 340] }, { label: 'cat', score: 0.9, box: [10, 10, 30, 30] }] };
      for (const e of t.evaluate(r, Date.UTC(2024, 0, 1) + f * 100)) events.push(e.event);
    }
    expect(events.map((e) => [e.rule, e.track_event, e.track_id, e.zone ?? e.line, e.direction ?? null])).toEqual([
      ['entered', 'enter', 1, 'drive', null],
      ['lingering', 'loiter', 1, 'drive', null],
      ['entered', 'leave', 1, 'drive', null],
      ['door-count', 'line', 1, 'door', 'left_to_right'],
    ]);
    expect(events[1]!.dwell_s).toBeGreaterThan(2);
    expect(events[2]!.dwell_s).toBeCloseTo(4, 0);
    for (const e of events) {
      const json = JSON.parse(toEventJson(e)) as Record<string, unknown>;
      expect(Object.keys(json).every((k) => ['id', 'pipeline', 'kind', 'rule', 'time', 'label', 'count', 'track_id', 'track_event', 'zone', 'line', 'direction', 'dwell_s'].includes(k))).toBe(true);
    }
  });
});
