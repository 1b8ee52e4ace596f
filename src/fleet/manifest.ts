/**
 * Signed model manifests. A manifest names one model file by sha256 and size,
 * a monotonic version, where devices fetch it, which group takes it and what
 * share of it, an optional expiry, and a self-test (an input frame and the
 * sha256 of the result the model must give on it). It is signed with Ed25519
 * (node:crypto) over its canonical JSON: keys sorted at every level, no
 * whitespace, so signer and device hash the same bytes whatever order a JSON
 * writer used. Several signatures from distinct keys give k-of-n signing.
 *
 * Private signing keys live in the secret store (AES-256-GCM under the device
 * key, src/pipeline/secrets.ts) as PKCS#8 PEM; only the public key is written
 * in the clear.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CloudlessError } from '../ir/index.js';
import type { SecretStore } from '../pipeline/secrets.js';
import type { Frame, TaskResult } from '../pipeline/types.js';

export const MANIFEST_FORMAT = 'cloudless-model-manifest/1';
/** Largest manifest (or rollout message) a device reads; the self-test input is the bulk of it. */
export const MAX_MANIFEST_BYTES = 256 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits');

export const selfTestSchema = z.object({
  input: z.object({
    kind: z.enum(['image', 'video', 'audio', 'sensor']),
    /** The frame's bytes, base64 (a synthetic or published test input, never a capture from the field). */
    data: z.string().max(200 * 1024),
    width: z.number().int().positive().optional(),
    height: z.number().int().positive().optional(),
    sample_rate: z.number().int().positive().optional(),
  }).strict(),
  /** sha256 of the canonical JSON of the task's result on the input. */
  output_sha256: sha256Hex,
}).strict();

export const unsignedManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  model: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'letters, digits, "_", "-" or "."'),
  version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  sha256: sha256Hex,
  size: z.number().int().positive(),
  url: z.string().url().max(2048),
  group: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  /** The largest share of the group (0 to 100 %) the signers allow; a rollout message may ask for less. */
  pct: z.number().min(0).max(100),
  expires: z.string().datetime({ offset: true }).optional(),
  self_test: selfTestSchema,
}).strict();

export const signatureSchema = z.object({ key_id: z.string().regex(/^[0-9a-f]{16}$/), sig: z.string().max(128) }).strict();
export const manifestSchema = unsignedManifestSchema.extend({ signatures: z.array(signatureSchema).min(1).max(16) }).strict();
export type UnsignedManifest = z.infer<typeof unsignedManifestSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/** What `fleet rollout` publishes on the group topic: the signed manifest and the share asked for now. */
export const rolloutMessageSchema = z.object({ manifest: manifestSchema, pct: z.number().min(0).max(100) }).strict();
export type RolloutMessage = z.infer<typeof rolloutMessageSchema>;

/** JSON with keys sorted at every level and no whitespace: the bytes that are signed. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new CloudlessError('E_INPUT', 'canonical JSON cannot hold a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** The digest a self-test compares: sha256 of the result's canonical JSON. */
export const resultDigest = (r: TaskResult): string => sha256(canonicalJson(r));

/** A frame built from a manifest's self-test input. */
export function selfTestFrame(t: Manifest['self_test']): Frame {
  return {
    kind: t.input.kind, seq: 0, time: 0, source: 'self-test', data: new Uint8Array(Buffer.from(t.input.data, 'base64')),
    width: t.input.width, height: t.input.height, sampleRate: t.input.sample_rate,
  };
}

