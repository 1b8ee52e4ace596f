/**
 * Pipeline configuration: a YAML file or the same object in TypeScript, checked
 * by one zod schema. YAML errors name the key path and its line (yaml's
 * LineCounter maps the failing node back to the text), so a user can go
 * straight to the mistake.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { CloudlessError } from '../ir/index.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../tasks/audio/wav.js';
import { checkAllowed } from './privacy.js';
import { checkTracking, trackingSchema } from './tracking.js';

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "-" or "." (1 to 64)');
const positiveInt = z.number().int().positive();

const folderSource = z.object({
  type: z.literal('folder'),
  path: z.string().min(1),
  /** Delete each file once its decision is made (the default for a camera drop folder). */
  delete_after: z.boolean().default(true),
  /** File name extensions to take (others are left alone). */
  extensions: z.array(z.string()).default(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']),
  /** 'wait': a busy pipeline leaves files in the folder until it has room; 'drop': files arriving while busy are deleted unseen and counted. */
  when_busy: z.enum(['wait', 'drop']).default('wait'),
  /** A file is taken once its size has not changed for this long (a camera may still be writing it). */
  settle_ms: z.number().int().min(0).default(50),
}).strict();

const videoSource = z.object({
  type: z.literal('video'),
  /** A video file, or a camera device such as /dev/video0 (with format: v4l2). */
  input: z.string().min(1),
  format: z.string().optional(),
  fps: z.number().positive().max(120).default(2),
  width: positiveInt.max(4096),
  height: positiveInt.max(4096),
  /** Read a file at its own frame rate, like a camera would deliver it. */
  realtime: z.boolean().default(false),
  /** Restart ffmpeg when it dies (a camera that was unplugged); a file source ends instead. */
  restart: z.boolean().default(false),
}).strict();

const audioSource = z.object({
  type: z.literal('audio'),
  /** 'arecord' (the default ALSA capture device), a .wav file path, or '-' for a wav stream on stdin. */
  input: z.string().min(1).default('arecord'),
  device: z.string().optional(),
  /** 8..384 kHz: the range the audio tasks read (src/tasks/audio/wav.ts says why). */
  sample_rate: z.number().int()
    .min(MIN_SAMPLE_RATE, { message: `sample rates below ${MIN_SAMPLE_RATE} Hz leave no speech band for the 16 kHz models` })
    .max(MAX_SAMPLE_RATE, { message: `sample rates above ${MAX_SAMPLE_RATE} Hz are beyond what audio interfaces record` })
    .default(16000),
  frame_ms: positiveInt.max(10_000).default(1000),
  hop_ms: positiveInt.max(10_000).optional(),
  restart: z.boolean().default(false),
}).strict();

const mqttSource = z.object({
  type: z.literal('mqtt'),
  url: z.string().min(1),
  topics: z.array(z.string().min(1)).min(1),
  username: z.string().optional(),
  password_secret: z.string().optional(),
}).strict();

const stdinSource = z.object({ type: z.literal('stdin') }).strict();

const source = z.discriminatedUnion('type', [folderSource, videoSource, audioSource, mqttSource, stdinSource]);

const imageInput = z.object({
  width: positiveInt,
  height: positiveInt,
  layout: z.enum(['NHWC', 'NCHW']).default('NHWC'),
  channels: z.enum(['RGB', 'BGR', 'GRAY']).default('RGB'),
  resize: z.enum(['stretch', 'letterbox']).default('stretch'),
  interpolation: z.enum(['tf-bilinear', 'opencv-linear', 'area', 'nearest', 'lanczos3']).optional(),
  normalize: z.union([z.enum(['zero-one', 'none']), z.object({ mean: z.array(z.number()), std: z.array(z.number()) }).strict()]).default('zero-one'),
  dtype: z.enum(['float32', 'int8', 'uint8']).default('float32'),
}).strict();

