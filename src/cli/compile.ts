/**
 * `cloudless compile <model> --target c -o <dir>`: writes the model as a
 * dependency-free C99 package (src/codegen) and prints its flash and RAM;
 * `--verify --input NAME=FILE.npy` builds it, runs it (host gcc, or firmware
 * under QEMU with `--on cortex-m4|cortex-m0plus`), writes its outputs as .npy
 * and exits 1 unless they equal the engine's bit for bit.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { CloudlessError, Tensor, type Int8Arithmetic } from '../ir/index.js';
import { parseNpy, serializeNpy } from '../formats/npy.js';
import { readModel } from '../runtime/load.js';
import { Session } from '../runtime/session.js';
import { emitC } from '../codegen/emit-graph.js';
import { emitClassicC, isClassicGraph } from '../codegen/ml/index.js';
import { buildAndRun, type VerifyTarget } from '../codegen/verify.js';
import { MACHINES } from '../codegen/targets/cortex-m.js';
import type { CPackage } from '../codegen/package.js';
import { fileSafeName } from './infer.js';
import { EXIT, pc } from './output.js';

export interface CompileOptions {
  target: string;
  output: string;
  name?: string;
  int8Arithmetic: Int8Arithmetic;
  verify?: boolean;
  input: string[];
  out?: string;
  on: VerifyTarget;
  features: 'float' | 'int16';
}

/** A rough code size of the kernels: measured -Os Cortex-M4 sizes are 1-3 KB per kernel family. */
const CODE_ESTIMATE_PER_FILE = 1200;

function summary(pkg: CPackage, dir: string): string {
  const kernels = ((pkg.files['cloudless_kernels.c'] ?? '').match(/^void cl_/gm) ?? []).length;
  const code = kernels * CODE_ESTIMATE_PER_FILE;
  return [
    `${pc.bold(pkg.name)} → ${dir}: ${Object.keys(pkg.files).join(', ')}`,
    `  flash: ${pkg.constBytes} B constants + ~${code} B code (estimate; --verify --on cortex-m4 measures it)`,
    `  RAM:   ${pkg.arenaBytes} B arena (${pkg.name.toUpperCase()}_ARENA_BYTES) + stack (measured with --verify on a Cortex-M target)`,
  ].join('\n');
}

async function readInputs(pkg: CPackage, specs: string[]): Promise<Tensor[]> {
  const byName = new Map<string, Tensor>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new CloudlessError('E_CONFIG', `--input "${spec}" must look like NAME=FILE.npy`);
    const file = spec.slice(eq + 1);
    let bytes: Uint8Array;
    try { bytes = new Uint8Array(await readFile(file)); } catch (err) {
      throw new CloudlessError('E_FILE', `cannot read input file ${file}: ${(err as Error).message}`, { file });
    }
    byName.set(spec.slice(0, eq), parseNpy(bytes, file));
  }
  return pkg.inputs.map((i) => {
    const t = byName.get(i.name);
    if (!t) throw new CloudlessError('E_CONFIG', `--verify needs --input ${i.name}=FILE.npy (${i.dtype} [${i.shape.join(', ')}])`);
    return t;
  });
}

