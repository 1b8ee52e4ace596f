/**
 * What the dashboard shows, read from the device's data directory and the
 * library: pipelines (their status files, see pipeline/status.ts), the ledger
 * (events, deliveries, what left the device), the zoo and local model files,
 * and bench results, and the fleet store `cloudless fleet` fills (every
 * device's status, health and events, src/fleet/store.ts). Nothing here reads or serves raw sensor data: the data
 * directory holds none (DESIGN.md §3.1).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FleetStore } from '../fleet/store.js';
import { Ledger } from '../pipeline/ledger.js';
import { dataPaths } from '../pipeline/paths.js';
import { readStatuses } from '../pipeline/status.js';
import { ZOO, type ModelManifest } from '../zoo/manifest.js';
import { locateModel, verifyModel, type ModelCheck, type StoreOptions } from '../zoo/store.js';
import { modelInfo, type ModelInfo } from '../cli/info.js';
import { ratesOf } from './charts.js';

export interface DataSources {
  dataDir: string;
  benchDir?: string;
  modelFiles: string[];
  store?: StoreOptions;
}

/** The ledger, opened once it exists (a pipeline creates it on its first run). */
export class LedgerReader {
  private ledger?: Ledger;
  constructor(private readonly file: string) {}
  get(): Ledger | undefined {
    if (!this.ledger && existsSync(this.file)) this.ledger = new Ledger(this.file);
    return this.ledger;
  }
  close(): void { this.ledger?.close(); this.ledger = undefined; }
}

export function ledgerReader(dataDir: string): LedgerReader {
  return new LedgerReader(dataPaths(dataDir).ledger);
}

/** The fleet store, opened once `cloudless fleet` has created it. */
export class FleetReader {
  private store?: FleetStore;
  constructor(readonly file: string) {}
  get(): FleetStore | undefined {
    if (!this.store && existsSync(this.file)) this.store = new FleetStore(this.file);
    return this.store;
  }
  close(): void { this.store?.close(); this.store = undefined; }
}

/** Where `cloudless fleet` keeps its store by default. */
export const fleetStoreOf = (dataDir: string): string => path.join(dataDir, 'fleet-store.sqlite');

export interface FleetDeviceView {
  device: string;
  state: 'online' | 'offline' | 'unknown';
  boot: number;
  lastSeen?: string;
  /** The model the device reports running (health), with the last rollout step when there was one. */
  model?: { name: string; version: number };
  rollout?: { step: string; version: number; running: number; reason?: string; time: string };
  safeState?: boolean;
  decisionsPerSecond?: number;
  pending?: number;
  events: number;
  eventsLastMinute: number;
  healthAt?: string;
}

/**
 * The Fleet page: every device the store knows and its latest events, only
 * what the store holds (no broker is contacted). `store` undefined: no fleet
 * store in this data directory.
 */
export function fleetView(store: FleetStore | undefined, opts: { events?: number; now?: number } = {}) {
  if (!store) return { store: false as const, devices: [] as FleetDeviceView[], events: [] as ReturnType<FleetStore['list']> };
  const now = opts.now ?? Date.now();
  const rates = store.countsSince(now - 60_000);
  const devices: FleetDeviceView[] = store.devices().map((d) => {
    const h = d.health;
    const pipelines = h ? Object.values(h.pipelines) : [];
    return {
      device: d.device, state: d.state, boot: d.boot, events: d.events, eventsLastMinute: rates.get(d.device) ?? 0,
      ...(d.lastSeen ? { lastSeen: d.lastSeen } : {}),
      ...(h?.model ? { model: { name: h.model.name, version: h.model.version } } : {}),
      ...(d.model ? { rollout: { step: d.model.step, version: d.model.version, running: d.model.running, time: d.model.time, ...(d.model.reason ? { reason: d.model.reason } : {}) } } : {}),
      ...(h ? {
        safeState: h.safe_state, healthAt: h.time,
        decisionsPerSecond: Math.round(pipelines.reduce((a, p) => a + p.decisions_per_s, 0) * 100) / 100,
        pending: pipelines.reduce((a, p) => a + p.pending, 0),
      } : {}),
    };
  });
  return { store: true as const, devices, events: store.list({ limit: opts.events ?? 50 }) };
}

