/**
 * `cloudless dashboard`: a local web page set over the device's data directory
 * (pipelines, events, what left the device, models, bench results), the
 * fleet store when this machine runs `cloudless fleet` (the Fleet page), and a page
 * that runs detection inside the browser. It serves only what the library can
 * read and derived data; there is no upload endpoint and no endpoint that
 * serves a frame.
 *
 * Security, in order of what a request meets:
 *   1. Bind: loopback by default; any other address only with a password set
 *      (`cloudless dashboard passwd`), else startDashboard refuses.
 *   2. Host header: on loopback only the loopback names are accepted (a DNS
 *      rebinding page cannot talk to it).
 *   3. Login: on loopback everything is readable without one; on another
 *      address every page and API needs the session cookie (HttpOnly,
 *      SameSite=Strict). Actions always need it.
 *   4. State-changing requests (POST) must be same-origin (Origin and
 *      Sec-Fetch-Site), JSON, and, past the login itself, carry the session's
 *      CSRF token in `x-csrf-token`. Logins are rate-limited per address.
 *   5. Every response carries a strict Content-Security-Policy: scripts,
 *      styles, images, wasm and fetches from the page's own origin only;
 *      and COOP/COEP, so the pages are cross-origin isolated.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CloudlessError } from '../ir/index.js';
import { readStatuses } from '../pipeline/status.js';
import { writeControl } from '../pipeline/control.js';
import { locateModel } from '../zoo/store.js';
import {
  LoginLimiter, SessionStore, checkPassword, isLoopback, readPasswordRecord, sameToken, type PasswordRecord,
} from './auth.js';
import { ratesOf, timeChartSvg } from './charts.js';
import {
  FleetReader, auditView, benchView, fleetStoreOf, fleetView, ledgerReader, modelInfoOf, modelsView, pipelinesView, verifyZooModel, zooManifest, type DataSources,
} from './data.js';

export const DEFAULT_PORT = 8750;
export const DEFAULT_HOST = '127.0.0.1';
const COOKIE = 'cloudless_session';

export const CSP = [
  "default-src 'self'", "connect-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'",
  "img-src 'self' blob: data:", "media-src 'self' blob: mediastream:", "worker-src 'self'", "object-src 'none'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

export interface DashboardOptions {
  dataDir: string;
  host?: string;
  port?: number;
  /** The scrypt password file (default <dataDir>/dashboard-password.json). */
  passwordFile?: string;
  /** bench/results of the project, when present. */
  benchDir?: string;
  /** Local model files to list beside the zoo. */
  modelFiles?: string[];
  /** The bundled pages and engine (default dist/dashboard, built by scripts/build-browser.mjs). */
  assetsDir?: string;
  store?: DataSources['store'];
  /** The fleet store `cloudless fleet` writes (default <dataDir>/fleet-store.sqlite), for the Fleet page. */
  fleetStore?: string;
  /** Milliseconds between looks at the ledger for new events (default 250). */
  pollMs?: number;
}

export interface RunningDashboard {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export function passwordFileOf(dataDir: string): string {
  return path.join(dataDir, 'dashboard-password.json');
}

/** dist/dashboard from the built server (dist/server/) or from the sources (src/server/). */
function defaultAssetsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '../dashboard'), path.join(here, '../../dist/dashboard')];
  return candidates.find((d) => existsSync(path.join(d, 'dashboard.js'))) ?? candidates[0]!;
}

const PAGES: Record<string, string> = {
  '/': 'Overview', '/events': 'Events', '/audit': 'Audit', '/models': 'Models', '/bench': 'Bench', '/fleet': 'Fleet', '/try': 'Try it', '/login': 'Log in',
};

