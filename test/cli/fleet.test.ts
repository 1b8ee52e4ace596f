/**
 * The fleet CLI: models keygen and sign (a manifest the library verifies, k of
 * n by --append), fleet rollout onto a real mosquitto (retained on the group
 * topic), fleet --json and fleet events --json; the fleet: section's errors
 * name the key.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { canonicalJson, manifestSchema, publicKeyOf, resultDigest, selfTestFrame, verifyManifest } from '../../src/fleet/manifest.js';
import { parsePipelineYaml } from '../../src/pipeline/config.js';
import { Broker, freePort, hasMosquitto, subscribe, until } from '../pipeline/mosquitto.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-fleet-cli-'));
const data = path.join(dir, 'data');
let out = '';
beforeEach(() => { out = ''; vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out += String(s); return true; }); vi.spyOn(process.stderr, 'write').mockImplementation(() => true); });
afterEach(() => { vi.restoreAllMocks(); });
const cli = (...args: string[]) => main(['node', 'cloudless', ...args]);

writeFileSync(path.join(dir, 'task.mjs'), `import { readFileSync } from 'node:fs';
export function createTask(o) {
  const n = readFileSync(o.model).length;
  return { name: 'length', accepts: ['sensor'], async run(f) { return { findings: [], value: n + Number(Buffer.from(f.data).toString()) }; } };
}
`);
writeFileSync(path.join(dir, 'pipeline.yaml'), `name: meter
source: { type: stdin }
task: { type: module, path: task.mjs }
rules: [{ name: r, value_above: 0 }]
safe_state: { description: hold }
`);
writeFileSync(path.join(dir, 'model.bin'), Buffer.alloc(1234, 7));
writeFileSync(path.join(dir, 'input.txt'), '5');

describe('cloudless models keygen / sign', () => {
  it('signs a manifest that verifies with the public key, and adds a second signature with --append', async () => {
    expect(await cli('models', 'keygen', '--data', data, '--out', path.join(dir, 'a.pub.pem'))).toBe(0);
    expect(await cli('models', 'keygen', '--data', data, '--name', 'second', '--out', path.join(dir, 'b.pub.pem'))).toBe(0);
    expect(readFileSync(path.join(data, 'secrets.json'), 'utf8')).not.toMatch(/PRIVATE KEY/);
    const man = path.join(dir, 'm.json');
    expect(await cli('models', 'sign', path.join(dir, 'model.bin'), '--version', '3', '--url', 'http://127.0.0.1:8765/model.bin', '--pipeline', path.join(dir, 'pipeline.yaml'),
      '--self-test-input', path.join(dir, 'input.txt'), '--group', 'lab', '--pct', '50', '--expires', '2031-01-01', '--data', data, '-o', man)).toBe(0);
    const m = manifestSchema.parse(JSON.parse(readFileSync(man, 'utf8')));
    expect(m).toMatchObject({ model: 'model.bin', version: 3, size: 1234, group: 'lab', pct: 50, expires: '2031-01-01T00:00:00.000Z' });
    expect(m.self_test.output_sha256).toBe(resultDigest({ findings: [], value: 1239 }));
    expect(Buffer.from(selfTestFrame(m.self_test).data).toString()).toBe('5');
    const a = publicKeyOf(readFileSync(path.join(dir, 'a.pub.pem'), 'utf8'));
    const b = publicKeyOf(readFileSync(path.join(dir, 'b.pub.pem'), 'utf8'));
    verifyManifest(m, [a], 1);
    expect(() => verifyManifest(m, [a, b], 2)).toThrow(/too-few-signatures/);
    expect(await cli('models', 'sign', path.join(dir, 'model.bin'), '--version', '3', '--url', 'x', '--pipeline', 'x', '--self-test-input', 'x', '--append', man, '--key', 'second', '--data', data)).toBe(0);
    const m2 = manifestSchema.parse(JSON.parse(readFileSync(man, 'utf8')));
    expect(m2.signatures).toHaveLength(2);
    verifyManifest(m2, [a, b], 2);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
  });

  it('refuses to overwrite a key and names a missing option', async () => {
    expect(await cli('models', 'keygen', '--data', data, '--out', path.join(dir, 'c.pub.pem'))).not.toBe(0);
    expect(await cli('models', 'sign', path.join(dir, 'model.bin'), '--url', 'http://h/x')).not.toBe(0);
  });
});

describe('fleet: section of a pipeline file', () => {
  const base = 'name: p\nsource: { type: stdin }\ntask: { type: sensor }\nrules: [{ name: r }]\nsafe_state: { description: d }\nallow: [127.0.0.1]\n';
  it('names the key that is wrong', () => {
    expect(() => parsePipelineYaml(`${base}fleet:\n  broker: mqtt://127.0.0.1:1883\n  device_id: "a/b"\n`)).toThrow(/fleet\.device_id \(line 9\)/);
    expect(() => parsePipelineYaml(`${base}fleet:\n  broker: mqtt://10.0.0.9:1883\n  device_id: a\n`)).toThrow(/fleet\.broker.*allow-list/);
    expect(() => parsePipelineYaml(`${base}fleet:\n  broker: mqtt://127.0.0.1:1883\n  device_id: a\n  helth_interval_s: 3\n`)).toThrow(/fleet\.helth_interval_s.*unknown key/);
    expect(() => parsePipelineYaml(`${base}fleet:\n  broker: mqtt://127.0.0.1:1883\n  device_id: a\n  rollout: { keys: [k.pem], threshold: 2 }\n`)).toThrow(/fleet\.rollout\.threshold/);
    expect(parsePipelineYaml(`${base}fleet:\n  broker: mqtt://127.0.0.1:1883\n  device_id: a\n`).fleet).toMatchObject({ prefix: 'cloudless', group: 'default', keepalive_s: 30 });
  });
});

describe.skipIf(!hasMosquitto())('cloudless fleet rollout / fleet --json / fleet events (real mosquitto)', () => {
  let broker: Broker;
  afterAll(async () => { await broker?.kill(); });
  it('publishes the manifest retained on the group topic and reads the fleet', async () => {
    broker = new Broker(await freePort());
    await broker.start();
    const sub = await subscribe(broker.url, 'cloudless/rollout/#');
    expect(await cli('fleet', 'rollout', path.join(dir, 'm.json'), '--pct', '20', '--broker', broker.url)).toBe(0);
    await until(() => sub.messages.length > 0, 5000, 'rollout message');
    expect(sub.messages[0]!.topic).toBe('cloudless/rollout/lab');
    expect(sub.messages[0]!.body).toMatchObject({ pct: 20, manifest: { version: 3 } });
    await sub.close();
    out = '';
    expect(await cli('fleet', '--json', '--seconds', '0.5', '--broker', broker.url, '--data', data)).toBe(0);
    expect(JSON.parse(out)).toEqual([]);
    out = '';
    expect(await cli('fleet', 'events', '--json', '--data', data)).toBe(0);
    expect(JSON.parse(out)).toEqual([]);
    writeFileSync(path.join(dir, 'bad.json'), '{"format": "x"}');
    expect(await cli('fleet', 'rollout', path.join(dir, 'bad.json'), '--broker', broker.url)).not.toBe(0);
  });
});
