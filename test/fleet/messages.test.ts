/**
 * Fuzzing the parsers of everything a device or the fleet reads off the
 * broker: random bytes, random JSON and mutated valid messages either parse
 * to a schema-checked value or are refused with E_MANIFEST / E_FLEET_MESSAGE;
 * nothing else is ever thrown. Canonical JSON does not depend on key order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloudlessError } from '../../src/ir/index.js';
import { canonicalJson, parseRolloutMessage, selectedForRollout, MAX_MANIFEST_BYTES } from '../../src/fleet/manifest.js';
import { healthSchema, modelStateSchema, parseEvent, parseMessage, statusSchema } from '../../src/fleet/messages.js';

const refusedOrParsed = (f: () => unknown, code: string) => {
  try { f(); } catch (err) {
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as CloudlessError).code).toBe(code);
  }
};

const valid = {
  manifest: {
    format: 'cloudless-model-manifest/1', model: 'm.onnx', version: 2, sha256: 'a'.repeat(64), size: 10, url: 'http://127.0.0.1:1/m.onnx',
    group: 'default', pct: 100, self_test: { input: { kind: 'sensor', data: 'Mw==' }, output_sha256: 'b'.repeat(64) },
    signatures: [{ key_id: '0123456789abcdef', sig: 'AAAA' }],
  },
  pct: 50,
};

describe('fleet message parsers under fuzzing', () => {
  it('random bytes and random JSON are parsed or refused by name', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      refusedOrParsed(() => parseRolloutMessage(b), 'E_MANIFEST');
      for (const s of [statusSchema, healthSchema, modelStateSchema]) refusedOrParsed(() => parseMessage(s as never, 't', b), 'E_FLEET_MESSAGE');
      refusedOrParsed(() => parseEvent('t', b), 'E_FLEET_MESSAGE');
    }), { numRuns: 100 });
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const b = Buffer.from(JSON.stringify(v) ?? 'null');
      refusedOrParsed(() => parseRolloutMessage(b), 'E_MANIFEST');
      refusedOrParsed(() => parseMessage(statusSchema, 't', b), 'E_FLEET_MESSAGE');
      refusedOrParsed(() => parseEvent('t', b), 'E_FLEET_MESSAGE');
    }), { numRuns: 100 });
  });

  it('a valid rollout message parses; each mutation of one field is parsed or refused, never a crash', () => {
    expect(parseRolloutMessage(Buffer.from(JSON.stringify(valid))).pct).toBe(50);
    const keys = Object.keys(valid.manifest);
    fc.assert(fc.property(fc.constantFrom(...keys), fc.jsonValue(), (k, v) => {
      const m = { ...valid, manifest: { ...valid.manifest, [k]: v } };
      refusedOrParsed(() => parseRolloutMessage(Buffer.from(JSON.stringify(m))), 'E_MANIFEST');
    }), { numRuns: 100 });
    expect(() => parseRolloutMessage(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20))).toThrow(/^oversized/);
    expect(() => parseRolloutMessage(Buffer.from(JSON.stringify({ ...valid, extra: 1 })))).toThrow(/^malformed: \(message\)/);
  });

  it('canonical JSON ignores key order; the rollout share selects about pct % of devices', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
      const reversed = Object.fromEntries(Object.entries(o).reverse());
      expect(canonicalJson(reversed)).toBe(canonicalJson(o));
    }), { numRuns: 100 });
    const ids = Array.from({ length: 2000 }, (_, i) => `device-${i}`);
    const n = ids.filter((id) => selectedForRollout(id, { model: 'm', version: 7 }, 20)).length;
    expect(n).toBeGreaterThan(2000 * 0.17);
    expect(n).toBeLessThan(2000 * 0.23);
    expect(ids.filter((id) => selectedForRollout(id, { model: 'm', version: 7 }, 0)).length).toBe(0);
    expect(ids.filter((id) => selectedForRollout(id, { model: 'm', version: 7 }, 100)).length).toBe(2000);
  });
});
