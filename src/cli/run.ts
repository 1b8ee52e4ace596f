import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadPipelineFile, type PipelineConfig } from '../pipeline/config.js';
import { dataDir } from '../pipeline/paths.js';
import { startFleetPipeline } from '../fleet/run.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { SecretStore } from '../pipeline/secrets.js';
import type { PipelineEvent } from '../pipeline/types.js';
import { type ExitCodeSink, setProcessExitCode, threadsOption } from './detect.js';
import { pc, EXIT } from './output.js';

export interface RunCommandOptions {
  check?: boolean;
  json?: boolean;
  data?: string;
  maxFrames?: number;
  backend: 'auto' | 'ref' | 'wasm';
  threads?: number;
}

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

/** What --check verifies beyond the schema: referenced secrets exist and model or module files are present. */
function checkResources(cfg: PipelineConfig, baseDir: string, data: string): string[] {
  const problems: string[] = [];
  const secrets = new SecretStore(data);
  const names = [
    ...Object.entries(cfg.actions).map(([n, a]) => [`actions.${n}`, a.type === 'mqtt' ? a.password_secret : a.type === 'webhook' ? a.token_secret : undefined] as const),
    ['source', cfg.source.type === 'mqtt' ? cfg.source.password_secret : undefined] as const,
  ];
  for (const [where, secret] of names) {
    if (!secret) continue;
    if (!secrets.has(secret)) { problems.push(`${where}: secret "${secret}" is not set (cloudless secrets set ${secret})`); continue; }
    // Present is not enough: it must open (the device key may be missing or another device's).
    try { secrets.get(secret); } catch (err) { problems.push(`${where}: ${(err as Error).message}`); }
  }
  const t = cfg.task;
  const file = t.type === 'module' ? t.path : (t.type === 'classifier' || t.type === 'detector') && /[\\/]|\.\w+$/.test(t.model) ? t.model : undefined;
  if (file && !existsSync(path.resolve(baseDir, file))) problems.push(`task: ${path.resolve(baseDir, file)} not found`);
  if (cfg.source.type === 'folder' && !existsSync(path.resolve(baseDir, cfg.source.path))) {
    problems.push(`source.path: folder ${path.resolve(baseDir, cfg.source.path)} does not exist (the pipeline would start in its safe state)`);
  }
  return problems;
}

function describePipeline(cfg: PipelineConfig): string {
  const actions = Object.entries(cfg.actions).map(([n, a]) => `${n} (${a.type})`);
  return [
    `${pc.bold(cfg.name)}: ${cfg.source.type} -> ${cfg.task.type} -> ${cfg.rules.length} rule(s) -> ledger${actions.length ? `, ${actions.join(', ')}` : ''}`,
    `  allow: ${cfg.allow.length ? cfg.allow.join(', ') : 'none (local ledger only)'}`,
    `  safe state: ${cfg.safe_state.description}`,
  ].join('\n');
}

function formatEvent(e: PipelineEvent): string {
  if (e.kind === 'state' && e.state === 'stopped') return `${e.time} stopped`;
  if (e.kind === 'state') return `${e.time} ${e.state === 'safe' ? pc.yellow('SAFE STATE') : pc.green('normal')}${e.causes?.length ? ` (${e.causes.join(', ')})` : ''}`;
  const parts = [e.label, e.score !== undefined ? e.score.toFixed(2) : undefined, e.count !== undefined && e.count > 1 ? `x${e.count}` : undefined,
    e.box ? `[${e.box.join(', ')}]` : undefined, e.value !== undefined ? `value ${e.value}` : undefined].filter(Boolean);
  return `${e.time} ${pc.bold(e.rule)} ${parts.join(' ')}`;
}

export async function runPipelineCommand(file: string, o: RunCommandOptions): Promise<number> {
  const cfg = await loadPipelineFile(file);
  const baseDir = path.dirname(path.resolve(file));
  const data = dataDir(o.data);
  if (o.check) {
    const problems = checkResources(cfg, baseDir, data);
    if (o.json) process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, pipeline: cfg.name, problems })}\n`);
    else {
      process.stdout.write(`${describePipeline(cfg)}\n`);
      for (const p of problems) process.stdout.write(`${pc.yellow('warning')} ${p}\n`);
      process.stdout.write(problems.length ? `${problems.length} problem(s)\n` : `${pc.green('ok')}\n`);
    }
    return problems.length ? EXIT.partial : EXIT.ok;
  }

  const popts = {
    dataDir: data, baseDir, backend: o.backend, threads: o.threads, maxFrames: o.maxFrames,
    echo: o.json ? undefined : (line: string) => process.stderr.write(`${pc.dim(line)}\n`),
  };
  // With a fleet: section the device reports to its fleet broker and takes signed rollouts (src/fleet).
  const fleet = cfg.fleet ? await startFleetPipeline(cfg, popts) : undefined;
  const pipeline = fleet?.pipeline ?? await Pipeline.create(cfg, popts);
  pipeline.on('event', (e: PipelineEvent) => process.stdout.write(o.json ? `${JSON.stringify(e)}\n` : `${formatEvent(e)}\n`));
  let signalled = false;
  const stopAll = () => (fleet ? fleet.stop() : pipeline.stop());
  const onSignal = () => { signalled = true; void stopAll(); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (!o.json) process.stderr.write(`${describePipeline(cfg)}\n  data: ${data}\n  running; Ctrl-C stops\n`);
  try {
    await pipeline.start();
    await pipeline.done;
    await stopAll();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const s = pipeline.stats();
  const code = s.badFrames || s.modelErrors ? EXIT.partial : EXIT.ok;
  if (o.json) process.stdout.write(`${JSON.stringify({ stopped: signalled ? 'signal' : 'source ended', stats: s })}\n`);
  else {
    process.stderr.write(`${s.framesDecided} frames decided, ${s.framesDropped} dropped, ${s.events} events, ${s.pending} pending delivery` +
      `${s.badFrames ? `, ${s.badFrames} unreadable frames` : ''}${s.modelErrors ? `, ${s.modelErrors} model errors` : ''}\n`);
  }
  return code;
}

export function registerRunCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  program.command('run')
    .description('run a pipeline (source -> model -> rules -> actions) until stopped; raw data is zeroed after each decision')
    .argument('<pipeline.yaml>', 'the pipeline file')
    .option('--check', 'validate the pipeline (schema, allow-list, secrets, files) without running it')
    .option('--json', 'print events and the final summary as JSON lines')
    .option('--data <dir>', 'device data directory (default $CLOUDLESS_HOME or ~/.cloudless)')
    .option('--max-frames <n>', 'stop after this many frames', positiveInt)
    .addOption(new Option('--backend <name>', 'kernels to use').choices(['auto', 'ref', 'wasm']).default('auto'))
    .addOption(threadsOption())
    .action(async (file: string, o: RunCommandOptions) => {
      setExitCode(await runPipelineCommand(file, o));
    });
}
