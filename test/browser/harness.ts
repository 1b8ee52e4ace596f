/**
 * A real browser for the browser tests: the bundle built into a temporary
 * folder, served with the test's files by fastify on 127.0.0.1, and Debian's
 * Chromium driven by playwright-core. Every request the page makes is
 * recorded so that a test can show that nothing went anywhere but the page's
 * own origin, and nothing carried a body.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/data.js';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumMissing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (Debian package chromium)`;

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export interface RecordedRequest { url: string; method: string; bodyBytes: number }

export interface BrowserHarness {
  origin: string;
  page: Page;
  context: BrowserContext;
  requests: RecordedRequest[];
  /** Serves `bytes` at `urlPath` (e.g. /models/x.tflite) from now on. */
  serve(urlPath: string, bytes: Uint8Array, type?: string): void;
  close(): Promise<void>;
}

const TEST_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>cloudless browser test</title></head>
<body><script type="module">
import * as cl from '/cloudless.js';
window.cl = cl;
window.clReady = cl.initWasm();
</script></body></html>`;

export interface StartOptions {
  /**
   * Serve every response with Cross-Origin-Opener-Policy: same-origin and
   * Cross-Origin-Embedder-Policy: require-corp, so the page is cross-origin
   * isolated (SharedArrayBuffer, the shared-memory kernels, the thread pool).
   */
  isolated?: boolean;
}

/** Builds the bundle, starts the server and a browser with one page on the test page. */
export async function startBrowser(extraArgs: string[] = [], options: StartOptions = {}): Promise<BrowserHarness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-browser-'));
  const { buildBrowser } = await import(path.join(repoRoot, 'scripts/build-browser.mjs'));
  await buildBrowser(path.join(dir, 'bundle'));
  const files = new Map<string, { bytes: Uint8Array; type: string }>();
  const serve = (urlPath: string, bytes: Uint8Array, type = 'application/octet-stream') => { files.set(urlPath, { bytes, type }); };
  serve('/cloudless.js', readFileSync(path.join(dir, 'bundle/cloudless.js')), 'text/javascript');
  serve('/kernels.wasm', readFileSync(path.join(dir, 'bundle/kernels.wasm')), 'application/wasm');
  // Chromium validates relaxed SIMD, so initWasm() fetches this build: the tests run the page on it.
  serve('/kernels-relaxed.wasm', readFileSync(path.join(dir, 'bundle/kernels-relaxed.wasm')), 'application/wasm');
  // The shared-memory builds and the thread pool's worker, which a cross-origin isolated page loads.
  for (const f of ['kernels-threads.wasm', 'kernels-relaxed-threads.wasm']) serve(`/${f}`, readFileSync(path.join(dir, 'bundle', f)), 'application/wasm');
  serve('/cloudless-pool-worker.js', readFileSync(path.join(dir, 'bundle/cloudless-pool-worker.js')), 'text/javascript');
  serve('/', new TextEncoder().encode(TEST_PAGE), 'text/html');

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 1 });
  app.get('/*', async (req, reply) => {
    const f = files.get(req.url.split('?')[0]!);
    if (!f) return reply.code(404).send('not found');
    if (options.isolated) reply.header('cross-origin-opener-policy', 'same-origin').header('cross-origin-embedder-policy', 'require-corp');
    return reply.type(f.type).header('cache-control', 'no-store').send(Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength));
  });
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });

  // A fresh profile each time (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  const page = context.pages()[0] ?? await context.newPage();
  const requests: RecordedRequest[] = [];
  page.on('request', (r) => { requests.push({ url: r.url(), method: r.method(), bodyBytes: r.postDataBuffer()?.length ?? 0 }); });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => (globalThis as unknown as { clReady?: unknown }).clReady !== undefined);
  if (errors.length) throw new Error(`the test page failed: ${errors.join('; ')}`);
  return {
    origin, page, context, requests, serve,
    async close() {
      await context.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Requests that went anywhere but `origin`, or carried a body. */
export function leakingRequests(h: BrowserHarness): RecordedRequest[] {
  return h.requests.filter((r) => new URL(r.url).origin !== h.origin || r.method !== 'GET' || r.bodyBytes > 0);
}
