import { Command, Option } from 'commander';
import { CloudlessError, shapeToString } from '../ir/index.js';
import { modelInfo, printInfo } from './info.js';
import { runInfer } from './infer.js';
import { pc, EXIT, reportError, table } from './output.js';
import { registerBenchCommand } from './bench.js';
import { registerDetectCommand, threadsOption } from './detect.js';
import { registerClassifyCommand } from './classify.js';
import { registerDemoCommand } from './demo.js';
import { registerModelsCommand } from './models.js';
import { registerListenCommand } from './listen.js';
import { registerRunCommand } from './run.js';
import { registerEventsCommand } from './events.js';
import { registerAuditCommand } from './audit.js';
import { registerSecretsCommand } from './secrets.js';
import { registerWipeCommand } from './wipe.js';
import { registerQuantizeCommand } from './quantize.js';
import { registerConvertCommand } from './convert.js';
import { registerCompileCommand } from './compile.js';
import { registerDashboardCommand } from './dashboard.js';
import { registerFleetCommand } from './fleet.js';
import { registerRobustnessCommand } from './robustness.js';

const backendOption = () => new Option('--backend <name>', 'kernels to use').choices(['auto', 'ref', 'wasm']).default('auto');
const arithmeticOption = () => new Option('--int8-arithmetic <mode>', 'int8 arithmetic to match bit for bit')
  .choices(['tflite-xnnpack', 'tflite-reference']).default('tflite-xnnpack');

/**
 * The command-line interface; returns the process exit code, which is the
 * contract: 0 ok, 1 the job ran but some inputs failed, 2 bad usage, input or
 * configuration, 3 a bug in cloudless. Every verb reports through
 * setExitCode, so the returned code is the whole answer (bin/cloudless.js
 * only passes it on).
 */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command();
  program
    .name('cloudless')
    .description('Machine learning at the edge: run models offline, act on what they find, forget the data.')
    .showHelpAfterError()
    .exitOverride()
    .option('--max-arena-mb <n>', 'refuse a model whose planned memory (arena, one tensor, folded constants) is over n MiB (default: a quarter of this machine\'s memory)')
    .option('--max-tensor-elements <n>', 'refuse a model with a tensor over n elements (default: 2^30, or less on small machines)')
    .hook('preAction', (cmd) => {
      const o = cmd.opts<{ maxArenaMb?: string; maxTensorElements?: string }>();
      for (const [flag, v, env] of [['--max-arena-mb', o.maxArenaMb, 'CLOUDLESS_MAX_ARENA_MB'], ['--max-tensor-elements', o.maxTensorElements, 'CLOUDLESS_MAX_TENSOR_ELEMENTS']] as const) {
        if (v === undefined) continue;
        if (!(Number(v) > 0)) throw new CloudlessError('E_CONFIG', `${flag} ${v}: expected a positive number`);
        process.env[env] = v;
      }
    });

  program.command('info')
    .description('show a model\'s format, inputs, outputs, ops, parameters and planned memory')
    .argument('<model>', '.onnx, .tflite or TF.js model.json')
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .action(async (model: string, o: { json?: boolean; backend: 'auto' | 'ref' }) => {
      const info = await modelInfo(model, o.backend);
      process.stdout.write(o.json ? `${JSON.stringify(info, null, 2)}\n` : `${printInfo(info)}\n`);
      if (info.unsupported.length) code = EXIT.partial;
    });

  program.command('infer')
    .description('run a model on NumPy .npy inputs and write each output as DIR/<output>.npy')
    .argument('<model>', '.onnx, .tflite or TF.js model.json')
    .option('-i, --input <NAME=FILE.npy...>', 'an input tensor (repeat for several)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('-o, --out <dir>', 'folder for the output .npy files')
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .addOption(arithmeticOption())
    .addOption(threadsOption())
    .action(async (model: string, o: { input: string[]; out?: string; json?: boolean; backend: 'auto' | 'ref' | 'wasm'; int8Arithmetic: 'tflite-xnnpack' | 'tflite-reference'; threads: number }) => {
      const r = await runInfer(model, { inputs: o.input, out: o.out, backend: o.backend, int8Arithmetic: o.int8Arithmetic, threads: o.threads });
      if (o.json) { process.stdout.write(`${JSON.stringify(r)}\n`); return; }
      process.stdout.write(`${pc.bold(model)}: ${r.ms.toFixed(1)} ms\n`);
      process.stdout.write(`${table(['output', 'dtype', 'shape', 'min', 'max', 'mean', 'file'], r.outputs.map((x) => [
        x.name, x.dtype, shapeToString(x.shape), fmt(x.min), fmt(x.max), fmt(x.mean), x.file ?? '',
      ]))}\n`);
    });

  const setExitCode = (c: number): void => { code = Math.max(code, c); };
  registerDemoCommand(program, setExitCode);
  registerDetectCommand(program, setExitCode);
  registerClassifyCommand(program, setExitCode);
  registerModelsCommand(program, setExitCode);
  registerListenCommand(program, setExitCode);
  registerBenchCommand(program);
  registerRunCommand(program, setExitCode);
  registerEventsCommand(program, setExitCode);
  registerAuditCommand(program, setExitCode);
  registerSecretsCommand(program, setExitCode);
  registerWipeCommand(program, setExitCode);
  registerQuantizeCommand(program);
  registerConvertCommand(program);
  registerCompileCommand(program, setExitCode);
  registerDashboardCommand(program, setExitCode);
  registerFleetCommand(program);
  registerRobustnessCommand(program, setExitCode);

  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT.ok : EXIT.usage;
    }
    return reportError(err, argv.includes('--json'));
  }
  return code;
}

function fmt(x: number | undefined): string {
  return x === undefined ? '' : Number.isInteger(x) ? String(x) : x.toPrecision(5);
}
