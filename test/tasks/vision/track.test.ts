/** Tracker (Kalman + greedy IoU + ByteTrack second pass) and the zone/line/loiter/stationary rules, on synthetic tracks with known answers. */
import { describe, expect, it } from 'vitest';
import type { Box, Detection } from '../../../src/tasks/vision/detection.js';
import { type Track, Tracker } from '../../../src/tasks/vision/track.js';
import { ZoneMonitor, checkLine, checkPolygon, insidePolygon } from '../../../src/tasks/vision/zones.js';

const det = (label: string, box: Box, score = 0.9): Detection => ({ label, score, box, classId: 0 });
const boxAt = (cx: number, cy: number, w = 40, h = 80): Box => [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];

describe('Tracker', () => {
  it('two people walking past each other keep their ids; a 5-frame occlusion does not break a track', () => {
    const tr = new Tracker();
    const idsA = new Set<number>(), idsB = new Set<number>();
    for (let f = 0; f < 60; f++) {
      const a = det('person', boxAt(100 + 5 * f, 200));
      const b = det('person', boxAt(400 - 5 * f, 260)); // 60 px lower: the boxes overlap little when they pass
      const hidden = f >= 30 && f < 35; // B is hidden for 5 frames (just after they have passed)
      const tracks = tr.update(hidden ? [a] : [a, b], f * 100);
      for (const t of tracks) {
        if (t.missed) continue;
        const cx = (t.box[0] + t.box[2]) / 2, cy = (t.box[1] + t.box[3]) / 2;
        if (Math.abs(cx - (100 + 5 * f)) < 15 && Math.abs(cy - 200) < 15) idsA.add(t.id);
        else if (Math.abs(cx - (400 - 5 * f)) < 15 && Math.abs(cy - 260) < 15) idsB.add(t.id);
        else throw new Error(`frame ${f}: a track at ${cx}, ${cy} belongs to neither`);
      }
    }
    expect([...idsA]).toHaveLength(1);
    expect([...idsB]).toHaveLength(1);
    expect(idsA).not.toEqual(idsB);
  });

  it('the Kalman velocity converges to the motion; a coasting track moves on its prediction', () => {
    const tr = new Tracker({ maxMissed: 3 });
    let last: Track[] = [];
    for (let f = 0; f < 20; f++) last = tr.update([det('car', boxAt(10 + 7 * f, 50 + 3 * f, 60, 30))], f);
    expect(last[0]!.velocity[0]).toBeCloseTo(7, 0);
    expect(last[0]!.velocity[1]).toBeCloseTo(3, 0);
    const coast = tr.update([], 20)[0]!;
    expect(coast.missed).toBe(1);
    expect((coast.box[0] + coast.box[2]) / 2).toBeCloseTo(10 + 7 * 20, -1);
    for (let f = 21; f <= 24; f++) last = tr.update([], f);
    expect(last).toEqual([]); // dropped after maxMissed
  });

  it('is reported only after minHits; low-score boxes extend a track (ByteTrack) but never start one; labels never mix', () => {
    const tr = new Tracker({ minHits: 3, highScore: 0.5, lowScore: 0.1 });
    expect(tr.update([det('person', boxAt(50, 50))], 0)).toEqual([]);
    expect(tr.update([det('person', boxAt(52, 50))], 1)).toEqual([]);
    const t3 = tr.update([det('person', boxAt(54, 50))], 2);
    expect(t3).toHaveLength(1);
    const id = t3[0]!.id;
    // Half hidden: the detector is unsure, the track goes on.
    const t4 = tr.update([det('person', boxAt(56, 50), 0.2), det('person', boxAt(300, 300), 0.2)], 3);
    expect(t4.map((t) => [t.id, t.missed])).toEqual([[id, 0]]);
    // A dog on the same spot is not the person.
    const t5 = tr.update([det('dog', boxAt(58, 50))], 4);
    expect(t5.map((t) => [t.id, t.missed])).toEqual([[id, 1]]);
    expect(() => new Tracker({ lowScore: 0.6, highScore: 0.5 })).toThrow(/lowScore <= highScore/);
  });
});

const track = (id: number, x: number, y: number, label = 'person'): Track =>
  ({ id, label, box: [x - 10, y - 40, x + 10, y], score: 0.9, hits: 5, missed: 0, firstSeen: 0, lastSeen: 0, velocity: [0, 0] });