function shell(page: string, title: string): string {
  const nav = Object.entries(PAGES).filter(([p]) => p !== '/login')
    .map(([p, t]) => `<a href="${p}"${PAGES[page] === t ? ' aria-current="page"' : ''}>${t}</a>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cloudless · ${title}</title><link rel="stylesheet" href="/assets/dashboard.css"><link rel="icon" href="data:,"></head>
<body data-page="${page}"><header><strong>cloudless</strong><nav>${nav}</nav><span id="who"></span></header>
<main id="main"><h1>${title}</h1><div id="content">loading…</div></main>
<script type="module" src="/assets/dashboard.js"></script></body></html>`;
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : Date.parse(v) || undefined;
}

/** Builds the app (not listening): the checks of startDashboard apply to what it binds. */
export function buildDashboard(opts: DashboardOptions & { requireLoginToRead: boolean; password?: PasswordRecord; allowedHosts?: Set<string> }): FastifyInstance {
  const assets = opts.assetsDir ?? defaultAssetsDir();
  const src: DataSources = { dataDir: opts.dataDir, benchDir: opts.benchDir, modelFiles: opts.modelFiles ?? [], store: opts.store };
  const ledgers = ledgerReader(opts.dataDir);
  const fleet = new FleetReader(opts.fleetStore ?? fleetStoreOf(opts.dataDir));
  const sessions = new SessionStore();
  const limiter = new LoginLimiter();
  const app = Fastify({ logger: false, bodyLimit: 4096, trustProxy: false });
  const streams = new Set<() => void>();

  const sessionOf = (req: FastifyRequest) => sessions.get(cookieOf(req, COOKIE));

  app.addHook('onRequest', async (req, reply) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    // With COOP, this makes the pages cross-origin isolated: the Try page's engine may share its memory with Web Workers (threads).
    reply.header('cross-origin-embedder-policy', 'require-corp');
    reply.header('cache-control', 'no-store');
    if (opts.allowedHosts && opts.allowedHosts.size > 0 && !opts.allowedHosts.has(String(req.headers.host ?? '').toLowerCase())) {
      return reply.code(421).type('text/plain').send('unknown Host: the dashboard answers only to the address it was started on');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      const site = req.headers['sec-fetch-site'];
      const own = `http://${req.headers.host}`;
      if ((origin !== undefined && origin !== own) || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
        return reply.code(403).send({ error: 'cross-site request refused' });
      }
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
        return reply.code(415).send({ error: 'state-changing requests must be JSON' });
      }
    }
    const url = req.url.split('?')[0]!;
    const open = url === '/login' || url.startsWith('/assets/') || url === '/api/session' || url === '/api/login';
    if (opts.requireLoginToRead && !open && !sessionOf(req)) {
      if (req.method === 'GET' && !url.startsWith('/api/')) return reply.redirect('/login');
      return reply.code(401).send({ error: 'log in first' });
    }
  });

  /** Actions: a session and its CSRF token. */
  const requireAction = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const s = sessionOf(req);
    if (!opts.password) { void reply.code(403).send({ error: 'actions need a dashboard password: run `cloudless dashboard passwd`' }); return false; }
    if (!s) { void reply.code(401).send({ error: 'log in first' }); return false; }
    if (!sameToken(req.headers['x-csrf-token'] as string | undefined, s.csrf)) { void reply.code(403).send({ error: 'missing or wrong CSRF token' }); return false; }
    return true;
  };

  for (const [p, t] of Object.entries(PAGES)) app.get(p, async (_req, reply) => reply.type('text/html; charset=utf-8').send(shell(p, t)));

  const ASSET_TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.map': 'application/json' };
  app.get('/assets/:file', async (req, reply) => {
    const file = (req.params as { file: string }).file;
    const type = ASSET_TYPES[path.extname(file)];
    if (!/^[\w.-]+$/.test(file) || !type || !existsSync(path.join(assets, file))) return reply.code(404).send({ error: 'not found' });
    return reply.type(type).header('cache-control', 'no-cache').send(readFileSync(path.join(assets, file)));
  });

  // Model files for the Try page (the zoo's detectors only, verified paths from the manifest).
  app.get('/models/:name/:file', async (req, reply) => {
    const { name, file } = req.params as { name: string; file: string };
    const m = zooManifest(name);
    const located = m && m.task === 'detect' ? locateModel(m, src.store) : undefined;
    const k = located ? m!.files.findIndex((f) => path.basename(f.path) === file) : -1;
    if (!located || k < 0) return reply.code(404).send({ error: `no detector file ${name}/${file} here` });
    return reply.type(file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(readFileSync(located.files[k]!));
  });

  app.get('/api/session', async (req) => {
    const s = sessionOf(req);
    return { loggedIn: !!s, passwordSet: !!opts.password, loginToRead: opts.requireLoginToRead, csrf: s?.csrf };
  });

  app.post('/api/login', async (req, reply) => {
    const client = req.ip;
    const wait = limiter.retryAfter(client);
    if (wait > 0) return reply.code(429).header('retry-after', Math.ceil(wait / 1000)).send({ error: `too many wrong passwords: try again in ${Math.ceil(wait / 1000)} s` });
    if (!opts.password) return reply.code(403).send({ error: 'no dashboard password is set: run `cloudless dashboard passwd`' });
    const pw = (req.body as { password?: unknown } | undefined)?.password;
    if (typeof pw !== 'string' || pw.length > 1024 || !(await checkPassword(opts.password, pw))) {
      limiter.failed(client);
      return reply.code(401).send({ error: 'wrong password' });
    }
    limiter.succeeded(client);
    const { token, session } = sessions.create();
    reply.header('set-cookie', `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200`);
    return { loggedIn: true, csrf: session.csrf };
  });

  app.post('/api/logout', async (req, reply) => {
    if (!requireAction(req, reply)) return;
    sessions.delete(cookieOf(req, COOKIE));
    reply.header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return { loggedIn: false };
  });

  app.get('/api/pipelines', async () => pipelinesView(opts.dataDir, ledgers.get()));

  app.get('/api/events', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const ledger = ledgers.get();
    if (!ledger) return { events: [], lastSeq: 0 };
    return {
      events: ledger.search({ rule: q.rule || undefined, label: q.label || undefined, pipeline: q.pipeline || undefined, since: num(q.since), until: num(q.until), limit: num(q.limit) ?? 200 }),
      lastSeq: ledger.lastSeq(),
    };
  });

  app.get('/api/audit', async () => auditView(ledgers.get()));
  app.get('/api/fleet', async () => fleetView(fleet.get()));
  app.get('/api/models', async () => modelsView(src));
  app.get('/api/models/:name/info', async (req, reply) => {
    const p = modelInfoOf(src, (req.params as { name: string }).name);
    if (!p) return reply.code(404).send({ error: 'no such model here' });
    try { return await p; } catch (err) { return reply.code(422).send({ error: (err as Error).message }); }
  });
  app.post('/api/models/:name/verify', async (req, reply) => {
    if (!requireAction(req, reply)) return;
    const check = await verifyZooModel(src, (req.params as { name: string }).name);
    return check ?? reply.code(404).send({ error: 'not a zoo model' });
  });

  // Pause and resume: the pipeline reads control/<name>.json once a second (src/pipeline/control.ts).
  for (const action of ['pause', 'resume'] as const) {
    app.post(`/api/pipelines/:name/${action}`, async (req, reply) => {
      if (!requireAction(req, reply)) return;
      const name = (req.params as { name: string }).name;
      if (!readStatuses(opts.dataDir).some((s) => s.pipeline === name)) return reply.code(404).send({ error: `no pipeline named ${name} has run with this data directory` });
      writeControl(opts.dataDir, name, { paused: action === 'pause', by: 'dashboard', at: new Date().toISOString() });
      return { ok: true, pipeline: name, paused: action === 'pause' };
    });
  }

  app.get('/api/bench', async () => benchView(opts.benchDir));
  app.get('/bench/:file', async (req, reply) => {
    const file = (req.params as { file: string }).file;
    const dir = opts.benchDir;
    if (!dir || !/^[\w.-]+\.svg$/.test(file) || !existsSync(path.join(dir, file))) return reply.code(404).send({ error: 'not found' });
    return reply.type('image/svg+xml').send(readFileSync(path.join(dir, file)));
  });

  app.get('/charts/decisions.svg', async (req, reply) => {
    const name = (req.query as { pipeline?: string }).pipeline;
    const s = readStatuses(opts.dataDir).find((x) => x.pipeline === name);
    const pts = s ? ratesOf(s.history) : [];
    return reply.type('image/svg+xml').send(timeChartSvg(pts, { title: `${name ?? '?'}: decisions per second`, unit: 'decisions/s', kind: 'line', to: Date.now(), from: Date.now() - 10 * 60_000 }));
  });
  app.get('/charts/events.svg', async (_req, reply) => {
    const now = Date.now();
    const bucket = 60_000;
    const pts = ledgers.get()?.eventsOverTime(now - 60 * bucket, bucket).map((p) => ({ t: p.t, v: p.events })) ?? [];
    return reply.type('image/svg+xml').send(timeChartSvg(pts, { title: 'events per minute, last hour', unit: 'events', kind: 'bars', bucketMs: bucket, from: now - 60 * bucket, to: now }));
  });

  // Live view: pipeline status once a second, new ledger rows as they arrive.
  app.get('/api/stream', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' });
    let seq = ledgers.get()?.lastSeq() ?? 0;
    const send = (type: string, data: unknown) => res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    send('pipelines', pipelinesView(opts.dataDir, ledgers.get()));
    const f0 = fleet.get();
    if (f0) send('fleet', fleetView(f0));
    let ticks = 0;
    const pollMs = opts.pollMs ?? 250;
    const timer = setInterval(() => {
      try {
        const ledger = ledgers.get();
        if (ledger) {
          const rows = ledger.search({ afterSeq: seq, limit: 500 });
          for (const r of rows) { send('event', r); seq = r.seq; }
        }
        if (++ticks % Math.max(1, Math.round(1000 / pollMs)) === 0) {
          send('pipelines', pipelinesView(opts.dataDir, ledger));
          const f = fleet.get();
          if (f) send('fleet', fleetView(f));
        }
      } catch (err) {
        send('problem', { error: (err as Error).message });
      }
    }, pollMs);
    const stop = () => { clearInterval(timer); streams.delete(stop); res.end(); };
    streams.add(stop);
    req.raw.on('close', stop);
  });

  app.addHook('onClose', async () => {
    for (const s of [...streams]) s();
    ledgers.close();
    fleet.close();
  });
  return app;
}

