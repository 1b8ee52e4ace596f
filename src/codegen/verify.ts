/**
 * Builds any CPackage (package.ts) and runs it on given inputs, through the
 * package's C interface only (`<name>_input`, `<name>_invoke`,
 * `<name>_output`), so the NN and the classic-ML emitters share it:
 *
 * - `host`: the system `gcc`; the package is first compiled on its own with
 *   `-std=c99 -Wall -Wextra -Werror -pedantic -ffreestanding` (it must be
 *   clean), then linked with a small harness that writes the outputs to
 *   stdout. `sanitize` adds `-fsanitize=address,undefined` (no recovery).
 * - `cortex-m4` / `cortex-m0plus`: `arm-none-eabi-gcc -Os` with our startup
 *   and linker script (targets/cortex-m.ts), run under `qemu-system-arm`
 *   with semihosting; the firmware writes the outputs, its status and the
 *   stack high-water mark to a host file. Flash and RAM come from
 *   `arm-none-eabi-size`.
 *
 * Inputs are embedded in the harness as constant arrays.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CloudlessError, type Tensor } from '../ir/index.js';
import type { CPackage } from './package.js';
import { MACHINES, instructionsPerTick, linkerScript, startupSource, type CortexTarget } from './targets/cortex-m.js';

const run = promisify(execFile);

export type VerifyTarget = 'host' | CortexTarget;

export interface BuildOptions {
  on?: VerifyTarget;
  /** Host only: build with AddressSanitizer and UndefinedBehaviorSanitizer. */
  sanitize?: boolean;
  /** Keep the build folder (its path is returned) instead of removing it. */
  keep?: boolean;
  /** Time limit of the run, ms (default 120 s). */
  timeoutMs?: number;
  /**
   * Invocations in sequence (default 1): each input tensor then holds `frames`
   * inputs back to back (a leading frame axis), the harness calls reset() once
   * and invoke() per frame, and each output holds the frames' outputs back to
   * back. This is how a stateful model is checked against successive runs of
   * one engine session.
   */
  frames?: number;
  /**
   * Preprocessor macros for every compilation of the package (`-D<name>`), e.g. `['CL_NO_DSP']` to
   * build the plain int8 loops on a core with the DSP extension (docs/micro.md).
   */
  defines?: string[];
}

export interface RunResult {
  /** The bytes of each output, in the package's output order. */
  outputs: Uint8Array[];
  /** invoke's return value. */
  status: number;
  /** Firmware only: `arm-none-eabi-size` of the whole image (text = flash code + constants, data, bss). */
  size?: { text: number; data: number; bss: number };
  /** Firmware only: deepest stack use measured by the painted stack, bytes. */
  stackBytes?: number;
  /**
   * Firmware only: guest instructions executed by `<name>_invoke` (its call and return included),
   * from a hardware counter under QEMU `-icount shift=0` (targets/cortex-m.ts); exact to within
   * `instructionResolution`. With several frames, the mean over the frames.
   */
  instructions?: number;
  /** Firmware only: the counter's tick, in instructions (the uncertainty of `instructions`). */
  instructionResolution?: number;
  /** The build folder, when `keep` was set. */
  dir?: string;
}

const C_FLAGS = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic'];

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The harness's inputs (all frames) and the copy of frame f into the package. */
function inputsSource(pkg: CPackage, inputs: readonly Tensor[], frames: number): string {
  if (inputs.length !== pkg.inputs.length) {
    throw new CloudlessError('E_INPUT', `package ${pkg.name} takes ${pkg.inputs.length} inputs, got ${inputs.length}`);
  }
  if (!Number.isInteger(frames) || frames < 1) throw new CloudlessError('E_INPUT', `package ${pkg.name}: ${frames} frames (a positive integer is needed)`);
  const arrays = inputs.map((t, i) => {
    const info = pkg.inputs[i]!;
    if (t.byteLength !== info.bytes * frames || t.dtype !== info.dtype) {
      const what = frames > 1 ? `${frames} frames of ${info.bytes} bytes` : `${info.bytes} bytes`;
      throw new CloudlessError('E_INPUT', `package ${pkg.name}: input ${i} ("${info.name}") must be ${info.dtype} of ${what}, got ${t.dtype} of ${t.byteLength}`);
    }
    const b = bytesOf(t);
    return `static const uint8_t cl_in${i}[${Math.max(b.length, 1)}] = {${b.length ? Array.from(b).join(',') : '0'}};`;
  });
  const copies = inputs.map((_, i) => {
    const n = pkg.inputs[i]!.bytes;
    return `  { uint8_t *d = (uint8_t *)${pkg.name}_input(${i}); uint32_t k; for (k = 0; k < ${n}u; k++) d[k] = cl_in${i}[f * ${n}u + k]; }`;
  });
  return `${arrays.join('\n')}
#define CL_FRAMES ${frames}u
static void cl_copy_inputs(uint32_t f) {
${copies.join('\n') || '  (void)f;'}
}
`;
}

