/**
 * A small, fast pass of scripts/fuzz.ts (`npm run fuzz` runs the full one in
 * child processes): mutated pipeline YAML through the config parser and
 * mutated wav headers through decodeWav, the streaming reader and the audio
 * source's header reader. The only acceptable outcomes are a result or a
 * CloudlessError; a hang fails by the test's timeout.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CloudlessError } from '../../src/ir/index.js';
import { parsePipelineYaml } from '../../src/pipeline/config.js';
import { WavHeaderReader } from '../../src/pipeline/sources/process.js';
import { decodeWav, speechChunks } from '../../src/tasks/audio/index.js';
import { wavHeader } from './wav-file.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'cloudless-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const root = path.resolve(import.meta.dirname, '../..');

/** 'ok' or the CloudlessError's code; anything else is thrown (and fails the property). */
function outcome(fn: () => void, file: string): string {
  try { fn(); return 'ok'; } catch (err) {
    if (!(err instanceof CloudlessError)) throw err;
    expect(err.message).toContain(file);
    return err.code;
  }
}

const yamlSeeds = [
  readFileSync(path.join(root, 'examples/doorbell/pipeline.yaml'), 'utf8'),
  readFileSync(path.join(root, 'examples/pet-feeder/pipeline.yaml'), 'utf8'),
  'd: &d { min_score: 0.5 }\nname: a\nsource: { type: audio, input: x.wav, sample_rate: 16000 }\ntask: { type: vad }\n'
    + 'rules: [{ <<: *d, name: t, labels: [speech] }]\nsafe_state: { description: x }\n',
];
const hostile = ['*a', '&a', '&a [*a, *a, *a, *a]', '<<: *a', '!!binary', '!!js/function', '-1', '1e309', '.nan', '~', '[', '{', '}', '"', ':', '- ',
  '\t', '|', '---', '\u0000', '__proto__', '{ __proto__: { x: 1 } }', '9007199254740993', '0x7fffffff', '[[[[[[[[[[[[[[[[[[[['];

describe('fuzzed pipeline YAML and wav headers (small pass)', () => {
  it('mutated pipeline YAML ends in a config or a CloudlessError naming the file', () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('token' as const), at: fc.nat(), with: fc.constantFrom(...hostile), replace: fc.boolean() }),
      fc.record({ kind: fc.constant('line' as const), at: fc.nat(), to: fc.nat(), op: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('char' as const), at: fc.nat(), ch: fc.string({ minLength: 0, maxLength: 3 }) }),
    );
    fc.assert(fc.property(fc.nat(yamlSeeds.length - 1), fc.array(edit, { minLength: 1, maxLength: 4 }), (which, edits) => {
      let t = yamlSeeds[which]!;
      for (const e of edits) {
        if (e.kind === 'token') {
          const tokens = [...t.matchAll(/[\w.\-/:]+|[^\s\w]/g)];
          if (!tokens.length) continue;
          const m = tokens[e.at % tokens.length]!;
          t = t.slice(0, m.index) + (e.replace ? e.with : `${e.with} ${m[0]}`) + t.slice(m.index + m[0].length);
        } else if (e.kind === 'line') {
          const lines = t.split('\n');
          const i = e.at % lines.length, j = e.to % lines.length;
          if (e.op === 0) lines.splice(i, 0, lines[j]!);
          else if (e.op === 1) lines.splice(i, 1);
          else if (e.op === 2) [lines[i], lines[j]] = [lines[j]!, lines[i]!];
          else lines[i] = `   ${lines[i]}`;
          t = lines.join('\n');
        } else {
          const i = e.at % (t.length + 1);
          t = t.slice(0, i) + e.ch + t.slice(i + 1);
        }
      }
      const code = outcome(() => parsePipelineYaml(t, 'fuzz.yaml'), 'fuzz.yaml');
      expect(['ok', 'E_CONFIG']).toContain(code);
    }), { numRuns: 250, seed: 20261207 });
  }, 30_000);

  it('mutated wav headers end in audio or an E_AUDIO, in every reader', () => {
    const base = (() => {
      const data = new Uint8Array(2 * 2 * 300).map((_, i) => (i * 37) & 0xff);
      const b = new Uint8Array(44 + data.length);
      b.set(wavHeader({ rate: 44100, channels: 2 }, data.length));
      b.set(data, 44);
      return b;
    })();
    const magic = [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffe, 3, 8000, 384001];
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(47), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('u32' as const), at: fc.nat(44), value: fc.constantFrom(...magic) }),
      fc.record({ kind: fc.constant('u16' as const), at: fc.nat(46), value: fc.constantFrom(...magic) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(base.length) }),
    );
    const file = path.join(tmp, 'fuzz.wav');
    let n = 0;
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
      let b = new Uint8Array(base);
      for (const e of edits) {
        const v = new DataView(b.buffer, b.byteOffset, b.length);
        if (e.kind === 'set' && e.at < b.length) b[e.at] = e.value;
        else if (e.kind === 'u32' && e.at + 4 <= b.length) v.setUint32(e.at, e.value >>> 0, true);
        else if (e.kind === 'u16' && e.at + 2 <= b.length) v.setUint16(e.at, e.value & 0xffff, true);
        else if (e.kind === 'cut') b = b.subarray(0, e.at);
      }
      const codes = [outcome(() => decodeWav(b, 'fuzz.wav'), 'fuzz.wav'), outcome(() => { new WavHeaderReader('fuzz.wav', 44100).push(Buffer.from(b)); }, 'fuzz.wav')];
      // The streaming reader on a file for one case in four (it costs a write).
      if (n++ % 4 === 0) {
        writeFileSync(file, b);
        codes.push(outcome(() => { for (const _ of speechChunks(file)) { /* drained */ } }, file));
      }
      for (const c of codes) expect(['ok', 'E_AUDIO']).toContain(c);
    }), { numRuns: 500, seed: 20261207 });
  }, 30_000);
});
