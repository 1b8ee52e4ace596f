/**
 * Run inside a network namespace that has only loopback (test/browser/netns.test.ts starts it
 * with `unshare --net`): serves the dashboard on 127.0.0.1, opens every page in Chromium, runs
 * the Try-it detection on a photo, and prints one JSON line with what happened. Also shows that
 * the namespace really has no way out (a connection to a public address fails at once).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startDashboard } from '../../src/server/dashboard.js';
import { repoRoot } from '../helpers/data.js';
import { CHROMIUM, CHROMIUM_ARGS, type RecordedRequest } from './harness.js';

const PAGES = ['/', '/events', '/audit', '/models', '/bench', '/login', '/try'];

async function outsideReachable(): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '192.0.2.1', port: 80, timeout: 3000 });
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('timeout', () => { s.destroy(); resolve('timeout'); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function main(): Promise<void> {
  const photo = process.argv[2]!;
  const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-netns-'));
  const { buildDashboardPages } = await import(path.join(repoRoot, 'scripts/build-browser.mjs'));
  await buildDashboardPages(path.join(dir, 'assets'));
  const dash = await startDashboard({ dataDir: path.join(dir, 'data'), port: 0, assetsDir: path.join(dir, 'assets'), benchDir: path.join(repoRoot, 'bench/results') });
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = context.pages()[0] ?? await context.newPage();
  const requests: RecordedRequest[] = [];
  const failed: string[] = [];
  page.on('request', (r) => { requests.push({ url: r.url(), method: r.method(), bodyBytes: r.postDataBuffer()?.length ?? 0 }); });
  // Leaving a page aborts what it still had in flight (its live event stream, a chart being
  // refreshed): ERR_ABORTED is the navigation, not the network. Every other failure counts.
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    if (why !== 'net::ERR_ABORTED') failed.push(`${r.url()}: ${why}`);
  });
  const ready: Record<string, boolean> = {};
  let detections = -1;
  try {
    for (const p of PAGES) {
      await page.goto(`${dash.url}${p}`);
      ready[p] = await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 }).then(() => true, () => false);
    }
    await page.waitForSelector('#try-status:has-text("ready")', { timeout: 60_000 });
    await page.setInputFiles('#picture', photo);
    await page.waitForSelector('#try-status[data-count]', { timeout: 60_000 });
    detections = await page.locator('#detections tbody tr').count();
  } finally {
    await context.close();
    await dash.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const origin = new URL(dash.url).origin;
  const offOrigin = requests.filter((r) => new URL(r.url).origin !== origin && !/^(data|blob):/.test(r.url)).map((r) => r.url);
  process.stdout.write(`${JSON.stringify({ outside: await outsideReachable(), ready, detections, requests: requests.length, offOrigin, failed })}\n`);
}

main().then(() => process.exit(0), (err) => { process.stderr.write(`${(err as Error).stack}\n`); process.exit(1); });