/** reset() before the first frame, for packages that have one (the NN emitter's). */
const resetCall = (pkg: CPackage) => (pkg.stateBytes !== undefined ? `  ${pkg.name}_reset();\n` : '');

function hostHarness(pkg: CPackage, inputs: readonly Tensor[], frames: number): string {
  const writes = pkg.outputs.map((o, i) => `    fwrite(${pkg.name}_output(${i}), 1, ${o.bytes}, stdout);`);
  return `#include <stdio.h>
#include <stdint.h>
#include "${pkg.name}.h"
${inputsSource(pkg, inputs, frames)}
int main(void) {
  int status;
  uint32_t f;
${resetCall(pkg)}  for (f = 0; f < CL_FRAMES; f++) {
    cl_copy_inputs(f);
    status = ${pkg.name}_invoke();
    if (status != 0) return 10 + status;
${writes.join('\n')}
  }
  return 0;
}
`;
}

function firmwareHarness(pkg: CPackage, inputs: readonly Tensor[], outFile: string, frames: number): string {
  const writes = pkg.outputs.map((o, i) => `    cl_write(fd, ${pkg.name}_output(${i}), ${o.bytes}u);`);
  return `#include <stdint.h>
#include "${pkg.name}.h"
int32_t cl_semihost(int32_t op, const void *arg);
uint32_t cl_stack_high_water(void);
void cl_counter_start(void);
uint32_t cl_counter_read(void);
${inputsSource(pkg, inputs, frames)}
static const char cl_out_path[] = ${JSON.stringify(outFile)};

static void cl_write(int32_t fd, const void *buf, uint32_t n) {
  uint32_t args[3];
  args[0] = (uint32_t)fd; args[1] = (uint32_t)buf; args[2] = n;
  cl_semihost(0x05, args); /* SYS_WRITE */
}

int main(void) {
  uint32_t args[3];
  int32_t fd, status = 0;
  uint32_t trailer[3], f, t0;
  args[0] = (uint32_t)cl_out_path; args[1] = 5u; /* "wb" */ args[2] = sizeof(cl_out_path) - 1u;
  fd = cl_semihost(0x01, args); /* SYS_OPEN */
  if (fd < 0) return 3;
  trailer[2] = 0u;
  cl_counter_start();
${resetCall(pkg)}  for (f = 0; f < CL_FRAMES && status == 0; f++) {
    cl_copy_inputs(f);
    t0 = cl_counter_read();
    status = ${pkg.name}_invoke();
    trailer[2] += cl_counter_read() - t0;
${writes.join('\n')}
  }
  trailer[0] = (uint32_t)status;
  trailer[1] = cl_stack_high_water();
  cl_write(fd, trailer, 12u);
  args[0] = (uint32_t)fd;
  cl_semihost(0x02, args); /* SYS_CLOSE */
  return 0;
}
`;
}

async function tool(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<{ stdout: Buffer }> {
  try {
    const r = await run(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 1 << 28, encoding: 'buffer' });
    return { stdout: r.stdout };
  } catch (err) {
    const e = err as { code?: string | number; stderr?: Buffer; stdout?: Buffer; killed?: boolean; signal?: string };
    if (e.code === 'ENOENT') {
      throw new CloudlessError('E_CONFIG', `${cmd} is not installed`, { hint: 'install gcc, gcc-arm-none-eabi and qemu-system-arm (Debian packages)' });
    }
    const stderr = e.stderr?.toString() ?? '';
    const what = e.killed ? `timed out after ${timeoutMs} ms` : `failed (${e.code ?? e.signal})`;
    throw new CloudlessError('E_INTERNAL', `${cmd} ${what}:\n${stderr.slice(0, 4000)}`, { cause: err });
  }
}

/** The harness writes frame by frame (all outputs of frame 0, then of frame 1, ...); each output's frames are joined. */
function splitOutputs(pkg: CPackage, bytes: Uint8Array, frames: number): Uint8Array[] {
  const perFrame = pkg.outputs.reduce((a, o) => a + o.bytes, 0);
  if (bytes.length < perFrame * frames) throw new CloudlessError('E_INTERNAL', `package ${pkg.name} wrote ${bytes.length} output bytes, expected ${perFrame * frames}`);
  const outs = pkg.outputs.map((o) => new Uint8Array(o.bytes * frames));
  let at = 0;
  for (let f = 0; f < frames; f++) {
    pkg.outputs.forEach((o, i) => { outs[i]!.set(bytes.subarray(at, at + o.bytes), f * o.bytes); at += o.bytes; });
  }
  return outs;
}

