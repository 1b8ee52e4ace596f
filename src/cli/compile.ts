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
import { emitC, prefixKernels } from '../codegen/emit-graph.js';
import { emitClassicC, isClassicGraph } from '../codegen/ml/index.js';
import { buildAndRun, type VerifyTarget } from '../codegen/verify.js';
import { MACHINES, linkerScript, startupSource } from '../codegen/targets/cortex-m.js';
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
  /** Prefix of the kernel symbols (several packages in one program). */
  kernelPrefix?: string;
  /** Also write the bare-metal startup and linker script of these QEMU machines (cl_startup_<target>.c, cl_link_<target>.ld). */
  firmwareSupport?: string;
}

/** A rough code size of the kernels: measured -Os Cortex-M4 sizes are 1-3 KB per kernel family. */
const CODE_ESTIMATE_PER_FILE = 1200;

/** How far the arena is above the planner's lower bound (the most bytes alive at one step). */
function boundNote(pkg: CPackage): string {
  const lb = pkg.arenaLowerBound;
  if (!lb) return '';
  return `; lower bound ${lb} B, ${pkg.arenaBytes === lb ? 'met' : `+${((100 * (pkg.arenaBytes - lb)) / lb).toFixed(1)} %`}`;
}

function summary(pkg: CPackage, dir: string): string {
  const kernels = ((pkg.files['cloudless_kernels.c'] ?? '').match(/^void cl_/gm) ?? []).length;
  const code = kernels * CODE_ESTIMATE_PER_FILE;
  return [
    `${pc.bold(pkg.name)} → ${dir}: ${Object.keys(pkg.files).join(', ')}`,
    `  flash: ${pkg.constBytes} B constants + ~${code} B code (estimate; --verify --on cortex-m4 measures it)`,
    `  RAM:   ${pkg.arenaBytes} B arena (${pkg.name.toUpperCase()}_ARENA_BYTES${boundNote(pkg)})${pkg.stateBytes ? ` + ${pkg.stateBytes} B state carried across invokes (${pkg.name.toUpperCase()}_STATE_BYTES; ${pkg.name}_reset() zeroes it)` : ''}${pkg.scratchBytes ? ` + ${pkg.scratchBytes} B scratch` : ''} + stack (measured with --verify on a Cortex-M target)`,
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

/**
 * How many invocations the --verify inputs hold: 1, or F when every input has
 * a leading axis of F before the package's shape (a frame sequence: one
 * invoke per frame, state carried, compared with successive engine runs).
 */
export function framesOf(pkg: CPackage, inputs: readonly Tensor[]): number {
  let frames: number | undefined;
  for (const [k, t] of inputs.entries()) {
    const info = pkg.inputs[k]!;
    const same = t.shape.length === info.shape.length && t.shape.every((d, i) => d === info.shape[i]);
    // Frames are [F, ...shape], or [F, ...rest] when the shape is [1, ...rest] (the batch axis read as the frame axis).
    const rest = info.shape[0] === 1 ? info.shape.slice(1) : undefined;
    const lead = (t.shape.length === info.shape.length + 1 && t.shape.slice(1).every((d, i) => d === info.shape[i]))
      || (rest !== undefined && t.shape.length === info.shape.length && t.shape.slice(1).every((d, i) => d === rest[i]));
    const f = same ? 1 : lead ? t.shape[0]! : undefined;
    if (f === undefined || f < 1 || (frames !== undefined && f !== frames)) {
      throw new CloudlessError('E_INPUT', `--input ${info.name}: shape [${t.shape.join(', ')}] is neither the input's [${info.shape.join(', ')}] nor frames of it [F, ${info.shape.join(', ')}]${info.shape[0] === 1 ? ` or [F, ${info.shape.slice(1).join(', ')}]` : ''}${frames !== undefined ? ` with the other inputs' ${frames} frames` : ''}`, {
        hint: 'give every input one frame, or the same number F of frames (a leading axis)',
      });
    }
    frames = f;
  }
  return frames ?? 1;
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
  const emitted = classic
    ? emitClassicC(graph, { name, features: o.features })
    : emitC(graph, { name, int8Arithmetic: o.int8Arithmetic });
  const pkg = o.kernelPrefix === undefined ? emitted : prefixKernels(emitted, o.kernelPrefix);
  await mkdir(o.output, { recursive: true });
  for (const [file, text] of Object.entries(pkg.files)) await writeFile(path.join(o.output, file), text);
  process.stdout.write(`${summary(pkg, o.output)}\n`);
  for (const target of o.firmwareSupport ? o.firmwareSupport.split(',') : []) {
    const m = MACHINES[target as keyof typeof MACHINES];
    if (!m) throw new CloudlessError('E_CONFIG', `--firmware-support ${target}: the targets are ${Object.keys(MACHINES).join(', ')}`);
    await writeFile(path.join(o.output, `cl_startup_${target}.c`), startupSource(m));
    await writeFile(path.join(o.output, `cl_link_${target}.ld`), linkerScript(m));
    process.stdout.write(`  firmware support for ${target} (QEMU ${m.machine}): cl_startup_${target}.c (gnu99: vector table, semihosting, painted stack), cl_link_${target}.ld\n`);
  }
  if (o.on !== 'host') {
    const m = MACHINES[o.on];
    const needed = pkg.arenaBytes + (pkg.stateBytes ?? 0) + (pkg.scratchBytes ?? 0) + m.stackBytes;
    if (needed > m.ramBytes) {
      throw new CloudlessError('E_UNSUPPORTED', `${model}: the arena (${pkg.arenaBytes} B) and stack (${m.stackBytes} B) need ${needed} B of RAM; ${o.on} (QEMU ${m.machine}) has ${m.ramBytes} B`, {
        hint: 'pick a target with more RAM, or a smaller model',
      });
    }
  }
  if (!o.verify) return EXIT.ok;
  const inputs = await readInputs(pkg, o.input);
  const frames = framesOf(pkg, inputs);
  // One session over the frames in order: a stateful model carries its state from run to run, as the C does.
  const session = new Session(graph, { backend: 'ref', int8Arithmetic: o.int8Arithmetic });
  const wantFrames: Uint8Array[][] = [];
  for (let f = 0; f < frames; f++) {
    const feeds = Object.fromEntries(pkg.inputs.map((i, k) => {
      const t = inputs[k]!;
      if (frames === 1) return [i.name, t];
      const per = t.size / frames;
      return [i.name, new Tensor(t.dtype, i.shape, t.data.slice(f * per, (f + 1) * per), t.quant)];
    }));
    const res = session.runSync(feeds);
    wantFrames.push(pkg.outputs.map((info) => { const w = res[info.name]!; return new Uint8Array(w.data.buffer.slice(w.data.byteOffset, w.data.byteOffset + w.data.byteLength)); }));
  }
  const wantQuant = new Map(pkg.outputs.map((info) => [info.name, graph.values.get(info.name)?.quant]));
  const got = await buildAndRun(pkg, inputs, { on: o.on, frames });
  if (got.status !== 0) {
    process.stdout.write(`${pc.red('FAIL')} ${pkg.name}_invoke returned ${got.status}\n`);
    return EXIT.partial;
  }
  let same = true;
  if (o.out) await mkdir(o.out, { recursive: true });
  if (frames > 1) process.stdout.write(`  ${frames} frames in sequence (one ${pkg.name}_invoke each${pkg.stateBytes ? `, ${pkg.stateBytes} B of state carried` : ''})\n`);
  for (const [k, info] of pkg.outputs.entries()) {
    const wb = new Uint8Array(info.bytes * frames);
    wantFrames.forEach((outs, f) => wb.set(outs[k]!, f * info.bytes));
    const gb = got.outputs[k]!;
    let differ = 0;
    for (let i = 0; i < Math.max(wb.length, gb.length); i++) if (wb[i] !== gb[i]) differ++;
    if (wb.length !== gb.length || differ > 0) same = false;
    process.stdout.write(`  output ${info.name}: ${differ === 0 && wb.length === gb.length ? pc.green('bit-exact') : pc.red(`${differ} bytes differ`)} with the engine (${o.int8Arithmetic})\n`);
    if (o.out) {
      const copy = new Uint8Array(gb);
      const t = new Tensor(info.dtype, frames > 1 ? [frames, ...info.shape] : info.shape, undefined, wantQuant.get(info.name));
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
    .option('--kernel-prefix <p>', 'prefix the kernel symbols (cl_* → <p>_cl_*) so several packages link into one program')
    .option('--firmware-support <targets>', 'also write the bare-metal startup (cl_startup_<target>.c) and linker script (cl_link_<target>.ld) of these QEMU machines (comma-separated: cortex-m4, cortex-m0plus)')
    .addOption(new Option('--on <target>', 'with --verify: where to run').choices(['host', 'cortex-m4', 'cortex-m0plus']).default('host'))
    .action(async (model: string, o: CompileOptions) => {
      setExitCode(await runCompile(model, o));
    });
}
