/**
 * The device's model rollout: two slots (a, b) under <data>/fleet/slots, the
 * running one and the one a new model is loaded into. For each signed manifest
 * on the group topic, in order, each step stopping at the first refusal:
 *
 *   1. size, JSON and schema                        (oversized, malformed)
 *   2. group, signatures from k pinned keys          (wrong-group, bad-signature, unknown-key, too-few-signatures)
 *   3. version above every version accepted before   (replayed-version) — persisted, so no clock is needed
 *   4. expiry, only when the device's clock is trusted (expired)
 *   5. hash(device_id, model, version) under the percentage, else 'skipped'
 *   6. the URL's host on the allow-list, download with a size cap, size and sha256
 *                                                   (not-allowed, too-large, download-failed, tampered-model)
 *   7. load into the idle slot, run the self-test   (load-failed, self-test-failed)
 *   8. switch the pipeline's task between two frames; the version is now accepted
 *   9. watch health for grace_s: a model error, a missed deadline or the safe
 *      state rolls back to the previous slot       (health-drop)
 *
 * The device keeps running its current model through every refusal. Each step
 * is published on model/state and written to the ledger as a 'model' event.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CloudlessError } from '../ir/index.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { checkAllowed, safeText } from '../pipeline/privacy.js';
import type { Task } from '../pipeline/types.js';
import type { FleetDevice } from './device.js';
import {
  type Manifest, ManifestRefused, parseRolloutMessage, publicKeyOf, resultDigest, selectedForRollout, selfTestFrame, sha256, verifyManifest,
} from './manifest.js';
import type { ModelStateMessage } from './messages.js';
import { fleetDir, writeDurable, type SlotState } from './state.js';

export interface RolloutOptions {
  dataDir: string;
  baseDir?: string;
  /** Builds a task for a model file (for a YAML pipeline: its task config with `model` replaced). */
  loadTask: (file: string) => Promise<Task>;
  /** Hosts the device may fetch models from (the pipeline's allow-list). */
  allow: readonly string[];
  /** The model the device runs before any rollout (version 0). */
  baseModel: { name: string; sha256?: string };
  /** Time source for expiry checks (tests). */
  now?: () => number;
  /** How often health is sampled during the grace period (ms). */
  watchEveryMs?: number;
}

export class RolloutAgent {
  private chain: Promise<void> = Promise.resolve();
  private readonly failed = new Set<string>();
  private readonly keys;
  /** Outcome of each manifest handled, for tests and the CLI. */
  readonly history: ModelStateMessage[] = [];

  constructor(private readonly device: FleetDevice, private readonly pipeline: Pipeline, private readonly opts: RolloutOptions) {
    const r = device.config.rollout;
    if (!r) throw new CloudlessError('E_CONFIG', 'fleet.rollout: not configured, so this device takes no rollouts');
    const baseDir = opts.baseDir ?? process.cwd();
    this.keys = r.keys.map((k, i) => {
      const pem = k.includes('-----BEGIN') ? k : (() => {
        try { return readFileSync(path.resolve(baseDir, k), 'utf8'); } catch (err) {
          throw new CloudlessError('E_FILE', `fleet.rollout.keys[${i}]: cannot read ${k}: ${(err as Error).message}`);
        }
      })();
      return publicKeyOf(pem);
    });
  }

  /** The model running now, for health. */
  running(): { name: string; version: number; sha256?: string } {
    const s = this.device.state.get();
    const slot = s.active ? s.slots[s.active] : undefined;
    return slot ? { name: slot.model, version: slot.version, sha256: slot.sha256 } : { name: this.opts.baseModel.name, version: 0, ...(this.opts.baseModel.sha256 ? { sha256: this.opts.baseModel.sha256 } : {}) };
  }

  /** Queues a rollout message; rollouts run one at a time, in arrival order. Never throws. */
  handle(payload: Uint8Array): Promise<void> {
    const bytes = new Uint8Array(payload);
    this.chain = this.chain.then(() => this.run(bytes)).catch(() => undefined);
    return this.chain;
  }

  /** Waits for every queued rollout to finish. */
  idle(): Promise<void> { return this.chain; }

  private report(step: ModelStateMessage['step'], m: { model: string; version: number } | undefined, reason?: string): void {
    const running = this.running();
    const msg: ModelStateMessage = {
      step, model: m?.model ?? running.name, version: m?.version ?? 0, time: new Date().toISOString(), running: running.version,
      ...(reason ? { reason: safeText(reason) } : {}),
    };
    this.history.push(msg);
    this.device.publishModelState(msg);
    this.pipeline.recordEvent({
      id: randomUUID(), pipeline: this.pipeline.config.name, kind: 'model', rule: 'model_rollout', time: msg.time,
      label: step, value: msg.version, ...(reason ? { causes: [safeText(reason)] } : {}),
    });
    this.pipeline.log.info(`model rollout: ${step}`, { model: msg.model, version: msg.version, ...(reason ? { reason: msg.reason } : {}) });
  }

