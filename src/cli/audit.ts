import type { Command } from 'commander';
import { type ExitCodeSink, setProcessExitCode } from './detect.js';
import { openLedger } from './events.js';
import { pc, EXIT, formatBytes, table } from './output.js';

/**
 * What left the device, from the ledger: event counts per rule, and per
 * destination the events and bytes delivered and what is still pending. Raw
 * data has no path out (only events reach sinks), so the report is complete.
 */
export function registerAuditCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  program.command('audit')
    .description('report what left the device: events per rule, and per destination the events and bytes sent')
    .option('--json', 'print JSON')
    .option('--data <dir>', 'device data directory (default $CLOUDLESS_HOME or ~/.cloudless)')
    .action((o: { json?: boolean; data?: string }) => {
      const ledger = openLedger(o.data);
      const report = ledger
        ? { events: ledger.counts(), destinations: ledger.totals(), rawDataSent: 0 }
        : { events: [], destinations: [], rawDataSent: 0 };
      ledger?.close();
      if (o.json) process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
      else {
        process.stdout.write(`${pc.bold('events recorded')}\n${report.events.length
          ? table(['pipeline', 'kind', 'rule', 'events'], report.events.map((e) => [e.pipeline, e.kind, e.rule, e.events]), ['l', 'l', 'l', 'r'])
          : 'none'}\n\n`);
        process.stdout.write(`${pc.bold('sent off the device')}\n${report.destinations.length
          ? table(['sink', 'destination', 'events', 'bytes', 'pending'], report.destinations.map((d) => [d.sink, d.destination, d.events, formatBytes(d.bytes), d.pending]), ['l', 'l', 'r', 'r', 'r'])
          : 'nothing: no network action has delivered an event'}\n\nraw data sent: none (only events leave a pipeline)\n`);
      }
      setExitCode(EXIT.ok);
    });
}
