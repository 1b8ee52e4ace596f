/**
 * Mutation fuzzing of everything cloudless parses from outside: models
 * (ONNX, TFLite, TF.js model.json + weights) through load and run, pipeline
 * YAML through the config parser, and wav files through decodeWav, the
 * streaming reader and the pipeline source's header reader.
 *
 *   npm run fuzz -- [--models 10000] [--yaml 2000] [--wav 2000] [--workers 2] [--seed 1] [--only onnx,wav]
 *
 * Each case runs in a child process (scripts/fuzz-worker.ts, 1 GiB heap)
 * with a per-case timeout; the outcome is one of: result, refused (a
 * CloudlessError, counted by code), internal (any other exception), crash
 * (the child died) or hang (no answer before the timeout; the child is
 * killed and replaced). Inputs that gave internal/crash/hang are written to
 * /tmp/cloudless-fuzz/ to replay. Exit code 1 if any did.
 *
 * Seeds: a generated MobileNetV2 (ONNX), TFLM's hello_world, micro_speech and
 * simple_add models from ../shared/models/tflm (TFLite), a small TF.js graph
 * model written here, the example pipelines plus a few written here, and
 * wav files of every supported encoding written here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mobileNetV2, toOnnxBytes } from '../src/bench/model-builders.js';
import type { FuzzCase, FuzzReply, Target } from './fuzz-worker.js';
import { seededRandom } from '../src/ir/random.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : dflt);
const counts: Record<Target, number> = {
  onnx: Number(arg('--models', '10000')), tflite: Number(arg('--models', '10000')), tfjs: Number(arg('--models', '10000')),
  yaml: Number(arg('--yaml', '2000')), wav: Number(arg('--wav', '2000')),
};
const workers = Number(arg('--workers', '2'));
const seed = Number(arg('--seed', '1'));
const only = args.includes('--only') ? new Set(arg('--only', '').split(',')) : undefined;
const timeoutMs: Record<Target, number> = { onnx: 30_000, tflite: 30_000, tfjs: 30_000, yaml: 10_000, wav: 10_000 };
const outDir = '/tmp/cloudless-fuzz';

const rand = seededRandom(seed);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

// ---- seeds -----------------------------------------------------------------

function tfjsSeed(): { json: Uint8Array; bin: Uint8Array } {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const w = Float32Array.from({ length: 2 * 2 * 2 * 3 }, (_, i) => ((i * 5) % 7) / 4 - 0.75);
  const bias = Float32Array.of(0.5, -0.25, 0);
  const model = {
    format: 'graph-model',
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '1' }, { size: '4' }, { size: '4' }, { size: '2' }] } } } },
        { name: 'k', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } },
        { name: 'b', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } },
        { name: 'c', op: 'Conv2D', input: ['x', 'k'], attr: { padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, strides: { list: { i: ['1', '1', '1', '1'] } }, dilations: { list: { i: ['1', '1', '1', '1'] } } } },
        { name: 'a', op: 'BiasAdd', input: ['c', 'b'], attr: { data_format: { s: b64('NHWC') } } },
        { name: 'r', op: 'Relu', input: ['a'] },
        { name: 'y', op: 'Identity', input: ['r'] },
      ],
    },
    weightsManifest: [{ paths: ['tiny.bin'], weights: [{ name: 'k', shape: [2, 2, 2, 3], dtype: 'float32' }, { name: 'b', shape: [3], dtype: 'float32' }] }],
  };
  const bin = new Uint8Array(w.byteLength + bias.byteLength);
  bin.set(new Uint8Array(w.buffer), 0);
  bin.set(new Uint8Array(bias.buffer), w.byteLength);
  return { json: new TextEncoder().encode(JSON.stringify(model)), bin };
}

const yamlSeeds = [
  ...['doorbell', 'pet-feeder'].map((e) => path.join(root, 'examples', e, 'pipeline.yaml')).filter(existsSync).map((f) => readFileSync(f, 'utf8')),
  `name: mic
source: { type: audio, input: ./in.wav, sample_rate: 16000, frame_ms: 1000, hop_ms: 500 }
task: { type: keywords, model: micro_speech, every_ms: 200 }
rules:
  - { name: heard_yes, labels: [yes], min_score: 0.8, cooldown_s: 2, actions: [hook, bus] }
actions:
  hook: { type: webhook, url: "https://hooks.example.com/in", headers: { X-Token: abc } }
  bus: { type: mqtt, url: "mqtt://127.0.0.1:1883", topic: home/yes, qos: 1 }
allow: [hooks.example.com, 127.0.0.1]
safe_state: { description: lights stay as they are, max_missed_deadlines: 3 }
ledger: { max_age_days: 7, max_events: 1000 }
`,
  `name: sensor
source: { type: stdin }
task: { type: sensor, field: temp }
rules:
  - { name: hot, above: 30, actions: [log] }
actions:
  log: { type: command, command: "cat >> /tmp/x" }
safe_state: { description: none }
`,
  `defaults: &d { min_score: 0.5, cooldown_s: 1 }
name: anchors
source: { type: folder, path: ./in }
task: { type: classifier, model: person_detect }
rules:
  - { <<: *d, name: a, labels: [person] }
  - { <<: *d, name: b, labels: [person] }
safe_state: { description: x }
`,
].map((t) => new TextEncoder().encode(t));

function wavSeed(format: number, channels: number, rate: number, bits: number, frames: number, extra?: 'list' | 'extensible'): Uint8Array {
  const frameBytes = (bits / 8) * channels;
  const data = new Uint8Array(frames * frameBytes).map((_, i) => (i * 37 + 11) & 0xff);
  const fmtSize = extra === 'extensible' ? 40 : 16;
  const list = extra === 'list' ? 26 : 0;
  const buf = new Uint8Array(12 + 8 + fmtSize + list + 8 + data.length);
  const v = new DataView(buf.buffer);
  const put = (at: number, s: string) => { for (let i = 0; i < 4; i++) buf[at + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); v.setUint32(4, buf.length - 8, true); put(8, 'WAVE');
  put(12, 'fmt '); v.setUint32(16, fmtSize, true);
  v.setUint16(20, extra === 'extensible' ? 0xfffe : format, true); v.setUint16(22, channels, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * frameBytes, true); v.setUint16(32, frameBytes, true); v.setUint16(34, bits, true);
  let at = 20 + fmtSize;
  if (extra === 'extensible') { v.setUint16(36, 22, true); v.setUint16(38, bits, true); v.setUint16(44, format, true); }
  if (extra === 'list') { put(at, 'LIST'); v.setUint32(at + 4, 18, true); put(at + 8, 'INFOISFT'); at += list; }
  put(at, 'data'); v.setUint32(at + 4, data.length, true);
  buf.set(data, at + 8);
  return buf;
}
const wavSeeds = [
  wavSeed(1, 1, 16000, 16, 400), wavSeed(1, 2, 44100, 24, 300, 'list'), wavSeed(3, 2, 48000, 32, 300),
  wavSeed(1, 1, 8000, 8, 500), wavSeed(3, 1, 22050, 64, 200, 'extensible'), wavSeed(1, 1, 16000, 16, 300, 'extensible'),
];

// ---- mutators --------------------------------------------------------------

const MAGIC32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** 1-4 byte-level edits; `hotBytes` > 0 aims 70% of them at the first hotBytes bytes (headers). */
function mutateBytes(src: Uint8Array, hotBytes = 0): Uint8Array {
  let b = new Uint8Array(src);
  const n = 1 + int(4);
  for (let k = 0; k < n && b.length > 0; k++) {
    const at = hotBytes > 0 && rand() < 0.7 ? int(Math.min(hotBytes, b.length)) : int(b.length);
    switch (int(7)) {
      case 0: b[at] = b[at]! ^ (1 << int(8)); break;
      case 1: b[at] = int(256); break;
      case 2: b = b.subarray(0, at); break;
      case 3: { // a 32-bit field set to a boundary value
        const v = pick(MAGIC32);
        if (at + 4 <= b.length) new DataView(b.buffer, b.byteOffset, b.length).setUint32(at, v, true);
        break;
      }
      case 4: { // insert random bytes
        const ins = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
        const c = new Uint8Array(b.length + ins.length);
        c.set(b.subarray(0, at)); c.set(ins, at); c.set(b.subarray(at), at + ins.length);
        b = c;
        break;
      }
      case 5: { // delete a run
        const end = Math.min(b.length, at + 1 + int(16));
        const c = new Uint8Array(b.length - (end - at));
        c.set(b.subarray(0, at)); c.set(b.subarray(end), at);
        b = c;
        break;
      }
      default: { // copy a slice over another place
        const from = int(b.length), len = 1 + int(32);
        b.copyWithin(at, from, Math.min(b.length, from + len));
      }
    }
  }
  return b;
}