/** Builds the package with the harness and runs it on `inputs`; see the file header. */
export async function buildAndRun(pkg: CPackage, inputs: readonly Tensor[], options: BuildOptions = {}): Promise<RunResult> {
  const on = options.on ?? 'host';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const dir = await mkdtemp(path.join(tmpdir(), `cloudless-c-${pkg.name}-`));
  try {
    for (const [file, text] of Object.entries(pkg.files)) await writeFile(path.join(dir, file), text);
    const sources = Object.keys(pkg.files).filter((f) => f.endsWith('.c'));
    const frames = options.frames ?? 1;
    const defines = (options.defines ?? []).map((d) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_]*)?$/.test(d)) throw new CloudlessError('E_INPUT', `build define "${d}" is not NAME or NAME=VALUE`);
      return `-D${d}`;
    });
    const result = on === 'host'
      ? await runHost(pkg, inputs, dir, sources, options, timeoutMs, frames, defines)
      : await runFirmware(pkg, inputs, dir, sources, on, timeoutMs, frames, defines);
    if (options.keep) result.dir = dir;
    return result;
  } finally {
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  }
}

async function runHost(pkg: CPackage, inputs: readonly Tensor[], dir: string, sources: string[], options: BuildOptions, timeoutMs: number, frames: number, defines: string[]): Promise<RunResult> {
  // The package alone must be clean freestanding C99.
  for (const s of sources) await tool('gcc', [...C_FLAGS, ...defines, '-ffreestanding', '-O2', '-c', s, '-o', `${s}.o`], dir, timeoutMs);
  await writeFile(path.join(dir, 'cl_main.c'), hostHarness(pkg, inputs, frames));
  const san = options.sanitize ? ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-g', '-O1'] : ['-O2'];
  await tool('gcc', [...C_FLAGS, ...defines, ...san, ...sources, 'cl_main.c', '-o', 'model', ...(pkg.needsLibm ? ['-lm'] : [])], dir, timeoutMs);
  let stdout: Buffer;
  try {
    stdout = (await run(path.join(dir, 'model'), [], { cwd: dir, timeout: timeoutMs, maxBuffer: 1 << 28, encoding: 'buffer' })).stdout;
  } catch (err) {
    const e = err as { code?: number; stderr?: Buffer };
    if (typeof e.code === 'number' && e.code >= 10 && e.code < 20) return { outputs: [], status: e.code - 10 };
    throw new CloudlessError('E_INTERNAL', `the host build of ${pkg.name} failed at run time (exit ${e.code}):\n${e.stderr?.toString().slice(0, 4000) ?? ''}`, { cause: err });
  }
  return { outputs: splitOutputs(pkg, new Uint8Array(stdout), frames), status: 0 };
}

async function runFirmware(pkg: CPackage, inputs: readonly Tensor[], dir: string, sources: string[], on: CortexTarget, timeoutMs: number, frames: number, defines: string[]): Promise<RunResult> {
  const m = MACHINES[on];
  const outFile = path.join(dir, 'out.bin');
  await writeFile(path.join(dir, 'cl_startup.c'), startupSource(m));
  await writeFile(path.join(dir, 'cl_link.ld'), linkerScript(m));
  await writeFile(path.join(dir, 'cl_main.c'), firmwareHarness(pkg, inputs, outFile, frames));
  // The startup code is GNU C (inline assembly, a vector table of function addresses); the package and harness are strict C99.
  await tool('arm-none-eabi-gcc', ['-std=gnu99', '-Wall', '-Wextra', '-Werror', ...m.cflags, '-Os', '-ffreestanding', '-c', 'cl_startup.c', '-o', 'cl_startup.o'], dir, timeoutMs);
  await tool('arm-none-eabi-gcc', [
    ...C_FLAGS, ...defines, ...m.cflags, '-Os', '-ffreestanding', '-ffunction-sections', '-fdata-sections', '-nostdlib',
    '-Wl,--gc-sections', '-T', 'cl_link.ld', ...sources, 'cl_main.c', 'cl_startup.o', '-lgcc', '-o', 'model.elf',
  ], dir, timeoutMs);
  const sizeOut = (await tool('arm-none-eabi-size', ['-A', '-d', 'model.elf'], dir, timeoutMs)).stdout.toString();
  const section = (name: string) => Number(new RegExp(`^\\${name}\\s+(\\d+)`, 'm').exec(sizeOut)?.[1] ?? 0);
  const size = { text: section('.text') + section('.ARM.exidx'), data: section('.data'), bss: section('.bss') };
  await tool('qemu-system-arm', [
    '-M', m.machine, '-nographic', '-monitor', 'none', '-serial', 'none', '-semihosting-config', 'enable=on,target=native',
    '-icount', 'shift=0', '-kernel', 'model.elf',
  ], dir, timeoutMs);
  const bytes = new Uint8Array(await readFile(outFile));
  if (bytes.length < 12) throw new CloudlessError('E_INTERNAL', `the firmware of ${pkg.name} wrote ${bytes.length} bytes, fewer than its 12-byte trailer`);
  const trailer = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 12, 12);
  const status = trailer.getInt32(0, true);
  const stackBytes = trailer.getUint32(4, true);
  const perTick = instructionsPerTick(m);
  // The counter sums every frame's invoke; per inference is the mean over the frames.
  const instructions = Math.round((trailer.getUint32(8, true) * perTick) / frames);
  return {
    outputs: status === 0 ? splitOutputs(pkg, bytes.subarray(0, bytes.length - 12), frames) : [],
    status, size, stackBytes, instructions, instructionResolution: perTick,
  };
}
