import { existsSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import { dataDir, dataPaths } from '../pipeline/paths.js';
import { modelStoreDir } from '../zoo/store.js';
import { type ExitCodeSink, setProcessExitCode } from './detect.js';
import { pc, EXIT } from './output.js';

/**
 * The files and folders `cloudless wipe` erases: ledger (with its WAL), secrets,
 * device key, logs and model store. With an explicit --data folder only that
 * folder's store goes; the default device also loses the user's model store.
 */
export function wipeTargets(dir: string, explicitDir: boolean): string[] {
  const p = dataPaths(dir);
  return [p.ledger, `${p.ledger}-wal`, `${p.ledger}-shm`, p.secrets, p.deviceKey, p.logs, p.models, ...(explicitDir ? [] : [modelStoreDir()])]
    .filter((f, i, all) => all.indexOf(f) === i);
}

export function registerWipeCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  program.command('wipe')
    .description('erase the ledger, secrets (and the device key), logs and model store')
    .option('--yes', 'really erase (without it, only list what would be erased)')
    .option('--json', 'print JSON')
    .option('--data <dir>', 'device data directory (default $CLOUDLESS_HOME or ~/.cloudless)')
    .action((o: { yes?: boolean; json?: boolean; data?: string }) => {
      const present = wipeTargets(dataDir(o.data), o.data !== undefined).filter((f) => existsSync(f));
      if (o.yes) for (const f of present) rmSync(f, { recursive: true, force: true });
      if (o.json) process.stdout.write(`${JSON.stringify({ erased: o.yes ? present : [], wouldErase: o.yes ? [] : present })}\n`);
      else if (!present.length) process.stdout.write('nothing to erase\n');
      else if (o.yes) process.stdout.write(`erased:\n${present.map((f) => `  ${f}`).join('\n')}\n`);
      else process.stdout.write(`would erase:\n${present.map((f) => `  ${f}`).join('\n')}\n${pc.yellow('run again with --yes to erase')}\n`);
      setExitCode(o.yes || !present.length ? EXIT.ok : EXIT.usage);
    });
}