describe('zones, lines, loitering, stationary', () => {
  const square = [[100, 100], [300, 100], [300, 300], [100, 300]] as const;

  it('polygon checks name the key: self-intersecting, outside the frame, too few points', () => {
    expect(insidePolygon([200, 200], square)).toBe(true);
    expect(insidePolygon([50, 200], square)).toBe(false);
    expect(() => checkPolygon([[0, 0], [100, 100], [100, 0], [0, 150]], 'tracking.zones[0].polygon'))
      .toThrow(/tracking\.zones\[0\]\.polygon: the polygon intersects itself \(edge 0-1 crosses edge 2-3\)/);
    expect(() => checkPolygon([[0, 0], [900, 0], [900, 100]], 'tracking.zones[1].polygon', { width: 768, height: 576 }))
      .toThrow(/zones\[1\]\.polygon: point 1 \(900, 0\) lies outside the 768x576 frame/);
    expect(() => checkPolygon([[0, 0], [1, 1]], 'z')).toThrow(/at least 3 points/);
    expect(() => checkPolygon([[0, 0], [1, 1], [2, 2]], 'z')).toThrow(/no area/);
    expect(() => checkLine({ name: 'l', from: [5, 5], to: [5, 5] }, 'tracking.lines[0]')).toThrow(/same point/);
    checkPolygon(square, 'ok', { width: 768, height: 576 });
  });

  it('enter and leave with dwell time; a track that disappears leaves; loiter fires once per visit after N s', () => {
    const m = new ZoneMonitor([{ name: 'drive', polygon: square }], [], [
      { name: 'in-out', type: 'zone', zone: 'drive', on: 'both' },
      { name: 'loiter', type: 'loiter', zone: 'drive', seconds: 10 },
    ]);
    expect(m.update([track(1, 50, 200)], 0)).toEqual([]);
    expect(m.update([track(1, 150, 200)], 1000)).toEqual([{ rule: 'in-out', kind: 'enter', trackId: 1, label: 'person', zone: 'drive', dwellS: 0, time: 1000 }]);
    expect(m.update([track(1, 160, 200)], 11_000)).toEqual([]);
    expect(m.update([track(1, 170, 200)], 11_500)).toEqual([{ rule: 'loiter', kind: 'loiter', trackId: 1, label: 'person', zone: 'drive', dwellS: 10.5, time: 11_500 }]);
    expect(m.update([track(1, 175, 200)], 12_000)).toEqual([]);
    expect(m.update([], 13_000)).toEqual([{ rule: 'in-out', kind: 'leave', trackId: 1, label: 'person', zone: 'drive', dwellS: 12, time: 13_000 }]);
  });

  it('line crossings are counted by direction, only through the segment, per label', () => {
    // A vertical line drawn upwards: walking from (600,500) to (600,260), image-right is on the walker's right.
    const m = new ZoneMonitor([], [{ name: 'door', from: [600, 500], to: [600, 260] }], [
      { name: 'any', type: 'line', line: 'door', direction: 'any', labels: ['person'] },
      { name: 'ltr', type: 'line', line: 'door', direction: 'left_to_right' },
    ]);
    const ev = [
      ...m.update([track(1, 590, 300), track(2, 620, 400), track(3, 590, 100), track(4, 590, 300, 'car')], 0),
      ...m.update([track(1, 610, 300), track(2, 580, 400), track(3, 610, 100), track(4, 610, 300, 'car')], 100),
    ];
    expect(ev.map((e) => [e.rule, e.trackId, e.direction])).toEqual([
      ['any', 1, 'left_to_right'], ['ltr', 1, 'left_to_right'], ['any', 2, 'right_to_left'], ['ltr', 4, 'left_to_right'],
    ]);
    expect(m.lineCounts()).toEqual({ any: 2, ltr: 2 });
  });

  it('stationary: fires once after N s within max_move, again only after it moved', () => {
    const m = new ZoneMonitor([], [], [{ name: 'parked', type: 'stationary', seconds: 5, max_move: 10 }]);
    const fired: number[] = [];
    for (let t = 0; t <= 20; t++) {
      const x = t < 12 ? 100 + (t % 2) * 3 : t < 14 ? 100 + (t - 11) * 50 : 200; // jitter, drive off, park again
      for (const _ of m.update([track(7, x, 300, 'car')], t * 1000)) fired.push(t);
    }
    expect(fired).toEqual([5, 18]); // parked at 200 from t=13
  });

  it('refuses rules naming a zone or line that does not exist', () => {
    expect(() => new ZoneMonitor([], [], [{ name: 'r', type: 'zone', zone: 'yard', on: 'enter' }])).toThrow(/track rule r: no zone named "yard"/);
    expect(() => new ZoneMonitor([], [], [{ name: 'r', type: 'line', line: 'gate', direction: 'any' }])).toThrow(/no line named "gate"/);
  });
});