export function pipelinesView(dataDir: string, ledger: Ledger | undefined) {
  return readStatuses(dataDir).map((s) => {
    const rates = ratesOf(s.history.slice(-11));
    const last = ledger?.search({ pipeline: s.pipeline, limit: 1 })[0];
    return {
      pipeline: s.pipeline,
      state: s.liveness === 'running' ? (s.stats.state === 'safe' ? 'safe state' : s.stats.paused ? 'paused' : 'running') : s.liveness === 'gone' ? 'stopped (no heartbeat)' : 'stopped',
      paused: s.liveness === 'running' && !!s.stats.paused,
      causes: s.stats.causes,
      source: s.source, task: s.task, model: s.model,
      decisionsPerSecond: rates.length ? rates.reduce((a, r) => a + r.v, 0) / rates.length : 0,
      decided: s.stats.framesDecided, dropped: s.stats.framesDropped, missedDeadlines: s.stats.missedDeadlines, framesPaused: s.stats.framesPaused ?? 0,
      events: s.stats.events, pending: s.stats.pending, modelErrors: s.stats.modelErrors,
      startedAt: s.startedAt, updatedAt: s.updatedAt,
      lastEvent: last ? { time: last.time, rule: last.rule, kind: last.kind, label: (last.event as { label?: string }).label } : undefined,
    };
  });
}

export function auditView(ledger: Ledger | undefined) {
  return ledger
    ? { events: ledger.counts(), destinations: ledger.totals(), perDay: ledger.deliveredPerDay(), rawDataSent: 0 }
    : { events: [], destinations: [], perDay: [], rawDataSent: 0 };
}

export interface ModelEntry {
  name: string;
  kind: 'zoo' | 'file';
  task?: string;
  format: string;
  description?: string;
  licence?: string;
  origin?: string;
  available: boolean;
  files: { path: string; sha256?: string; bytes?: number }[];
}

export function modelsView(src: DataSources): ModelEntry[] {
  const zoo: ModelEntry[] = ZOO.map((m) => {
    const located = locateModel(m, src.store);
    return {
      name: m.name, kind: 'zoo', task: m.task, format: m.format, description: m.description, licence: m.licence,
      origin: located?.origin, available: !!located,
      files: m.files.map((f, k) => ({ path: located?.files[k] ?? f.path, sha256: f.sha256, bytes: f.bytes })),
    };
  });
  const local: ModelEntry[] = src.modelFiles.map((f) => ({
    name: path.basename(f), kind: 'file', format: path.extname(f).slice(1) || 'unknown', available: existsSync(f), files: [{ path: f }],
  }));
  return [...zoo, ...local];
}

const infoCache = new Map<string, Promise<ModelInfo>>();

/** `cloudless info` for a zoo model (by name) or a listed local file, computed once. */
export function modelInfoOf(src: DataSources, name: string): Promise<ModelInfo> | undefined {
  const entry = modelsView(src).find((m) => m.name === name && m.available);
  if (!entry) return undefined;
  const file = entry.files[0]!.path;
  let p = infoCache.get(file);
  if (!p) { p = modelInfo(file); infoCache.set(file, p); p.catch(() => infoCache.delete(file)); }
  return p;
}

export function zooManifest(name: string): ModelManifest | undefined {
  return ZOO.find((m) => m.name === name);
}

export async function verifyZooModel(src: DataSources, name: string): Promise<ModelCheck | undefined> {
  const m = zooManifest(name);
  return m ? verifyModel(m, src.store) : undefined;
}

export interface BenchSummary {
  file: string;
  date?: string;
  chart?: string;
  models: { name: string; results: { backend: string; dtype: string; medianMs?: number; p90Ms?: number; pairedRatio?: number; error?: string }[] }[];
}

/** The bench result files (the JSON of `npm run bench`) and the SVG chart written beside each. */
export function benchView(benchDir: string | undefined): BenchSummary[] {
  if (!benchDir || !existsSync(benchDir)) return [];
  const names = readdirSync(benchDir);
  const out: BenchSummary[] = [];
  for (const f of names.filter((n) => n.endsWith('.json')).sort().reverse()) {
    let j: { date?: string; models?: { name: string; results?: Record<string, unknown>[] }[] };
    try { j = JSON.parse(readFileSync(path.join(benchDir, f), 'utf8')); } catch { continue; }
    if (!Array.isArray(j.models)) continue;
    const svg = f.replace(/\.json$/, '.svg');
    out.push({
      file: f, date: j.date, chart: names.includes(svg) ? svg : undefined,
      models: j.models.map((m) => ({
        name: String(m.name),
        results: (m.results ?? []).map((r) => ({
          backend: String(r.backend), dtype: String(r.dtype),
          medianMs: typeof r.medianMs === 'number' ? r.medianMs : undefined,
          p90Ms: typeof r.p90Ms === 'number' ? r.p90Ms : undefined,
          pairedRatio: typeof r.pairedRatio === 'number' ? r.pairedRatio : undefined,
          error: typeof r.error === 'string' ? r.error : undefined,
        })),
      })),
    });
  }
  return out;
}