/** Checks the address and the password, then listens. */
export async function startDashboard(opts: DashboardOptions): Promise<RunningDashboard> {
  const host = opts.host ?? DEFAULT_HOST;
  const port = opts.port ?? DEFAULT_PORT;
  const password = readPasswordRecord(opts.passwordFile ?? passwordFileOf(opts.dataDir));
  const loopback = isLoopback(host);
  if (!loopback && !password) {
    throw new CloudlessError('E_CONFIG', `refusing to serve the dashboard on ${host}: a non-loopback address needs a password, and none is set`, {
      hint: 'run `cloudless dashboard passwd` first, or keep the default --host 127.0.0.1',
    });
  }
  if (!existsSync(path.join(opts.assetsDir ?? defaultAssetsDir(), 'dashboard.js'))) {
    throw new CloudlessError('E_FILE', `the dashboard pages are not built (${opts.assetsDir ?? defaultAssetsDir()})`, { hint: 'run `npm run build`' });
  }
  // Filled once the port is known (port 0 picks one); empty means no check (another address: the login guards it).
  const allowedHosts = new Set<string>();
  const app = buildDashboard({ ...opts, requireLoginToRead: !loopback, password, allowedHosts });
  const url = await app.listen({ host, port });
  const bound = (app.server.address() as { port: number }).port;
  if (loopback) for (const h of ['127.0.0.1', 'localhost', '[::1]', host.toLowerCase()]) allowedHosts.add(`${h}:${bound}`);
  return { app, url, close: () => app.close() };
}