const HOSTILE_TOKENS = [
  '*a', '&a', '&a [*a, *a, *a, *a, *a, *a, *a, *a]', '<<: *a', '!!binary', '!!js/function', '!!python/object', '!<tag:x>',
  '-1', '0', '1e309', '-1e309', '.nan', '.inf', '0x7fffffff', '9007199254740993', '1e-320', '~', 'null', 'true', "''", '""',
  '[', ']', '{', '}', '"', "'", ':', ': ', '- ', '\t', '?', '|', '>', '#', '%YAML 1.1', '---', '...', '\\u0000', '\u0000', '\uFEFF',
  'x'.repeat(5000), 'http://localhost:1/x', 'file:///etc/passwd', '../../../../etc/passwd', '__proto__', 'constructor', 'prototype',
  '{ __proto__: { polluted: 1 } }', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', '{a: {a: {a: {a: {a: {a: {a: {a: 1}}}}}}}}',
];

function mutateText(src: Uint8Array): Uint8Array {
  let t = new TextDecoder().decode(src);
  const n = 1 + int(3);
  for (let k = 0; k < n; k++) {
    const r = int(5);
    if (r === 0) return mutateBytes(new TextEncoder().encode(t));
    const lines = t.split('\n');
    if (r === 1) { // a line duplicated, dropped, swapped or re-indented
      const i = int(lines.length), j = int(lines.length);
      const op = int(4);
      if (op === 0) lines.splice(i, 0, lines[j]!);
      else if (op === 1) lines.splice(i, 1);
      else if (op === 2) [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      else lines[i] = ' '.repeat(int(6)) + lines[i]!.trimStart();
      t = lines.join('\n');
    } else { // a token replaced by or prefixed with a hostile one
      const tokens = [...t.matchAll(/[\w.\-/:]+|[^\s\w]/g)];
      if (tokens.length === 0) continue;
      const m = pick(tokens);
      const h = pick(HOSTILE_TOKENS);
      t = t.slice(0, m.index) + (r === 2 ? h : `${h} ${m[0]}`) + t.slice(m.index! + m[0].length);
    }
  }
  return new TextEncoder().encode(t);
}

const HOSTILE_JSON: unknown[] = [null, -1, 0, 1e308, -1e308, 2 ** 31, 2 ** 53, 1.5, '', 'x', '-1', '99999999999', [], [-1], [2 ** 31, 2 ** 31], {}, { a: 1 }, true, '../../etc/passwd', '__proto__'];

/** A TF.js model.json mutated as JSON (a value replaced or a key dropped) or as text. */
function mutateJson(src: Uint8Array): Uint8Array {
  if (rand() < 0.3) return mutateBytes(src);
  const doc = JSON.parse(new TextDecoder().decode(src)) as unknown;
  const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => { slots.push({ parent: v, key: i }); walk(x); });
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { slots.push({ parent: v as Record<string, unknown>, key: k }); walk(x); }
  };
  walk(doc);
  const n = 1 + int(3);
  for (let k = 0; k < n && slots.length; k++) {
    const s = pick(slots);
    const p = s.parent as Record<string | number, unknown>;
    if (rand() < 0.2 && !Array.isArray(s.parent)) delete p[s.key];
    else p[s.key] = structuredClone(pick(HOSTILE_JSON));
  }
  return new TextEncoder().encode(JSON.stringify(doc));
}

