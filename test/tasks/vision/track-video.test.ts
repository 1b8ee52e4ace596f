/**
 * Tracking end to end on a 2.5 s segment of opencv's vtest.avi (11.5 s to 14 s):
 * CenterNet on every frame (ffmpeg, none dropped), the tracker, a counting line at
 * x = 600 (y 260..500, drawn upwards). Counted by hand from 2 fps crops (see the
 * README): one man crosses left to right at ~12.7 s, one woman right to left at ~13.0 s.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVideoFrames } from '../../../src/pipeline/sources/video-frames.js';
import { createDetector } from '../../../src/tasks/vision/detector.js';
import { Tracker } from '../../../src/tasks/vision/track.js';
import { type TrackEvent, ZoneMonitor } from '../../../src/tasks/vision/zones.js';
import { opencvPhotosDir } from '../../helpers/data.js';

const dir = opencvPhotosDir();
if (!dir) console.warn('skipping vtest tracking: opencv-doc vtest.avi not found (npm run setup-data)');

describe.skipIf(!dir)('tracking people on vtest.avi', () => {
  it('counts the two crossings of 11.5-14 s, one each way, by two different tracks', async () => {
    const tracker = new Tracker();
    const detector = await createDetector('centernet', { threshold: tracker.lowScore });
    const monitor = new ZoneMonitor([], [{ name: 'door', from: [600, 500], to: [600, 260] }], [{ name: 'count', type: 'line', line: 'door', direction: 'any' }]);
    const events: TrackEvent[] = [];
    let frames = 0;
    for await (const f of readVideoFrames(join(dir!, 'vtest.avi'), { startS: 11.5, durationS: 2.5 })) {
      const r = await detector.detect({ data: f.data, width: f.width, height: f.height, channels: 3 });
      const tracks = tracker.update(r.detections.filter((d) => d.label === 'person'), f.time);
      events.push(...monitor.update(tracks, f.time));
      frames++;
    }
    expect(frames).toBe(25);
    expect(events.map((e) => e.direction).sort()).toEqual(['left_to_right', 'right_to_left']);
    expect(events[0]!.trackId).not.toBe(events[1]!.trackId);
  }, 120_000);
});
