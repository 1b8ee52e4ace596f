import type { Command } from 'commander';
import { CloudlessError } from '../ir/index.js';
import { dataDir } from '../pipeline/paths.js';
import { SecretStore } from '../pipeline/secrets.js';
import { type ExitCodeSink, setProcessExitCode } from './detect.js';
import { EXIT, table } from './output.js';

/** Reads a secret value from stdin (never from argv, which other users can see in the process list). */
async function readValue(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  const value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  for (const c of chunks) c.fill(0);
  return value;
}

export function registerSecretsCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode, stdin: NodeJS.ReadableStream = process.stdin): void {
  const secrets = program.command('secrets').description('store MQTT passwords and webhook tokens encrypted (AES-GCM, device key); values are never printed');
  const store = (o: { data?: string }) => new SecretStore(dataDir(o.data));

  secrets.command('set')
    .description('set a secret; the value is read from stdin (e.g. `printf %s "$PW" | cloudless secrets set mqtt_pass`)')
    .argument('<name>', 'the name pipelines use (password_secret / token_secret)')
    .option('--data <dir>', 'device data directory')
    .action(async (name: string, o: { data?: string }) => {
      if ((stdin as { isTTY?: boolean }).isTTY) process.stderr.write(`value for ${name} (end with Ctrl-D): `);
      const value = await readValue(stdin);
      if (!value) throw new CloudlessError('E_CONFIG', `secret ${name}: no value on stdin`, { hint: `printf %s "$VALUE" | cloudless secrets set ${name}` });
      store(o).set(name, value);
      process.stdout.write(`secret ${name} stored (encrypted)\n`);
      setExitCode(EXIT.ok);
    });

  secrets.command('list')
    .description('list secret names (never values)')
    .option('--json', 'print JSON')
    .option('--data <dir>', 'device data directory')
    .action((o: { json?: boolean; data?: string }) => {
      const list = store(o).list();
      if (o.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else process.stdout.write(list.length ? `${table(['name', 'set at'], list.map((s) => [s.name, s.created]))}\n` : 'no secrets\n');
      setExitCode(EXIT.ok);
    });

  secrets.command('remove')
    .description('remove a secret')
    .argument('<name>')
    .option('--data <dir>', 'device data directory')
    .action((name: string, o: { data?: string }) => {
      if (!store(o).remove(name)) throw new CloudlessError('E_CONFIG', `secret "${name}" is not set`);
      process.stdout.write(`secret ${name} removed\n`);
      setExitCode(EXIT.ok);
    });

  secrets.command('reset')
    .description('discard every stored secret and the device key (the way out when device.key is lost); lists what it discards')
    .option('--yes', 'really discard them')
    .option('--data <dir>', 'device data directory')
    .action((o: { yes?: boolean; data?: string }) => {
      const s = store(o);
      const inv = s.inventory();
      const what = [
        inv.secrets.length ? `${inv.secrets.length} secret(s): ${inv.secrets.join(', ')}` : inv.unreadable ? 'an unreadable secret store' : 'no secrets',
        inv.key ? 'the device key' : 'no device key',
      ].join(' and ');
      if (!o.yes) {
        process.stdout.write(`would discard ${what}; the ledger and models are kept. Run again with --yes to do it.\n`);
        setExitCode(inv.secrets.length || inv.unreadable || inv.key ? EXIT.usage : EXIT.ok);
        return;
      }
      s.reset();
      process.stdout.write(`discarded ${what}; set the secrets again with \`cloudless secrets set NAME\`\n`);
      setExitCode(EXIT.ok);
    });
}