// ---- the pool --------------------------------------------------------------

interface Tally { cases: number; result: number; refused: Map<string, number>; internal: number; crash: number; hang: number }
const tallies = new Map<Target, Tally>();
const findings: string[] = [];

class Runner {
  private child!: ChildProcess;
  private ready!: Promise<void>;
  constructor() { this.spawn(); }

  private spawn(): void {
    this.child = fork(path.join(root, 'scripts/fuzz-worker.ts'), [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=1024'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr!.resume();
    this.ready = new Promise((resolve) => this.child.once('message', () => resolve()));
  }

  async run(c: FuzzCase): Promise<{ outcome: 'result' | 'refused' | 'internal' | 'crash' | 'hang'; code?: string; detail?: string }> {
    await this.ready;
    const child = this.child;
    return new Promise((resolve) => {
      const done = (r: { outcome: 'result' | 'refused' | 'internal' | 'crash' | 'hang'; code?: string; detail?: string }) => {
        clearTimeout(timer);
        child.removeListener('message', onMessage);
        child.removeListener('exit', onExit);
        resolve(r);
      };
      const onMessage = (m: FuzzReply) => {
        if (m.id !== c.id) return;
        done({ outcome: m.outcome, code: m.code, detail: m.outcome === 'internal' ? `${m.message}\n${m.stack ?? ''}` : undefined });
      };
      const onExit = (code: number | null, signal: string | null) => {
        this.spawn();
        done({ outcome: 'crash', detail: `child exited with ${signal ?? code}` });
      };
      const timer = setTimeout(() => {
        child.removeListener('exit', onExit);
        child.kill('SIGKILL');
        this.spawn();
        done({ outcome: 'hang', detail: `no answer in ${timeoutMs[c.target]} ms` });
      }, timeoutMs[c.target]);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(c);
    });
  }

  stop(): void { this.child.kill(); }
}

function* cases(): Generator<FuzzCase> {
  const shared = path.resolve(root, '../shared/models/tflm');
  const seeds: Record<Target, () => Generator<FuzzCase>> = {
    *onnx() {
      const m = toOnnxBytes(mobileNetV2({ size: 16, alpha: 0.35, classes: 3, blocks: 2 }));
      for (let i = 0; i < counts.onnx; i++) yield { id: 0, target: 'onnx', bytes: mutateBytes(m), backend: i % 2 ? 'auto' : 'ref' };
    },
    *tflite() {
      const files = ['hello_world_int8.tflite', 'micro_speech_quantized.tflite', 'simple_add_model.tflite'].map((f) => path.join(shared, f));
      if (!files.every(existsSync)) { console.error(`tflite: skipped, ${shared} is absent (TFLM models)`); return; }
      const ms = files.map((f) => new Uint8Array(readFileSync(f)));
      for (let i = 0; i < counts.tflite; i++) yield { id: 0, target: 'tflite', bytes: mutateBytes(ms[i % ms.length]!), backend: i % 2 ? 'auto' : 'ref' };
    },
    *tfjs() {
      const { json, bin } = tfjsSeed();
      for (let i = 0; i < counts.tfjs; i++) {
        const which = int(3); // the JSON, the weights, or both
        yield { id: 0, target: 'tfjs', bytes: which !== 1 ? mutateJson(json) : json, weights: which !== 0 ? mutateBytes(bin) : bin, backend: i % 2 ? 'auto' : 'ref' };
      }
    },
    *yaml() { for (let i = 0; i < counts.yaml; i++) yield { id: 0, target: 'yaml', bytes: mutateText(yamlSeeds[i % yamlSeeds.length]!) }; },
    *wav() { for (let i = 0; i < counts.wav; i++) yield { id: 0, target: 'wav', bytes: mutateBytes(wavSeeds[i % wavSeeds.length]!, 64) }; },
  };
  let id = 0;
  for (const t of ['onnx', 'tflite', 'tfjs', 'yaml', 'wav'] as const) {
    if (only && !only.has(t)) continue;
    tallies.set(t, { cases: 0, result: 0, refused: new Map(), internal: 0, crash: 0, hang: 0 });
    for (const c of seeds[t]()) yield { ...c, id: id++ };
  }
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const pool = Array.from({ length: workers }, () => new Runner());
  const it = cases();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let n = 0;
  await Promise.all(pool.map(async (runner) => {
    for (let next = it.next(); !next.done; next = it.next()) {
      const c = next.value;
      const r = await runner.run(c);
      const t = tallies.get(c.target)!;
      t.cases++;
      if (r.outcome === 'refused') t.refused.set(r.code!, (t.refused.get(r.code!) ?? 0) + 1);
      else t[r.outcome]++;
      if (r.outcome === 'internal' || r.outcome === 'crash' || r.outcome === 'hang') {
        const file = path.join(outDir, `${c.target}-${c.id}.${c.target === 'tfjs' ? 'json' : c.target}`);
        writeFileSync(file, c.bytes);
        if (c.weights) writeFileSync(`${file}.bin`, c.weights);
        findings.push(`${c.target} #${c.id} ${r.outcome}: ${r.detail ?? ''}\n  input: ${file}`);
      }
      if (++n % 1000 === 0) process.stderr.write(`fuzz: ${n} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  }));
  for (const r of pool) r.stop();
  const cpu = process.cpuUsage(cpu0);
  console.log(`seed ${seed}, ${workers} child processes, per-case timeout ${timeoutMs.onnx / 1000} s (models) / ${timeoutMs.yaml / 1000} s (yaml, wav)`);
  console.log('target   cases   result   refused (CloudlessError by code)                     internal  crash  hang');
  for (const [target, t] of tallies) {
    const refused = [...t.refused].sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} ${k}`).join(', ');
    const total = [...t.refused.values()].reduce((a, b) => a + b, 0);
    console.log(`${target.padEnd(7)} ${String(t.cases).padStart(6)}  ${String(t.result).padStart(7)}  ${`${total}: ${refused}`.padEnd(52)} ${String(t.internal).padStart(8)}  ${String(t.crash).padStart(5)}  ${String(t.hang).padStart(4)}`);
  }
  console.log(`wall ${((Date.now() - t0) / 1000).toFixed(0)} s (shared machine), parent CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
  if (findings.length) {
    console.log(`\n${findings.length} finding(s):`);
    // Grouped by the first line, so one bug hit 500 times is one entry.
    const groups = new Map<string, string[]>();
    for (const f of findings) {
      const key = f.split('\n')[0]!.replace(/^\S+ #\d+ /, '').slice(0, 160);
      groups.set(key, [...(groups.get(key) ?? []), f]);
    }
    for (const [, fs] of groups) console.log(`${fs.length}x ${fs[0]}`);
    process.exitCode = 1;
  }
}

await main();
