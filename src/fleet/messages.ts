/**
 * The fleet's topics and payloads, one zod schema per message. Both sides
 * parse what they receive with these schemas after a size check, so a
 * malformed or oversized message is refused with a reason and never reaches
 * code that trusts its shape. docs/fleet.md is the reference for users; the
 * schemas here are the truth.
 *
 *   <prefix>/<device>/status        retained, QoS 1: online / offline, boot counter
 *   <prefix>/<device>/health        retained, QoS 1: counters, model, resources
 *   <prefix>/<device>/events        QoS 1, not retained: one ledger event each
 *   <prefix>/<device>/events/ack    QoS 1, not retained: ids the fleet store committed (written by the fleet)
 *   <prefix>/<device>/model/state   retained, QoS 1: the last rollout step
 *   <prefix>/rollout/<group>        retained, QoS 1: a signed manifest (written by the fleet)
 */
import { z } from 'zod';
import { CloudlessError } from '../ir/index.js';
import { MAX_EVENT_BYTES, safeText } from '../pipeline/privacy.js';
import type { PipelineEvent } from '../pipeline/types.js';

export const topics = (prefix: string, device: string) => ({
  status: `${prefix}/${device}/status`,
  health: `${prefix}/${device}/health`,
  events: `${prefix}/${device}/events`,
  eventsAck: `${prefix}/${device}/events/ack`,
  modelState: `${prefix}/${device}/model/state`,
});
export const rolloutTopic = (prefix: string, group: string) => `${prefix}/rollout/${group}`;

/** Largest status, health or model-state message either side accepts. */
export const MAX_FLEET_MESSAGE_BYTES = 8192;

export const statusSchema = z.object({
  state: z.enum(['online', 'offline']),
  /** Incremented at each start of the device and persisted: a will of an older session carries a smaller number. */
  boot: z.number().int().nonnegative(),
  time: z.string().optional(),
}).strict();
export type StatusMessage = z.infer<typeof statusSchema>;

const counters = z.object({
  state: z.enum(['normal', 'safe']),
  causes: z.array(z.string().max(240)).max(32),
  frames_decided: z.number().int().nonnegative(),
  frames_dropped: z.number().int().nonnegative(),
  model_errors: z.number().int().nonnegative(),
  missed_deadlines: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  decisions_per_s: z.number().nonnegative(),
}).strict();

export const healthSchema = z.object({
  boot: z.number().int().nonnegative(),
  time: z.string(),
  uptime_s: z.number().nonnegative(),
  pipelines: z.record(z.string().max(64), counters),
  /** Safe if any pipeline is in its safe state. */
  safe_state: z.boolean(),
  model: z.object({ name: z.string().max(128), version: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/).optional() }).strict().optional(),
  rss_bytes: z.number().int().nonnegative(),
  disk_free_bytes: z.number().int().nonnegative().optional(),
  cpu_temp_c: z.number().optional(),
}).strict();
export type HealthMessage = z.infer<typeof healthSchema>;

export const modelStateSchema = z.object({
  step: z.enum(['received', 'refused', 'skipped', 'downloading', 'verified', 'self-test', 'switched', 'accepted', 'rolled-back', 'failed']),
  model: z.string().max(128),
  version: z.number().int().nonnegative(),
  reason: z.string().max(240).optional(),
  time: z.string(),
  /** The version now running after this step. */
  running: z.number().int().nonnegative(),
}).strict();
export type ModelStateMessage = z.infer<typeof modelStateSchema>;

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]);
/** A ledger event as it travels: the same closed set of fields the privacy guard lets out. */
export const eventSchema = z.object({
  id: z.string().min(1).max(64),
  pipeline: z.string().max(64),
  kind: z.enum(['rule', 'state', 'model']),
  rule: z.string().max(64),
  time: z.string().max(40),
  label: z.string().max(240).optional(),
  score: z.number().optional(),
  box: box.optional(),
  count: z.number().optional(),
  value: z.number().optional(),
  state: z.enum(['safe', 'normal']).optional(),
  causes: z.array(z.string().max(240)).max(32).optional(),
}).strict();

/** Most event ids one acknowledgement carries. */
export const MAX_ACK_IDS = 256;

/**
 * The fleet store's end-to-end acknowledgement: the ids of events it has
 * committed (or already held) for the device whose topic it is sent on.
 */
export const ackSchema = z.object({
  ids: z.array(z.string().min(1).max(64)).min(1).max(MAX_ACK_IDS),
}).strict();
export type AckMessage = z.infer<typeof ackSchema>;

/** Parses a fleet message: size first, then JSON, then the schema; throws E_FLEET_MESSAGE naming the topic and what is wrong. */
export function parseMessage<T>(schema: z.ZodType<T>, topic: string, payload: Uint8Array, maxBytes = MAX_FLEET_MESSAGE_BYTES): T {
  if (payload.length > maxBytes) {
    throw new CloudlessError('E_FLEET_MESSAGE', `${safeText(topic)}: message of ${payload.length} bytes is over the ${maxBytes}-byte limit`);
  }
  let json: unknown;
  try { json = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8')); } catch {
    throw new CloudlessError('E_FLEET_MESSAGE', `${safeText(topic)}: message is not JSON`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new CloudlessError('E_FLEET_MESSAGE', `${safeText(topic)}: ${i.path.length ? i.path.join('.') : '(message)'}: ${safeText(i.message)}`);
  }
  return r.data;
}

export const parseEvent = (topic: string, payload: Uint8Array): PipelineEvent => parseMessage(eventSchema, topic, payload, MAX_EVENT_BYTES) as PipelineEvent;

/**
 * The privacy guard for fleet messages: a payload leaves only as its schema's
 * closed set of fields (numbers, short strings, no byte arrays) and under the
 * size limit. Events leave as the ledger's body, which `toEventJson` checked.
 */
export function fleetJson<T>(schema: z.ZodType<T>, what: string, value: T, maxBytes = MAX_FLEET_MESSAGE_BYTES): string {
  const r = schema.safeParse(value);
  if (!r.success) throw new CloudlessError('E_INTERNAL', `fleet ${what}: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
  const json = JSON.stringify(r.data);
  if (Buffer.byteLength(json) > maxBytes) throw new CloudlessError('E_INTERNAL', `fleet ${what} is ${Buffer.byteLength(json)} bytes, over the ${maxBytes}-byte limit`);
  return json;
}
