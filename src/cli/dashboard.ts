import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { CloudlessError } from '../ir/index.js';
import { dataDir } from '../pipeline/paths.js';
import { setPassword } from '../server/auth.js';
import { DEFAULT_HOST, DEFAULT_PORT, passwordFileOf, startDashboard } from '../server/dashboard.js';
import { type ExitCodeSink, setProcessExitCode } from './detect.js';
import { EXIT, pc } from './output.js';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0..65535');
  return n;
}

/** Reads a line from stdin; on a terminal the typed characters are not echoed. */
function readSecretLine(prompt: string): Promise<string> {
  const tty = process.stdin.isTTY === true;
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: tty ? process.stderr : undefined, terminal: tty });
    if (tty) {
      process.stderr.write(prompt);
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
    }
    rl.once('line', (line) => { rl.close(); if (tty) process.stderr.write('\n'); resolve(line); });
    rl.once('close', () => reject(new CloudlessError('E_CONFIG', 'no password given on stdin')));
  });
}

/** bench/results of the project the command runs in, if there is one. */
function benchResultsDir(): string | undefined {
  const d = path.resolve('bench/results');
  return existsSync(d) ? d : undefined;
}

export function registerDashboardCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  const cmd = program.command('dashboard')
    .description('serve the local dashboard (pipelines, events, what left the device, models, bench, in-browser detection); loopback only unless a password is set')
    .option('--port <n>', `port (default ${DEFAULT_PORT}; 0 picks a free one)`, port, DEFAULT_PORT)
    .option('--host <addr>', `address to bind (default ${DEFAULT_HOST}); another than loopback needs \`cloudless dashboard passwd\``, DEFAULT_HOST)
    .option('--data <dir>', 'device data directory (default $CLOUDLESS_HOME or ~/.cloudless)')
    .option('--model <file...>', 'local model files to list beside the zoo')
    .option('--bench <dir>', 'bench results folder (default ./bench/results when present)')
    .action(async (o: { port: number; host: string; data?: string; model?: string[]; bench?: string }) => {
      const dash = await startDashboard({
        dataDir: dataDir(o.data), host: o.host, port: o.port, modelFiles: (o.model ?? []).map((f) => path.resolve(f)),
        benchDir: o.bench ? path.resolve(o.bench) : benchResultsDir(),
      });
      process.stderr.write(`dashboard: ${pc.bold(dash.url)}  (data ${dataDir(o.data)}; Ctrl-C stops)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => { void dash.close().then(resolve); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      setExitCode(EXIT.ok);
    });

  cmd.command('passwd')
    .description('set the dashboard password (read from stdin; stored as an scrypt hash, 0600, never in plain text)')
    .option('--data <dir>', 'device data directory (default $CLOUDLESS_HOME or ~/.cloudless)')
    .action(async (o: { data?: string }) => {
      const file = passwordFileOf(dataDir(o.data ?? cmd.opts<{ data?: string }>().data));
      const pw = await readSecretLine('new dashboard password: ');
      if (process.stdin.isTTY) {
        const again = await readSecretLine('again: ');
        if (again !== pw) throw new CloudlessError('E_CONFIG', 'the two passwords differ; nothing was changed');
      }
      await setPassword(file, pw);
      process.stderr.write(`dashboard password set (${file})\n`);
      setExitCode(EXIT.ok);
    });
}
