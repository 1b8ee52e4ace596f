/** readVideoFrames on opencv's vtest.avi through the Debian ffmpeg: every frame, in order, and clear errors for broken files. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeVideo, readVideoFrames } from '../../../src/pipeline/sources/video-frames.js';
import { opencvPhotosDir } from '../../helpers/data.js';

const dir = opencvPhotosDir();
const vtest = dir ? join(dir, 'vtest.avi') : undefined;
if (!vtest) console.warn('skipping video tests: opencv-doc vtest.avi not found (npm run setup-data)');

describe.skipIf(!vtest)('readVideoFrames', () => {
  it('probes 768x576 at 10 fps and yields the first second as 10 frames with video times', async () => {
    expect(await probeVideo(vtest!)).toEqual({ width: 768, height: 576, fps: 10 });
    const seen: { seq: number; time: number; bytes: number; mean: number }[] = [];
    for await (const f of readVideoFrames(vtest!, { durationS: 1 })) {
      let s = 0;
      for (let i = 0; i < f.data.length; i += 97) s += f.data[i]!;
      seen.push({ seq: f.seq, time: f.time, bytes: f.data.length, mean: s / (f.data.length / 97) });
    }
    expect(seen.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen.map((f) => f.time)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    for (const f of seen) {
      expect(f.bytes).toBe(768 * 576 * 3);
      expect(f.mean).toBeGreaterThan(40); // a real picture, not zeros
    }
  });

  it('a file cut mid-stream yields its good frames, then an error naming the file and the last good frame', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cloudless-video-'));
    const cut = join(tmp, 'cut.avi');
    writeFileSync(cut, readFileSync(vtest!).subarray(0, 600_000));
    let frames = 0;
    await expect((async () => { for await (const _ of readVideoFrames(cut)) frames++; })())
      .rejects.toThrow(new RegExp(`video ${cut.replace(/[.\\/]/g, '\\$&')}: broken after frame \\d+`));
    expect(frames).toBeGreaterThan(10);
  });

  it('a missing file and a file that is not a video are named', async () => {
    await expect(probeVideo('/nonexistent/clip.avi')).rejects.toThrow(/video \/nonexistent\/clip\.avi: file not found/);
    const tmp = mkdtempSync(join(tmpdir(), 'cloudless-video-'));
    const txt = join(tmp, 'notes.avi');
    writeFileSync(txt, 'not a video at all\n');
    await expect(probeVideo(txt)).rejects.toThrow(/notes\.avi: no readable video stream/);
  });
});