  private async run(bytes: Uint8Array): Promise<void> {
    let manifest: Manifest | undefined;
    try {
      const msg = parseRolloutMessage(bytes);
      manifest = msg.manifest;
      const m = manifest;
      const cfg = this.device.config;
      const r = cfg.rollout!;
      const state = this.device.state.get();
      // The retained manifest of the model we run already comes back at every reconnect: nothing to do.
      if (m.version === this.running().version && m.model === this.running().name && m.version > 0) return;
      const key = `${m.model}\0${m.version}\0${m.sha256}`;
      if (this.failed.has(key)) return;
      if (m.group !== cfg.group) throw new ManifestRefused('wrong-group', `manifest is for group ${m.group}, this device is in ${cfg.group}`);
      verifyManifest(m, this.keys, r.threshold);
      if (m.version <= state.highestVersion) throw new ManifestRefused('replayed-version', `version ${m.version} is not above ${state.highestVersion}, the highest this device accepted`);
      if (r.trusted_clock && m.expires && Date.parse(m.expires) <= (this.opts.now ?? Date.now)()) throw new ManifestRefused('expired', `manifest expired at ${m.expires}`);
      const pct = Math.min(m.pct, msg.pct);
      if (!selectedForRollout(cfg.device_id, m, pct)) { this.report('skipped', m, `not among the ${pct} % this rollout reaches`); return; }
      this.report('received', m);
      try { checkAllowed(m.url, this.opts.allow, 'manifest url'); } catch (err) { throw new ManifestRefused('not-allowed', (err as Error).message); }
      if (m.size > r.max_model_bytes) throw new ManifestRefused('too-large', `model of ${m.size} bytes is over this device's ${r.max_model_bytes}-byte limit`);
      this.report('downloading', m);
      const data = await download(m.url, m.size, r.max_model_bytes);
      if (data.length !== m.size || sha256(data) !== m.sha256) {
        this.failed.add(key);
        throw new ManifestRefused('tampered-model', `downloaded ${data.length} bytes with sha256 ${sha256(data).slice(0, 16)}…, the manifest says ${m.size} bytes, ${m.sha256.slice(0, 16)}…`);
      }
      this.report('verified', m);
      await this.install(m, data, key);
    } catch (err) {
      const reason = err instanceof ManifestRefused ? err.message : `failed: ${safeText(err)}`;
      this.report(err instanceof ManifestRefused ? 'refused' : 'failed', manifest, reason);
    }
  }

  private async install(m: Manifest, data: Uint8Array, key: string): Promise<void> {
    const state = this.device.state.get();
    const idle: 'a' | 'b' = state.active === 'a' ? 'b' : 'a';
    const dir = path.join(fleetDir(this.opts.dataDir), 'slots', idle);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, path.basename(new URL(m.url).pathname) || m.model);
    writeDurable(file, data);
    let task: Task;
    try { task = await this.opts.loadTask(file); } catch (err) {
      this.failed.add(key);
      throw new ManifestRefused('load-failed', `the model does not load: ${safeText(err)}`);
    }
    try {
      const out = await task.run(selfTestFrame(m.self_test));
      const got = resultDigest(out);
      if (got !== m.self_test.output_sha256) throw new ManifestRefused('self-test-failed', `self-test result sha256 ${got.slice(0, 16)}… is not the signed ${m.self_test.output_sha256.slice(0, 16)}…`);
    } catch (err) {
      await task.close?.();
      this.failed.add(key);
      if (err instanceof ManifestRefused) throw err;
      throw new ManifestRefused('self-test-failed', `the model threw on its self-test input: ${safeText(err)}`);
    }
    this.report('self-test', m);
    const before = this.pipeline.stats();
    const slot: SlotState = { model: m.model, version: m.version, sha256: m.sha256, file };
    const previousActive = state.active;
    // Accepted from here on: the version can never be installed again, whatever the grace period says.
    this.device.state.update((s) => { s.slots[idle] = slot; s.active = idle; s.highestVersion = Math.max(s.highestVersion, m.version); });
    const prev = await this.pipeline.swapTask(task);
    this.report('switched', m);
    const bad = await this.watch(before, this.device.config.rollout!.grace_s * 1000);
    if (bad) {
      await this.pipeline.swapTask(prev);
      await task.close?.();
      this.device.state.update((s) => { s.active = previousActive; });
      this.failed.add(key);
      this.report('rolled-back', m, `health-drop: ${bad}`);
      return;
    }
    await prev.close?.();
    this.report('accepted', m);
    this.device.publishHealth();
  }

  /** Samples the pipeline's counters for the grace period; returns why the new model is unhealthy, or undefined. */
  private async watch(before: ReturnType<Pipeline['stats']>, ms: number): Promise<string | undefined> {
    const end = Date.now() + ms;
    const every = this.opts.watchEveryMs ?? 100;
    for (;;) {
      const s = this.pipeline.stats();
      if (s.modelErrors > before.modelErrors) return `${s.modelErrors - before.modelErrors} model error(s) since the switch`;
      if (s.missedDeadlines > before.missedDeadlines + 0 && s.causes.some((c) => c.startsWith('deadline'))) return 'missed deadlines since the switch';
      if (s.state === 'safe' && before.state !== 'safe') return `pipeline entered its safe state (${s.causes.join(', ')})`;
      if (Date.now() >= end) return undefined;
      await new Promise((r) => setTimeout(r, Math.min(every, Math.max(1, end - Date.now()))));
    }
  }
}

/** Fetches a model with a size cap: more bytes than expected (or than the device's limit) aborts the download. */
export async function download(url: string, expected: number, limit: number): Promise<Uint8Array> {
  const cap = Math.min(expected, limit);
  let res: Response;
  try { res = await fetch(url, { signal: AbortSignal.timeout(120_000), redirect: 'error' }); } catch (err) {
    throw new ManifestRefused('download-failed', `${safeText(url)}: ${safeText(err)}`);
  }
  if (!res.ok || !res.body) throw new ManifestRefused('download-failed', `${safeText(url)} answered HTTP ${res.status}`);
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > cap) {
      await reader.cancel();
      throw new ManifestRefused('tampered-model', `${safeText(url)} sent more than the ${cap} bytes the manifest names`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