const task = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('classifier'),
    /** A zoo name (person_detect, ...) or a model file; a file outside the zoo needs `input`. */
    model: z.string().min(1),
    input: imageInput.optional(),
    labels: z.array(z.string()).optional(),
    softmax: z.boolean().optional(),
    top_k: positiveInt.default(3),
  }).strict(),
  z.object({
    type: z.literal('detector'),
    /** A zoo detector (centernet, nanodet) or a copy of one's model file. */
    model: z.string().min(1),
    score_threshold: z.number().min(0).max(1).optional(),
  }).strict(),
  z.object({
    type: z.literal('sensor'),
    /** Dot path of the number in a JSON payload; plain numeric payloads need none. */
    field: z.string().optional(),
    /** Window of recent values the anomaly z-score is computed against. */
    anomaly_window: positiveInt.min(3).default(30),
  }).strict(),
  z.object({ type: z.literal('level') }).strict(),
  z.object({
    type: z.literal('keyword'),
    /** micro_speech (zoo name) or a copy of its .tflite, with audio_preprocessor_int8.tflite beside it unless `preprocessor` names it. */
    model: z.string().min(1).default('micro_speech'),
    preprocessor: z.string().min(1).optional(),
    /** RecognizeCommands' detection threshold on the averaged score, 0..1 (rules may ask for more with min_score). */
    threshold: z.number().min(0).max(1).default(200 / 255),
    /** Run the classifier every this many ms (a multiple of 20). */
    every_ms: positiveInt.default(200),
  }).strict(),
  z.object({
    type: z.literal('wake_word'),
    /** openWakeWord words from the zoo: hey_jarvis, alexa, hey_mycroft, hey_rhasspy, timer, weather. */
    words: z.array(z.string().min(1)).min(1),
    threshold: z.number().gt(0).max(1).default(0.5),
    /** Run the wake-word models only around speech found by Silero VAD, to save CPU. */
    vad_gate: z.boolean().default(false),
  }).strict(),
  z.object({
    type: z.literal('vad'),
    /** silero-vad (zoo name) or a copy of its .onnx. */
    model: z.string().min(1).default('silero-vad'),
  }).strict(),
  z.object({ type: z.literal('module'), path: z.string().min(1), options: z.record(z.unknown()).default({}) }).strict(),
]);

const timeWindow = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM-HH:MM');

const rule = z.object({
  name,
  labels: z.array(z.string().min(1)).min(1).optional(),
  min_score: z.number().min(0).max(1).default(0),
  min_count: positiveInt.default(1),
  /** Region of interest as fractions of the frame [x1, y1, x2, y2]: a detection counts when its box centre is inside. */
  roi: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)])
    .refine(([x1, y1, x2, y2]) => x1 < x2 && y1 < y2, 'x1 < x2 and y1 < y2').optional(),
  value_above: z.number().optional(),
  value_below: z.number().optional(),
  anomaly_above: z.number().optional(),
  /** Fire when at least n of the last m frames matched. */
  n_of_m: z.tuple([positiveInt, positiveInt]).refine(([n, m]) => n <= m, 'n <= m').optional(),
  cooldown_s: z.number().min(0).default(0),
  /** Local-time windows when the rule may fire, e.g. ["06:00-09:00", "17:00-20:00"]; a window may wrap midnight. */
  active: z.array(timeWindow).min(1).optional(),
  /** Actions (by name) that receive the rule's events, besides the ledger that keeps every event. */
  actions: z.array(name).default([]),
}).strict();

const backoff = z.object({
  initial_ms: positiveInt.default(500),
  max_ms: positiveInt.default(60_000),
}).strict();

const action = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('mqtt'),
    url: z.string().min(1),
    topic: z.string().min(1),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
    username: z.string().optional(),
    password_secret: z.string().optional(),
    client_id: z.string().optional(),
    backoff: backoff.default({}),
  }).strict(),
  z.object({
    type: z.literal('webhook'),
    url: z.string().min(1),
    token_secret: z.string().optional(),
    timeout_ms: positiveInt.default(5000),
    backoff: backoff.default({}),
  }).strict(),
  z.object({
    type: z.literal('command'),
    command: z.string().min(1),
    timeout_ms: positiveInt.default(10_000),
    backoff: backoff.default({}),
  }).strict(),
]);

const safeState = z.object({
  /** What the device does in its safe state, for people reading the config and the ledger. */
  description: z.string().min(1),
  /** A local command run on entering the safe state (it must not need a network). */
  command: z.string().optional(),
  /** A local command run on leaving it. */
  recover_command: z.string().optional(),
  /** Consecutive frames over the deadline that move the pipeline to its safe state. */
  max_missed_deadlines: positiveInt.default(3),
  /** Actions (by name) that are told about state changes (delivered later when they are unreachable). */
  notify: z.array(name).default([]),
}).strict();

/** A topic level: no wildcards, no separators, no leading "$" (those are the broker's). */
const topicLevel = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "-" or "." (1 to 64): one topic level, no wildcards');

/**
 * The device's place in a fleet (src/fleet): one MQTT client with its own
 * credentials reporting status, health and the ledger's events, and taking
 * signed model rollouts. The broker's host must be on `allow`.
 */
