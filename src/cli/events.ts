import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { Ledger } from '../pipeline/ledger.js';
import { dataDir, dataPaths } from '../pipeline/paths.js';
import { type ExitCodeSink, setProcessExitCode } from './detect.js';
import { pc, EXIT, table } from './output.js';

/** Opens the ledger of a data directory, or undefined when no pipeline has run there yet. */
export function openLedger(data?: string): Ledger | undefined {
  const file = dataPaths(dataDir(data)).ledger;
  return existsSync(file) ? new Ledger(file) : undefined;
}

export function registerEventsCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  program.command('events')
    .description('list the events in the local ledger, newest first, with their delivery state (--json exports them)')
    .option('--json', 'print the events as a JSON array (oldest first), for export')
    .option('--limit <n>', 'at most this many events (default 50; 0 = all)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
      return n;
    }, 50)
    .option('--pipeline <name>', 'only this pipeline\'s events')
    .option('--data <dir>', 'device data directory (default $CLOUDLESS_HOME or ~/.cloudless)')
    .action((o: { json?: boolean; limit: number; pipeline?: string; data?: string }) => {
      const ledger = openLedger(o.data);
      if (!ledger) {
        process.stdout.write(o.json ? '[]\n' : 'no events: no pipeline has run with this data directory\n');
        setExitCode(EXIT.ok);
        return;
      }
      try {
        const rows = ledger.list({ limit: o.limit || undefined, pipeline: o.pipeline, ascending: false });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(rows.reverse().map((r) => ({ ...r.event, deliveries: r.deliveries })), null, 1)}\n`);
        } else {
          process.stdout.write(`${table(['time', 'pipeline', 'rule', 'label', 'score', 'delivery'], rows.map((r) => [
            r.time, r.pipeline, r.kind === 'state' ? `${r.rule}:${r.event.state}` : r.rule, r.event.label ?? '', r.event.score?.toFixed(2) ?? '',
            r.deliveries.map((d) => `${d.sink} ${d.status === 'delivered' ? pc.green('delivered') : pc.yellow(`pending (${d.attempts} tries)`)}`).join(', ') || 'ledger only',
          ]))}\n${ledger.count()} events in the ledger, ${ledger.pendingCount()} deliveries pending\n`);
        }
      } finally {
        ledger.close();
      }
      setExitCode(EXIT.ok);
    });
}
