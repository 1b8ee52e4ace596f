/**
 * `cloudless fleet ...` (the fleet side: device table, event store, rollout,
 * model file server) and `cloudless models keygen|sign` (signed manifests).
 * Thin shells over src/fleet.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import mqtt from 'mqtt';
import { CloudlessError } from '../ir/index.js';
import {
  buildManifest, generateSigningKey, manifestSchema, resultDigest, rolloutTopic, selfTestFrame, signManifest,
  FleetMonitor, FleetStore, serveModels, taskWithModel, type DeviceRow, type Manifest, type UnsignedManifest,
} from '../fleet/index.js';
import { loadPipelineFile } from '../pipeline/config.js';
import { dataDir } from '../pipeline/paths.js';
import { SecretStore } from '../pipeline/secrets.js';
import { createTask } from '../pipeline/task.js';
import type { FrameKind } from '../pipeline/types.js';
import { EXIT, pc, table } from './output.js';

const number = (min: number, max: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}`);
  return n;
};
const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

interface BrokerOptions { broker: string; prefix: string; username?: string; passwordSecret?: string; ca?: string; data?: string }

const brokerOptions = (c: Command): Command => c
  .option('--broker <url>', 'the fleet broker (mqtt:// or mqtts://)', 'mqtt://127.0.0.1:1883')
  .option('--prefix <p>', 'topic prefix', 'cloudless')
  .option('--username <u>', 'broker user name')
  .option('--password-secret <name>', 'the broker password\'s name in the secret store')
  .option('--ca <file>', 'CA certificate (PEM) to pin for mqtts://')
  .option('--data <dir>', 'data directory (secret store, fleet store)');

const password = (o: BrokerOptions) => (o.passwordSecret ? new SecretStore(dataDir(o.data)).get(o.passwordSecret) : undefined);
const storeFile = (o: { store?: string; data?: string }) => o.store ?? path.join(dataDir(o.data), 'fleet-store.sqlite');

function deviceTable(rows: DeviceRow[], rates: Map<string, number>, windowS: number): string {
  return table(['device', 'status', 'boot', 'last seen', 'model', 'safe state', 'events', 'events/min'], rows.map((d) => [
    d.device, d.state === 'online' ? pc.green('online') : d.state === 'offline' ? pc.red('offline') : d.state, String(d.boot), d.lastSeen ?? '',
    d.health?.model ? `${d.health.model.name} v${d.health.model.version}` : d.model ? `v${d.model.running}` : '',
    d.health ? (d.health.safe_state ? pc.yellow('SAFE') : 'normal') : '', String(d.events), ((rates.get(d.device) ?? 0) * 60 / windowS).toFixed(1),
  ]), ['l', 'l', 'r', 'l', 'l', 'l', 'r', 'r']);
}

export function registerFleetCommand(program: Command): void {
  const fleet = brokerOptions(program.command('fleet')
    .description('the fleet: a live table of devices and their events, stored in a local SQLite fleet store')
    .option('--store <file>', 'fleet store file (default <data>/fleet-store.sqlite)')
    .option('--json', 'collect for --seconds, print the device table as JSON and exit')
    .option('--seconds <n>', 'with --json: how long to listen', number(0.1, 86_400), 3))
    .action(async (o: BrokerOptions & { store?: string; json?: boolean; seconds: number }) => {
      const store = new FleetStore(storeFile(o));
      const monitor = new FleetMonitor(store, { broker: o.broker, prefix: o.prefix, username: o.username, password: password(o), caFile: o.ca, clientId: `cloudless-fleet-${path.basename(storeFile(o))}` });
      try {
        if (o.json) {
          await new Promise((r) => setTimeout(r, o.seconds * 1000));
          process.stdout.write(`${JSON.stringify(store.devices(), null, 1)}\n`);
          return;
        }
        await new Promise<void>((resolve) => {
          const draw = () => {
            const rates = store.countsSince(Date.now() - 60_000);
            process.stdout.write(`\x1b[2J\x1b[H${pc.bold('cloudless fleet')} ${o.broker} (${monitor.client.connected ? pc.green('connected') : pc.red('not connected')}); Ctrl-C quits\n${deviceTable(store.devices(), rates, 60)}\n`);
          };
          const t = setInterval(draw, 2000);
          draw();
          process.once('SIGINT', () => { clearInterval(t); resolve(); });
        });
      } finally {
        await monitor.close();
        store.close();
      }
    });

  fleet.command('events')
    .description('events from every device in the fleet store, newest first')
    .option('--device <id>', 'only this device')
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .action((_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ device?: string; limit: number; store?: string; data?: string; json?: boolean }>();
      const store = new FleetStore(storeFile(o));
      try {
        const rows = store.list({ device: o.device, limit: o.limit });
        if (o.json) { process.stdout.write(`${JSON.stringify(rows, null, 1)}\n`); return; }
        process.stdout.write(`${table(['received', 'device', 'pipeline', 'rule', 'label', 'value', 'id'], rows.map((r) => [
          r.received, r.device, r.event.pipeline, r.event.rule, r.event.label ?? '', r.event.value?.toString() ?? '', r.id,
        ]))}\n${store.count()} events in ${storeFile(o)}\n`);
      } finally { store.close(); }
    });

  // The broker options are the fleet command's, recognised after the subcommand too (optsWithGlobals).
  fleet.command('rollout')
    .description('publish a signed manifest (retained) on its group\'s rollout topic, for --pct percent of the group')
    .argument('<manifest>', 'manifest JSON written by `cloudless models sign`')
    .option('--pct <p>', 'share of the group to reach now (at most the signed pct)', number(0, 100), 100)
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<BrokerOptions & { pct: number }>();
      const m = readManifest(file);
      if (o.pct > m.pct) process.stderr.write(`${pc.yellow('note')} the manifest allows ${m.pct} %; devices take min(${o.pct}, ${m.pct}) %\n`);
      const client = mqtt.connect(o.broker, { username: o.username, password: password(o), reconnectPeriod: 0, connectTimeout: 10_000, ...(o.ca ? { ca: readFileSync(o.ca), rejectUnauthorized: true } : {}) });
      try {
        await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); const fail = (why: string) => reject(new CloudlessError('E_CONFIG', `cannot reach broker ${o.broker}: ${why}`, { hint: 'check --broker, --username, --password-secret and --ca' }));
          client.once('error', (e) => fail(e.message)); client.once('close', () => fail('connection closed')); });
        const topic = rolloutTopic(o.prefix, m.group);
        await new Promise<void>((resolve, reject) => client.publish(topic, JSON.stringify({ manifest: m, pct: o.pct }), { qos: 1, retain: true }, (e) => (e ? reject(e) : resolve())));
        process.stdout.write(`${m.model} v${m.version} published on ${topic} for ${Math.min(o.pct, m.pct)} % of group ${m.group}\n`);
      } finally {
        await new Promise((r) => client.end(true, {}, () => r(undefined)));
      }
    });

  fleet.command('serve-models')
    .description('serve the model files of a folder over HTTP (loopback by default) for devices to fetch')
    .argument('<dir>', 'folder of model files')
    .option('--host <h>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port', positiveInt, 8765)
    .action(async (dir: string, o: { host: string; port: number }) => {
      const s = await serveModels(dir, { host: o.host, port: o.port });
      process.stdout.write(`serving ${path.resolve(dir)} at ${s.url}/<file>; Ctrl-C stops\n`);
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
      await s.close();
    });
}

function readManifest(file: string): Manifest {
  let json: unknown;
  try { json = JSON.parse(readFileSync(file, 'utf8')); } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read manifest ${file}: ${(err as Error).message}`, { file });
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) throw new CloudlessError('E_CONFIG', `${file}: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`, { file });
  return r.data;
}

const kindOf = (task: string): FrameKind => (task === 'classifier' || task === 'detector' ? 'image' : task === 'keyword' || task === 'vad' || task === 'level' ? 'audio' : 'sensor');

/** `cloudless models keygen` and `cloudless models sign`, added to the models command. */
export function registerModelSigningCommands(models: Command): void {
  models.command('keygen')
    .description('create an Ed25519 signing key: the private key goes encrypted into the secret store, the public key to a .pub.pem file')
    .option('--name <name>', 'secret name of the private key', 'model-signing')
    .option('--out <file>', 'where to write the public key (default <name>.pub.pem)')
    .option('--data <dir>', 'data directory holding the secret store')
    .action((o: { name: string; out?: string; data?: string }) => {
      const { publicPem, keyId } = generateSigningKey(new SecretStore(dataDir(o.data)), o.name);
      const out = o.out ?? `${o.name}.pub.pem`;
      writeFileSync(out, publicPem, { flag: 'wx' });
      process.stdout.write(`key ${keyId}: private key stored encrypted as secret "${o.name}", public key in ${out} (pin it under fleet.rollout.keys)\n`);
    });

  models.command('sign')
    .description('write a signed rollout manifest for a model file (version, sha256, size, self-test, group, share, expiry)')
    .argument('<model>', 'the model file devices will fetch')
    .requiredOption('--version <n>', 'monotonic version (devices refuse one at or below what they accepted)', positiveInt)
    .requiredOption('--url <url>', 'where devices fetch the model (e.g. http://host:8765/<file> from `fleet serve-models`)')
    .requiredOption('--pipeline <file>', 'a pipeline YAML whose task runs the model (for the self-test)')
    .requiredOption('--self-test-input <file>', 'the self-test frame (an image, raw 16-bit PCM audio or a sensor payload)')
    .option('--group <g>', 'device group', 'default')
    .option('--pct <p>', 'largest share of the group the rollout may reach', number(0, 100), 100)
    .option('--expires <date>', 'expiry (ISO 8601), checked by devices whose clock is trusted')
    .option('--key <name...>', 'secret name(s) of the signing key(s)', ['model-signing'])
    .option('--append <manifest>', 'add signatures to this manifest instead of building one (k-of-n signing)')
    .option('-o, --out <file>', 'manifest file (default <model>.manifest.json)')
    .option('--data <dir>', 'data directory holding the secret store')
    .action(async (model: string, o: { version: number; url: string; pipeline: string; selfTestInput: string; group: string; pct: number; expires?: string; key: string[]; append?: string; out?: string; data?: string }) => {
      const store = new SecretStore(dataDir(o.data));
      let unsigned: UnsignedManifest | Manifest;
      if (o.append) unsigned = readManifest(o.append);
      else {
        if (o.expires && Number.isNaN(Date.parse(o.expires))) throw new CloudlessError('E_CONFIG', `--expires: "${o.expires}" is not a date`);
        const cfg = await loadPipelineFile(o.pipeline);
        const bytes = readFileSync(model);
        const task = await createTask(taskWithModel(cfg.task, path.resolve(model)), { baseDir: path.dirname(path.resolve(o.pipeline)) });
        const frame = { kind: kindOf(cfg.task.type), data: new Uint8Array(readFileSync(o.selfTestInput)) };
        const out = await task.run({ ...frame, seq: 0, time: 0, source: 'self-test' });
        await task.close?.();
        unsigned = buildManifest({ model: path.basename(model), bytes, version: o.version, url: o.url, group: o.group, pct: o.pct, expires: o.expires, selfTest: { frame, outputSha256: resultDigest(out) } });
        // The device runs exactly this frame: check the round trip through base64 gives the same result.
        const again = await createTask(taskWithModel(cfg.task, path.resolve(model)), { baseDir: path.dirname(path.resolve(o.pipeline)) });
        if (resultDigest(await again.run(selfTestFrame(unsigned.self_test))) !== unsigned.self_test.output_sha256) throw new CloudlessError('E_INTERNAL', 'the self-test result is not reproducible: the model gives different results on the same input');
        await again.close?.();
      }
      const signed = signManifest(unsigned, store, o.key);
      const out = o.out ?? o.append ?? `${model}.manifest.json`;
      writeFileSync(out, `${JSON.stringify(signed, null, 1)}\n`);
      process.stdout.write(`${signed.model} v${signed.version} (${signed.size} bytes, sha256 ${signed.sha256.slice(0, 16)}…) signed by ${signed.signatures.map((s) => s.key_id).join(', ')}: ${out}\n`);
      void EXIT;
    });
}