export const fleetSchema = z.object({
  /** mqtt://host:port or mqtts://host:port (TLS, verified against ca_file). */
  broker: z.string().min(1),
  device_id: topicLevel,
  prefix: topicLevel.default('cloudless'),
  group: topicLevel.default('default'),
  /** Broker user name (default: device_id, which the ACL pattern %u expects). */
  username: z.string().min(1).optional(),
  /** Name of the broker password in the secret store (`cloudless secrets set NAME`). */
  password_secret: z.string().optional(),
  /** PEM file of the CA the broker's certificate must chain to (pinned: the system CAs are not used). */
  ca_file: z.string().min(1).optional(),
  /** Client certificate and key (PEM files) when the broker authenticates devices by certificate. */
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  keepalive_s: positiveInt.max(3600).default(30),
  health_interval_s: positiveInt.max(86_400).default(60),
  /**
   * An event counts as delivered only when a fleet store acknowledges its id on
   * `<prefix>/<device>/events/ack`; without that acknowledgement within this many
   * seconds it stays pending and is sent again later (the store drops repeats).
   */
  ack_timeout_s: positiveInt.max(3600).default(10),
  /** Home Assistant MQTT discovery (device-based config under `<discovery_prefix>/device/<id>/config`). */
  home_assistant: z.union([z.boolean(), z.object({ discovery_prefix: topicLevel.default('homeassistant') }).strict()]).default(false),
  /** Signed model rollout: absent means the device ignores rollout manifests. */
  rollout: z.object({
    /** Pinned Ed25519 public keys (PEM text or paths to .pem files). */
    keys: z.array(z.string().min(1)).min(1),
    /** Signatures from this many distinct pinned keys are needed (k of n). */
    threshold: positiveInt.default(1),
    /** Whether this device's clock can be trusted to check manifest expiry (an RTC kept by NTP or GPS). */
    trusted_clock: z.boolean().default(false),
    max_model_bytes: positiveInt.default(64 * 1024 * 1024),
    /** After the switch, the new model must keep the pipeline out of its safe state for this long. */
    grace_s: z.number().positive().max(86_400).default(30),
  }).strict().optional(),
}).strict();

export const pipelineSchema = z.object({
  name,
  source,
  queue: positiveInt.max(1024).default(4),
  task,
  /** Per-frame inference deadline; missing it max_missed_deadlines times in a row is a fault. */
  deadline_ms: positiveInt.optional(),
  rules: z.array(rule),
  /** Tracker and rules on tracks (zones, loitering, line counts, stationary): see tracking.ts. */
  tracking: trackingSchema.optional(),
  actions: z.record(name, action).default({}),
  /** Hosts network actions may reach. Anything else is refused at load. Default: none (only the local ledger). */
  allow: z.array(z.string().min(1)).default([]),
  safe_state: safeState,
  ledger: z.object({
    max_age_days: z.number().positive().default(30),
    max_events: positiveInt.default(100_000),
  }).strict().default({}),
  fleet: fleetSchema.optional(),
}).strict();

/** The pipeline as written (defaults optional). */
export type PipelineInput = z.input<typeof pipelineSchema>;
/** The pipeline after validation (defaults filled in). */
export type PipelineConfig = z.output<typeof pipelineSchema>;
export type SourceConfig = PipelineConfig['source'];
export type TaskConfig = PipelineConfig['task'];
export type RuleConfig = PipelineConfig['rules'][number];
export type ActionConfig = PipelineConfig['actions'][string];
export type FleetConfig = z.output<typeof fleetSchema>;
export type FleetInput = z.input<typeof fleetSchema>;

/** Where a config came from, for error messages. */
interface Origin {
  file: string;
  /** Line of a key path, when the config came from YAML. */
  lineOf?: (p: readonly (string | number)[]) => number | undefined;
}