/** Compiles (and with `verify`, checks) a model; returns the exit code. */
export async function runCompile(model: string, o: CompileOptions): Promise<number> {
  if (o.target !== 'c') throw new CloudlessError('E_CONFIG', `--target ${o.target}: the only target is c`);
  const graph = await readModel(model);
  const name = o.name ?? path.basename(model).replace(/\.[^.]*$/, '');
  const classic = isClassicGraph(graph);
  if (!classic && o.features !== 'float') {
    throw new CloudlessError('E_CONFIG', `${model}: --features ${o.features} applies to classic ONNX-ML models only; this is a neural graph`, {
      hint: 'quantize a neural model with `cloudless quantize` instead',
    });
  }
  if (classic && o.features === 'int16' && o.verify) {
    throw new CloudlessError('E_CONFIG', `${model}: --verify compares the C outputs with the engine, which runs the float model; --features int16 outputs are not meant to equal it bit for bit`, {
      hint: 'verify with --features float; docs/micro.md gives how many labels int16 features change',
    });
  }
  const pkg = classic
    ? emitClassicC(graph, { name, features: o.features })
    : emitC(graph, { name, int8Arithmetic: o.int8Arithmetic });
  await mkdir(o.output, { recursive: true });
  for (const [file, text] of Object.entries(pkg.files)) await writeFile(path.join(o.output, file), text);
  process.stdout.write(`${summary(pkg, o.output)}\n`);
  if (o.on !== 'host') {
    const m = MACHINES[o.on];
    const needed = pkg.arenaBytes + m.stackBytes;
    if (needed > m.ramBytes) {
      throw new CloudlessError('E_UNSUPPORTED', `${model}: the arena (${pkg.arenaBytes} B) and stack (${m.stackBytes} B) need ${needed} B of RAM; ${o.on} (QEMU ${m.machine}) has ${m.ramBytes} B`, {
        hint: 'pick a target with more RAM, or a smaller model',
      });
    }
  }
  if (!o.verify) return EXIT.ok;
  const inputs = await readInputs(pkg, o.input);
  const session = new Session(graph, { backend: 'ref', int8Arithmetic: o.int8Arithmetic });
  const want = session.runSync(Object.fromEntries(pkg.inputs.map((i, k) => [i.name, inputs[k]!])));
  const got = await buildAndRun(pkg, inputs, { on: o.on });
  if (got.status !== 0) {
    process.stdout.write(`${pc.red('FAIL')} ${pkg.name}_invoke returned ${got.status}\n`);
    return EXIT.partial;
  }
  let same = true;
  if (o.out) await mkdir(o.out, { recursive: true });
  for (const [k, info] of pkg.outputs.entries()) {
    const w = want[info.name]!;
    const wb = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    const gb = got.outputs[k]!;
    let differ = 0;
    for (let i = 0; i < Math.max(wb.length, gb.length); i++) if (wb[i] !== gb[i]) differ++;
    if (wb.length !== gb.length || differ > 0) same = false;
    process.stdout.write(`  output ${info.name}: ${differ === 0 && wb.length === gb.length ? pc.green('bit-exact') : pc.red(`${differ} bytes differ`)} with the engine (${o.int8Arithmetic})\n`);
    if (o.out) {
      const copy = new Uint8Array(gb);
      const t = new Tensor(info.dtype, info.shape, undefined, w.quant);
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).set(copy.subarray(0, t.data.byteLength));
      await writeFile(path.join(o.out, `${fileSafeName(info.name)}.npy`), serializeNpy(t));
    }
  }
  if (got.size) {
    process.stdout.write(`  ${o.on} (QEMU ${MACHINES[o.on as 'cortex-m4'].machine}): flash ${got.size.text + got.size.data} B (text ${got.size.text}, data ${got.size.data}; whole firmware), RAM ${got.size.bss + got.size.data} B static + ${got.stackBytes} B stack (painted high-water mark)\n`);
    if (got.instructions !== undefined) {
      process.stdout.write(`  instructions per inference: ${got.instructions} (±${got.instructionResolution}: QEMU -icount shift=0, ${MACHINES[o.on as 'cortex-m4'].counter.device} read around ${pkg.name}_invoke)\n`);
    }
  }
  return same ? EXIT.ok : EXIT.partial;
}

export function registerCompileCommand(program: Command, setExitCode: (code: number) => void): void {
  program.command('compile')
    .description('compile a model to a dependency-free C99 package for microcontrollers (--verify: build, run and compare with the engine)')
    .argument('<model>', '.onnx, .tflite or TF.js model.json')
    .addOption(new Option('--target <target>', 'code to generate').choices(['c']).default('c'))
    .requiredOption('-o, --output <dir>', 'folder for the package')
    .option('--name <name>', 'C identifier prefix (default: the model file name)')
    .addOption(new Option('--int8-arithmetic <mode>', 'int8 arithmetic to match bit for bit').choices(['tflite-reference', 'tflite-xnnpack']).default('tflite-reference'))
    .option('--verify', 'build and run the package and compare its outputs with the engine')
    .option('-i, --input <NAME=FILE.npy...>', 'an input for --verify (repeat for several)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--out <dir>', 'with --verify: write the C outputs as DIR/<output>.npy')
    .addOption(new Option('--features <mode>', 'classic ML models: float features, or int16 features and thresholds (tree ensembles; no FPU needed)').choices(['float', 'int16']).default('float'))
    .addOption(new Option('--on <target>', 'with --verify: where to run').choices(['host', 'cortex-m4', 'cortex-m0plus']).default('host'))
    .action(async (model: string, o: CompileOptions) => {
      setExitCode(await runCompile(model, o));
    });
}
