import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloudlessError } from '../../../src/ir/index.js';
import { importTflite } from '../../../src/formats/tflite/import.js';
import { readFlexbufferMap } from '../../../src/formats/tflite/reader.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const modelsDir = path.resolve(repoRoot, '../shared/models/tflm');
const haveModels = existsSync(modelsDir);
if (!haveModels) console.warn(`skipping TFLite fuzz tests on real models: ${modelsDir} is absent`);

/** Imports and returns the error code, or 'ok'; any error other than a CloudlessError fails the test. */
function outcome(bytes: Uint8Array): string {
  try {
    importTflite(bytes, 'fuzz.tflite');
    return 'ok';
  } catch (err) {
    if (!(err instanceof CloudlessError)) throw err;
    expect(err.message).toContain('fuzz.tflite');
    return err.code;
  }
}

describe('TFLite reader on malformed bytes', () => {
  it('refuses random bytes with E_FORMAT', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      expect(outcome(bytes)).toBe('E_FORMAT');
    }), { numRuns: 300 });
  });

  it('refuses random bytes that carry the TFL3 identifier with E_FORMAT', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 8, maxLength: 512 }), (bytes) => {
      bytes.set([0x54, 0x46, 0x4c, 0x33], 4);
      const code = outcome(bytes);
      expect(['E_FORMAT', 'E_UNSUPPORTED', 'ok']).toContain(code);
    }), { numRuns: 500 });
  });

  it('names the file and the identifier it found', () => {
    expect(() => importTflite(new TextEncoder().encode('hello, not a model'), 'x.tflite')).toThrow(/x\.tflite.*identifier/);
  });
});

describe.skipIf(!haveModels)('TFLite reader on damaged real models', () => {
  const files = ['hello_world_int8.tflite', 'micro_speech_quantized.tflite', 'audio_preprocessor_int8.tflite', 'keyword_scrambled_8bit.tflite'];
  const models = haveModels ? files.map((f) => readFileSync(path.join(modelsDir, f))) : [];

  it('refuses every truncation with E_FORMAT', () => {
    for (const m of models) {
      // Cutting the file anywhere loses tables or buffers the root refers to.
      for (let len = 0; len < m.length; len += Math.max(1, Math.floor(m.length / 97))) {
        expect(outcome(m.subarray(0, len)), `truncated to ${len} bytes`).toBe('E_FORMAT');
      }
    }
  });

  it('survives bit flips and overwritten bytes (a CloudlessError or a graph, never a crash or a hang)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: models.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      (which, edits) => {
        const bytes = new Uint8Array(models[which]!);
        for (const [pos, bit, flip, value] of edits) {
          const at = pos % bytes.length;
          bytes[at] = flip ? bytes[at]! ^ (1 << bit) : value;
        }
        outcome(bytes);
      },
    ), { numRuns: 400 });
  }, 60_000);
});

describe('flexbuffer options reader', () => {
  it('reads a map of scalars, strings and typed vectors', () => {
    // {"shift": 12} as the TFLM Signal library writes it.
    const hex = '73686966740001070101010c04022401';
    expect(readFlexbufferMap(Uint8Array.from(Buffer.from(hex, 'hex')))).toEqual({ shift: 12 });
  });

  it('never throws or runs away on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      const r = readFlexbufferMap(bytes);
      expect(r === undefined || typeof r === 'object').toBe(true);
    }), { numRuns: 1000 });
  });
});