const keyName = (p: readonly (string | number)[]) => (p.length ? p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${k}` : k)).join('') : '(top level)');

function where(origin: Origin, p: readonly (string | number)[]): string {
  const line = origin.lineOf?.(p);
  return `${origin.file}: ${keyName(p)}${line ? ` (line ${line})` : ''}`;
}

/** Validates a pipeline object (from YAML or TypeScript) and checks what zod cannot: action references and the allow-list. */
export function validatePipeline(input: unknown, origin: Origin = { file: '<pipeline>' }): PipelineConfig {
  const parsed = pipelineSchema.safeParse(input);
  if (!parsed.success) {
    // An unknown key is reported at the key itself, so the line points at the typo.
    const issues = parsed.error.issues.slice(0, 5).map((i) => (i.code === 'unrecognized_keys'
      ? `${where(origin, [...i.path, i.keys[0]!])}: unknown key${i.keys.length > 1 ? `s ${i.keys.join(', ')}` : ''}`
      : `${where(origin, i.path)}: ${i.message}`));
    throw new CloudlessError('E_CONFIG', issues.join('\n'), { file: origin.file, hint: 'see docs of the pipeline format in examples/*/pipeline.yaml' });
  }
  const cfg = parsed.data;
  const actionNames = new Set(Object.keys(cfg.actions));
  const refs: [readonly (string | number)[], string][] = [
    ...cfg.rules.flatMap((r, i) => r.actions.map((a, k) => [['rules', i, 'actions', k], a] as [(string | number)[], string])),
    ...cfg.safe_state.notify.map((a, k) => [['safe_state', 'notify', k], a] as [(string | number)[], string]),
  ];
  for (const [p, a] of refs) {
    if (!actionNames.has(a)) {
      throw new CloudlessError('E_CONFIG', `${where(origin, p)}: no action named "${a}" (actions: ${[...actionNames].join(', ') || 'none'})`, { file: origin.file });
    }
  }
  if (cfg.rules.length === 0 && !cfg.tracking) {
    throw new CloudlessError('E_CONFIG', `${where(origin, ['rules'])}: a pipeline needs at least one rule (under rules, or tracking.rules with rules: [])`, { file: origin.file });
  }
  if (cfg.tracking) {
    const frame = cfg.source.type === 'video' ? { width: cfg.source.width, height: cfg.source.height } : undefined;
    try {
      checkTracking(cfg.tracking, (p) => where(origin, p), actionNames, frame);
    } catch (err) {
      if (err instanceof CloudlessError) throw new CloudlessError(err.code, err.message, { file: origin.file, ...(err.hint ? { hint: err.hint } : {}) });
      throw err;
    }
  }
  const seen = new Set<string>();
  cfg.rules.forEach((r, i) => {
    if (seen.has(r.name)) throw new CloudlessError('E_CONFIG', `${where(origin, ['rules', i, 'name'])}: a second rule named "${r.name}"`, { file: origin.file });
    seen.add(r.name);
  });
  for (const [n, a] of Object.entries(cfg.actions)) {
    if (a.type === 'mqtt' || a.type === 'webhook') checkAllowed(a.url, cfg.allow, where(origin, ['actions', n, 'url']));
  }
  if (cfg.source.type === 'mqtt') checkAllowed(cfg.source.url, cfg.allow, where(origin, ['source', 'url']));
  if (cfg.fleet) {
    checkAllowed(cfg.fleet.broker, cfg.allow, where(origin, ['fleet', 'broker']));
    if (!/^mqtts?:$/.test(new URL(cfg.fleet.broker).protocol)) {
      throw new CloudlessError('E_CONFIG', `${where(origin, ['fleet', 'broker'])}: the fleet broker must be an mqtt:// or mqtts:// URL`, { file: origin.file });
    }
    const r = cfg.fleet.rollout;
    if (r && r.threshold > r.keys.length) {
      throw new CloudlessError('E_CONFIG', `${where(origin, ['fleet', 'rollout', 'threshold'])}: ${r.threshold} signatures needed but only ${r.keys.length} key(s) pinned`, { file: origin.file });
    }
  }
  return cfg;
}

/** Parses and validates pipeline YAML text; errors name the key and its line. */
export function parsePipelineYaml(text: string, file = '<pipeline.yaml>'): PipelineConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = lineCounter.linePos(e.pos[0]).line;
    throw new CloudlessError('E_CONFIG', `${file}: line ${line}: ${e.message.split('\n')[0]}`, { file });
  }
  let value: unknown;
  try {
    // yaml refuses a document whose aliases would expand past maxAliasCount (an "alias bomb"); say so as a config error.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new CloudlessError('E_CONFIG', `${file}: ${(err as Error).message.split('\n')[0]}`, {
      file, hint: 'a pipeline file needs few YAML aliases (*name); write the values out',
    });
  }
  return validatePipeline(value, { file, lineOf: (p) => lineOfPath(doc, lineCounter, p) });
}

/** The line of the deepest existing node on a key path (a missing key points at its parent). */
function lineOfPath(doc: Document, lc: LineCounter, p: readonly (string | number)[]): number | undefined {
  for (let n = p.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(p.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Reads a pipeline YAML file. Relative paths inside it are resolved by the caller against `path.dirname(file)`. */
export async function loadPipelineFile(file: string): Promise<PipelineConfig> {
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read pipeline ${file}: ${(err as Error).message}`, { file });
  }
  return parsePipelineYaml(text, file);
}