/** First 16 hex digits of the sha256 of the public key's SPKI DER. */
export function keyId(key: KeyObject): string {
  return sha256(key.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

export function publicKeyOf(pem: string): KeyObject {
  try {
    const k = createPublicKey(pem);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`a ${k.asymmetricKeyType} key`);
    return k;
  } catch (err) {
    throw new CloudlessError('E_CONFIG', `not an Ed25519 public key: ${(err as Error).message}`, { hint: 'use the .pub.pem that `cloudless models keygen` wrote' });
  }
}

/** Creates a signing key pair; the private key goes into the secret store under `name`, the public PEM is returned. */
export function generateSigningKey(store: SecretStore, name: string): { publicPem: string; keyId: string } {
  if (store.has(name)) throw new CloudlessError('E_CONFIG', `secret "${name}" exists already; a signing key is never overwritten`, { hint: 'choose another --name, or `cloudless secrets rm` the old one first' });
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  store.set(name, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  return { publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, keyId: keyId(publicKey) };
}

function privateKeyFrom(store: SecretStore, name: string): KeyObject {
  const k = createPrivateKey(store.get(name));
  if (k.asymmetricKeyType !== 'ed25519') throw new CloudlessError('E_CONFIG', `secret "${name}" is not an Ed25519 private key`);
  return k;
}

/** Signs a manifest with the named keys (adding to signatures it has already, for k-of-n signing by several people). */
export function signManifest(m: UnsignedManifest | Manifest, store: SecretStore, keyNames: readonly string[]): Manifest {
  const { signatures: prior = [], ...unsigned } = m as Manifest;
  const body = unsignedManifestSchema.parse(unsigned);
  const bytes = Buffer.from(canonicalJson(body));
  const signatures = [...prior];
  for (const name of keyNames) {
    const priv = privateKeyFrom(store, name);
    const id = keyId(createPublicKey(priv));
    if (signatures.some((s) => s.key_id === id)) continue;
    signatures.push({ key_id: id, sig: sign(null, bytes, priv).toString('base64') });
  }
  return { ...body, signatures };
}

/** Why a manifest was refused: one of these names, and a sentence. */
export type RefusalReason =
  | 'malformed' | 'oversized' | 'bad-signature' | 'unknown-key' | 'too-few-signatures' | 'replayed-version'
  | 'expired' | 'wrong-group' | 'tampered-model' | 'download-failed' | 'not-allowed' | 'too-large' | 'self-test-failed'
  | 'load-failed' | 'health-drop';

export class ManifestRefused extends CloudlessError {
  constructor(readonly reason: RefusalReason, message: string) {
    super('E_MANIFEST', `${reason}: ${message}`);
  }
}

/** Parses a manifest or rollout message from bytes: size, JSON and schema, each refused by name. */
export function parseRolloutMessage(bytes: Uint8Array): RolloutMessage {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ManifestRefused('oversized', `rollout message of ${bytes.length} bytes is over the ${MAX_MANIFEST_BYTES}-byte limit`);
  let json: unknown;
  try { json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')); } catch {
    throw new ManifestRefused('malformed', 'rollout message is not JSON');
  }
  const r = rolloutMessageSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ManifestRefused('malformed', `${i.path.join('.') || '(message)'}: ${i.message}`);
  }
  return r.data;
}

/**
 * Checks the signatures against the pinned keys: `threshold` distinct pinned
 * keys must each have signed the canonical bytes. A signature by a key that is
 * not pinned is ignored, one by a pinned key that does not verify refuses the
 * whole manifest (it was altered after signing).
 */
export function verifyManifest(m: Manifest, pinned: readonly KeyObject[], threshold: number): void {
  const { signatures, ...unsigned } = m;
  const bytes = Buffer.from(canonicalJson(unsigned));
  const byId = new Map(pinned.map((k) => [keyId(k), k]));
  const good = new Set<string>();
  let unknown = 0;
  for (const s of signatures) {
    const key = byId.get(s.key_id);
    if (!key) { unknown++; continue; }
    let ok = false;
    try { ok = verify(null, bytes, key, Buffer.from(s.sig, 'base64')); } catch { ok = false; }
    if (!ok) throw new ManifestRefused('bad-signature', `signature by key ${s.key_id} does not match manifest ${m.model} v${m.version}`);
    good.add(s.key_id);
  }
  if (good.size === 0 && unknown > 0) throw new ManifestRefused('unknown-key', `manifest ${m.model} v${m.version} is signed only by keys this device does not pin (${signatures.map((s) => s.key_id).join(', ')})`);
  if (good.size < threshold) throw new ManifestRefused('too-few-signatures', `manifest ${m.model} v${m.version} has ${good.size} valid signature(s) from pinned keys, ${threshold} needed`);
}

/**
 * Whether a device takes part in a rollout of `pct` percent: the first 8 bytes
 * of sha256(device_id, model, version) as a fraction of 2^64 below pct/100.
 * Deterministic, so the fleet can predict the set, and different per version,
 * so the same devices are not always first.
 */
export function selectedForRollout(deviceId: string, m: Pick<Manifest, 'model' | 'version'>, pct: number): boolean {
  const h = createHash('sha256').update(`${deviceId}\0${m.model}\0${m.version}`).digest();
  const x = Number(h.readBigUInt64BE(0) >> 11n) / 2 ** 53;
  return x < pct / 100;
}

/** An unsigned manifest for model bytes: sha256 and size computed here. */
export function buildManifest(o: {
  model: string; bytes: Uint8Array; version: number; url: string; group?: string; pct?: number; expires?: string;
  selfTest: { frame: Pick<Frame, 'kind' | 'data' | 'width' | 'height' | 'sampleRate'>; outputSha256: string };
}): UnsignedManifest {
  const f = o.selfTest.frame;
  return unsignedManifestSchema.parse({
    format: MANIFEST_FORMAT, model: o.model, version: o.version, sha256: sha256(o.bytes), size: o.bytes.length, url: o.url,
    group: o.group ?? 'default', pct: o.pct ?? 100, ...(o.expires ? { expires: new Date(o.expires).toISOString() } : {}),
    self_test: {
      input: { kind: f.kind, data: Buffer.from(f.data).toString('base64'), ...(f.width ? { width: f.width } : {}), ...(f.height ? { height: f.height } : {}), ...(f.sampleRate ? { sample_rate: f.sampleRate } : {}) },
      output_sha256: o.selfTest.outputSha256,
    },
  });
}
