/**
 * Findings 6, 7 and 8 of issue 21: exit codes are the contract (0 ok, 1 some
 * inputs failed, 2 bad input or configuration, 3 a bug) on every verb and
 * through bin/cloudless.js; a lost device key is an error with a way out,
 * never a silent new key; symlinked images are followed; a malformed
 * secrets.json is a clear error; data files are 0600 and the data dir 0700.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectImages } from '../../src/cli/detect.js';
import { Ledger } from '../../src/pipeline/ledger.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { SecretStore } from '../../src/pipeline/secrets.js';
import { runCli } from '../cli/helpers.js';
import { opencvPhotosDir, repoRoot } from '../helpers/data.js';
import { until } from '../pipeline/mosquitto.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-cli-sec-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => { const d = path.join(root, `t${n++}`); mkdirSync(d, { recursive: true }); return d; };
const missing = path.join(root, 'no-such');

const pipelineYaml = (extra = '') => `name: p
source: { type: stdin }
task: { type: sensor }
rules: [{ name: hot, value_above: 30, actions: [hook] }]
actions:
  hook: { type: webhook, url: "http://127.0.0.1:9/x", token_secret: tok }
allow: [127.0.0.1]
safe_state: { description: hold }
${extra}`;

describe('exit codes per verb (in process)', () => {
  // Each verb given input that cannot work exits 2 with a CloudlessError, never 3 (a bug) and never 0.
  const bad: [string, string[]][] = [
    ['info', ['info', `${missing}.onnx`]],
    ['infer', ['infer', `${missing}.onnx`]],
    ['detect', ['detect', `${missing}.jpg`]],
    ['classify', ['classify', `${missing}.jpg`]],
    ['demo', ['demo', '--no-such-flag']],
    ['models', ['models', 'pull', 'no-such-model']],
    ['listen', ['listen', `${missing}.wav`]],
    ['bench', ['bench', `${missing}.onnx`]],
    ['run', ['run', `${missing}.yaml`]],
    ['events', ['events', '--no-such-flag']],
    ['audit', ['audit', '--no-such-flag']],
    ['secrets', ['secrets', 'remove', 'nope', '--data', missing]],
    ['wipe', ['wipe', '--no-such-flag']],
    ['quantize', ['quantize', `${missing}.onnx`]],
    ['convert', ['convert', `${missing}.onnx`, '-o', path.join(root, 'x.onnx')]],
  ];
  for (const [verb, args] of bad) {
    it(`${verb}: bad input exits 2`, async () => {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(/internal error/);
    });
  }

  it('ok paths exit 0: models list, events, audit, secrets list', async () => {
    const data = fresh();
    for (const args of [['models', 'list'], ['events', '--data', data], ['audit', '--data', data], ['secrets', 'list', '--data', data]]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
    }
  });

  it('run: a pipeline whose inputs partly fail exits 1; a YAML alias bomb exits 2 with a clear error', async () => {
    const dir = fresh();
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, `name: p\nsource: { type: stdin }\ntask: { type: sensor }\nrules: [{ name: hot, value_above: 30 }]\nsafe_state: { description: hold }\n`);
    // The stdin source reads the test runner's stdin: give it lines, one unreadable.
    const { Readable } = await import('node:stream');
    const stdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: Readable.from([Buffer.from('31\nnot-a-number\n')]), configurable: true });
    try {
      const r = await runCli(['run', file, '--data', path.join(dir, 'data')]);
      expect(r.code, r.stderr).toBe(1);
    } finally {
      Object.defineProperty(process, 'stdin', stdin);
    }
    const a = '[x, x, x, x, x, x, x, x, x]';
    const bomb = `a: &a ${a}\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`;
    writeFileSync(file, bomb);
    const r = await runCli(['run', file, '--check', '--data', path.join(dir, 'data')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_CONFIG: .*p\.yaml: .*alias/i);
  });

  it('run --check says not ok when the device key is missing, and a directory in place of device.key is a clear error (exit 2)', async () => {
    const dir = fresh();
    const data = path.join(dir, 'data');
    new SecretStore(data).set('tok', 'value');
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, pipelineYaml());
    expect((await runCli(['run', file, '--check', '--data', data])).code).toBe(0);
    unlinkSync(path.join(data, 'device.key'));
    const r = await runCli(['run', file, '--check', '--json', '--data', data]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, problems: [expect.stringMatching(/device key .* is missing/)] });
    mkdirSync(path.join(data, 'device.key'));
    expect(() => new SecretStore(data).set('other', 'v')).toThrow(/device key .*device\.key cannot be read/);
    const s = await runCli(['run', file, '--data', data]);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/E_CONFIG: device key .*device\.key cannot be read/);
  });
});

const bin = path.join(repoRoot, 'bin', 'cloudless.js');
const built = existsSync(path.join(repoRoot, 'dist', 'cli', 'main.js'));
const cliBin = (args: string[], input?: string) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input, env: { ...process.env, NO_COLOR: '1' } });

describe.skipIf(!built)('bin/cloudless.js passes main\'s code on (needs `npm run build`)', () => {
  it('run --check with a problem exits 1, not 0', () => {
    const dir = fresh();
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, pipelineYaml());
    const r = cliBin(['run', file, '--check', '--data', path.join(dir, 'data')]);
    expect(r.stdout).toMatch(/1 problem\(s\)/);
    expect(r.status).toBe(1);
  });

  it('`models list | head -1` ends quietly: no EPIPE stack', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${bin}" models list | head -1`], { encoding: 'utf8' });
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
    // A reader gone before the first write (`| true` exits at once) is the sure way to get EPIPE.
    const gone = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${bin}" models list | true`], { encoding: 'utf8' });
    expect(gone.stderr).not.toMatch(/EPIPE|Error|internal/);
    expect(gone.status).toBe(0);
  });
});

describe('secrets: a lost device key', () => {
  it('refuses to make a new key over stored secrets; `secrets reset` says what it discards', async () => {
    const data = path.join(fresh(), 'data');
    const store = new SecretStore(data);
    store.set('mqtt_pass', 'one');
    store.set('hook_token', 'two');
    unlinkSync(path.join(data, 'device.key'));
    expect(() => store.set('new', 'three')).toThrow(/device key .* is missing, and 2 stored secret\(s\) \(hook_token, mqtt_pass\).*refusing/);
    expect(existsSync(path.join(data, 'device.key'))).toBe(false);
    const dry = await runCli(['secrets', 'reset', '--data', data]);
    expect(dry.code).toBe(2);
    expect(dry.stdout).toMatch(/would discard 2 secret\(s\): hook_token, mqtt_pass and no device key/);
    const done = await runCli(['secrets', 'reset', '--yes', '--data', data]);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/discarded 2 secret\(s\): hook_token, mqtt_pass/);
    store.set('new', 'three');
    expect(store.get('new')).toBe('three');
  });

  it('a malformed secrets.json is a clear error, not "0 undefined"', async () => {
    const data = fresh();
    for (const text of ['[1, 2]', '{"a": 1}', '"x"']) {
      writeFileSync(path.join(data, 'secrets.json'), text);
      const r = await runCli(['secrets', 'list', '--data', data]);
      expect(r.code, text).toBe(2);
      expect(r.stderr).toMatch(/E_FORMAT: secret store .*secrets\.json is corrupt/);
      expect(r.stdout).not.toMatch(/undefined/);
    }
  });
});

describe('files and folders', () => {
  it('the ledger, its WAL files and the data dir are private (0600 / 0700)', async () => {
    const data = path.join(fresh(), 'data');
    const old = process.umask(0o022);
    try {
      const l = new Ledger(path.join(data, 'ledger.sqlite'));
      l.record({ id: 'e1', pipeline: 'p', kind: 'rule', rule: 'r', time: new Date().toISOString() }, []);
      for (const f of ['ledger.sqlite', 'ledger.sqlite-wal', 'ledger.sqlite-shm']) {
        if (existsSync(path.join(data, f))) expect(statSync(path.join(data, f)).mode & 0o777, f).toBe(0o600);
      }
      expect(statSync(data).mode & 0o777).toBe(0o700);
      l.close();
    } finally {
      process.umask(old);
    }
  });

  const photos = opencvPhotosDir();
  it.skipIf(!photos)('a listed folder follows symlinked images and names a broken link', async () => {
    const dir = fresh();
    symlinkSync(path.join(photos!, 'fruits.jpg'), path.join(dir, 'linked.jpg'));
    copyFileSync(path.join(photos!, 'apple.jpg'), path.join(dir, 'plain.jpg'));
    symlinkSync(path.join(dir, 'gone.jpg'), path.join(dir, 'broken.jpg'));
    let err = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((c: string) => { err += c; return true; }) as typeof process.stderr.write;
    try {
      const { files } = await collectImages(dir);
      expect(files.map((f) => path.basename(f))).toEqual(['linked.jpg', 'plain.jpg']);
    } finally {
      process.stderr.write = write;
    }
    expect(err).toMatch(/broken\.jpg: symbolic link to nothing/);
  });

  it.skipIf(!photos)('a watched folder takes a symlinked image and logs a broken link', async () => {
    const dir = fresh();
    const drop = path.join(dir, 'drop');
    mkdirSync(drop);
    symlinkSync(path.join(photos!, 'fruits.jpg'), path.join(drop, 'linked.jpg'));
    symlinkSync(path.join(drop, 'gone.jpg'), path.join(drop, 'broken.jpg'));
    const seen: string[] = [];
    const p = await Pipeline.create({
      name: 'watch', source: { type: 'folder', path: drop, delete_after: false, settle_ms: 0 },
      task: { type: 'module', path: 'unused' }, rules: [{ name: 'r' }], safe_state: { description: 'hold' },
    } as never, {
      dataDir: path.join(dir, 'data'), maxFrames: 1,
      task: { name: 'bytes', accepts: ['image'], async run(f) { seen.push(`${f.source}:${f.data.length}`); return { findings: [] }; } },
    });
    await p.start();
    await until(() => seen.length === 1, 5000, 'the linked image');
    await p.stop();
    expect(seen).toEqual([`folder:drop:${statSync(path.join(photos!, 'fruits.jpg')).size}`]);
    const log = readFileSync(path.join(dir, 'data', 'logs', 'watch.log'), 'utf8');
    expect(log).toMatch(/"msg":"skipped","file":"broken\.jpg","reason":"a broken symbolic link"/);
  });
});
