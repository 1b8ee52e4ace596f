/**
 * The wasm kernels' thread pool: persistent workers, each with its own
 * instance of the shared-memory build (kernels-threads.wasm) over the heap's
 * one WebAssembly.Memory, driven through a shared control block with
 * Atomics.wait/notify. A kernel binding splits its work into one list of
 * export calls per thread (conv/GEMM by output rows or channel blocks,
 * depthwise by output rows, see splitRange and windowRows); runParallel()
 * hands lists 1..n−1 to the workers, runs list 0 on the calling thread, and
 * returns when all are done. Every call writes its own outputs and reads only
 * what no other call writes, so the bits are those of one thread: each output
 * element is computed by the same code in the same order, only elsewhere.
 *
 * A wasm global belongs to its instance, so the kernels' scratch (gemm_i8's
 * rotated rows, gemm_i16's accumulators) is per worker: each worker points
 * its instance at a region of its own (set_scratch_*). Buffers a binding
 * passes (im2col columns) are laid out per thread by the binding.
 *
 * Workers are started when a kernel is prepared with threads > 1, never per
 * run; they are unref()'d (an idle pool does not keep Node alive), and
 * closeThreadPool() ends them. Host specifics (Node's worker_threads) are in
 * thread-host.ts, which the browser bundle replaces.
 *
 * Control block: one slot of SLOT_BYTES per worker (slot s for thread s).
 * Int32 words: 0 go (a generation number the caller bumps, −1 = stop), 1 done
 * (the generation the worker finished), 2 ready (1 instantiated, −1 failed),
 * 3 the number of calls, 4 a failed call (1). From byte 32, Float64: per call
 * the export's index, the argument count, the arguments.
 */
import { CloudlessError } from '../../ir/index.js';
import { wasmHeap, type KernelExports, type WasmHeap } from './heap.js';
import { startWorker, type WorkerHandle } from './thread-host.js';

/** Most threads a session may ask for. */
export const MAX_THREADS = 64;
const SLOT_BYTES = 8192;
const ARGS_AT = 32;
const SLOT_F64 = (SLOT_BYTES - ARGS_AT) / 8;
const GO = 0, DONE = 1, READY = 2, CALLS = 3, FAILED = 4;
/** Atomics.load polls before a worker sleeps: bridges the short gaps between the nodes of one run. */
const SPIN = 20000;
/** How long prepare waits for a new worker to instantiate the module. */
const START_TIMEOUT_MS = 20000;

/** A call of a kernel export: its name and its arguments (booleans as 0/1). */
export type Call = readonly [name: keyof KernelExports, ...args: number[]];

/**
 * The worker's loop, as source (run by the host in a worker; plain JS so it
 * needs no module loader and no transpilation). It instantiates the module
 * over the shared memory, points its scratch at its own region, reports
 * ready, then runs the calls of each generation and reports it done.
 */
const WORKER_MAIN = `function (d) {
  const i32 = new Int32Array(d.control, d.slot * ${SLOT_BYTES}, ${SLOT_BYTES / 4});
  const f64 = new Float64Array(d.control, d.slot * ${SLOT_BYTES} + ${ARGS_AT}, ${SLOT_F64});
  let fns;
  try {
    const ex = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
    ex.set_scratch_i8(d.scratchI8);
    ex.set_scratch_i16(d.scratchI16);
    fns = d.names.map((n) => ex[n]);
  } catch (e) {
    Atomics.store(i32, ${READY}, -1);
    Atomics.notify(i32, ${READY});
    return;
  }
  Atomics.store(i32, ${READY}, 1);
  Atomics.notify(i32, ${READY});
  let seen = 0;
  for (;;) {
    let g = Atomics.load(i32, ${GO});
    for (let spin = 0; g === seen && spin < ${SPIN}; spin++) g = Atomics.load(i32, ${GO});
    while (g === seen) {
      Atomics.wait(i32, ${GO}, seen);
      g = Atomics.load(i32, ${GO});
    }
    if (g < 0) return;
    seen = g;
    try {
      const n = i32[${CALLS}];
      let at = 0;
      for (let c = 0; c < n; c++) {
        const fn = fns[f64[at]], k = f64[at + 1];
        const args = new Array(k);
        for (let j = 0; j < k; j++) args[j] = f64[at + 2 + j];
        fn.apply(null, args);
        at += 2 + k;
      }
    } catch (e) {
      Atomics.store(i32, ${FAILED}, 1);
    }
    Atomics.store(i32, ${DONE}, g);
    Atomics.notify(i32, ${DONE});
  }
}`;

interface Worker { handle: WorkerHandle; i32: Int32Array; f64: Float64Array }

class ThreadPool {
  private readonly control = new SharedArrayBuffer(MAX_THREADS * SLOT_BYTES);
  private readonly names: string[];
  private readonly index: Map<string, number>;
  /** workers[s − 1] is thread s. */
  readonly workers: Worker[] = [];
  private generation = 0;
  /** Why the pool has fewer workers than asked, once a start failed. */
  failure?: string;

  constructor(private readonly heap: WasmHeap) {
    this.names = Object.keys(heap.exports).filter((k) => typeof (heap.exports as unknown as Record<string, unknown>)[k] === 'function');
    this.index = new Map(this.names.map((n, i) => [n, i]));
  }

  /** Starts workers until the pool runs `threads` threads (the caller counts as one); returns how many it runs. */
  grow(threads: number): number {
    while (!this.failure && this.workers.length + 1 < threads) {
      const slot = this.workers.length + 1;
      const heap = this.heap;
      const bytesI8 = heap.exports.scratch_bytes_i8(), bytesI16 = heap.exports.scratch_bytes_i16();
      const scratch = heap.alloc(bytesI8 + bytesI16);
      const i32 = new Int32Array(this.control, slot * SLOT_BYTES, SLOT_BYTES / 4);
      const f64 = new Float64Array(this.control, slot * SLOT_BYTES + ARGS_AT, SLOT_F64);
      i32.fill(0);
      const handle = startWorker(WORKER_MAIN, {
        module: heap.module, memory: heap.memory, control: this.control, slot, scratchI8: scratch, scratchI16: scratch + bytesI8, names: this.names,
      });
      if (typeof handle === 'string') { this.failure = handle; heap.release(scratch); break; }
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (Atomics.load(i32, READY) === 0 && Date.now() < deadline) Atomics.wait(i32, READY, 0, 100);
      if (Atomics.load(i32, READY) !== 1) {
        handle.terminate();
        heap.release(scratch);
        this.failure = Atomics.load(i32, READY) === 0 ? `a worker did not start within ${START_TIMEOUT_MS} ms` : 'a worker could not instantiate the kernels';
        break;
      }
      this.workers.push({ handle, i32, f64 });
    }
    return Math.min(threads, this.workers.length + 1);
  }

  /** Runs parts[s] on thread s (parts[0] here), all at once; returns when every part is done. */
  run(parts: readonly (readonly Call[])[]): void {
    const ex = this.heap.exports as unknown as Record<string, (...a: number[]) => unknown>;
    const used = Math.min(parts.length, this.workers.length + 1);
    const gen = ++this.generation;
    for (let s = 1; s < used; s++) {
      const w = this.workers[s - 1]!;
      let at = 0;
      for (const [name, ...args] of parts[s]!) {
        w.f64[at] = this.index.get(name)!;
        w.f64[at + 1] = args.length;
        w.f64.set(args, at + 2);
        at += 2 + args.length;
      }
      w.i32[CALLS] = parts[s]!.length;
      w.i32[FAILED] = 0;
      Atomics.store(w.i32, GO, gen);
      Atomics.notify(w.i32, GO);
    }
    // Parts a worker cannot take (more threads asked than started) run here.
    let error: unknown;
    try {
      for (let s = 0; s < parts.length; s += s === 0 ? Math.max(used, 1) : 1) {
        for (const [name, ...args] of parts[s]!) ex[name]!(...args);
      }
    } catch (err) {
      error = err;
    }
    let failed = false;
    for (let s = 1; s < used; s++) {
      const i32 = this.workers[s - 1]!.i32;
      let d = Atomics.load(i32, DONE);
      for (let spin = 0; d !== gen && spin < SPIN; spin++) d = Atomics.load(i32, DONE);
      while (d !== gen) {
        Atomics.wait(i32, DONE, d, 1000);
        d = Atomics.load(i32, DONE);
      }
      if (i32[FAILED] !== 0) failed = true;
    }
    if (error) throw error;
    if (failed) throw new CloudlessError('E_INTERNAL', 'a wasm kernel failed on a worker thread of the pool');
  }

  /** Whether `parts` fits the slots (arguments of one part in one slot). */
  fits(parts: readonly (readonly Call[])[]): boolean {
    return parts.every((p) => p.reduce((n, c) => n + 1 + c.length, 0) <= SLOT_F64);
  }

  close(): void {
    for (const w of this.workers) {
      Atomics.store(w.i32, GO, -1);
      Atomics.notify(w.i32, GO);
      w.handle.terminate();
    }
    this.workers.length = 0;
  }
}

let pool: ThreadPool | undefined;
let parallelRuns = 0;

/** Workers running now, and how many runParallel calls went to the pool so far (tests check that the split path ran). */
export function threadStats(): { workers: number; parallelRuns: number } {
  return { workers: pool?.workers.length ?? 0, parallelRuns };
}

/**
 * Makes the pool run `threads` threads when the heap's memory is shared and
 * workers start (prepare time: this may start workers); returns how many
 * threads runs will get (1 when there is no pool).
 */
export function ensureThreads(threads: number | undefined): number {
  const want = Math.min(Math.max(1, Math.floor(threads ?? 1)), MAX_THREADS);
  if (want === 1) return 1;
  const heap = wasmHeap();
  if (!heap.shared) return 1;
  pool ??= new ThreadPool(heap);
  return pool.grow(want);
}

/** Why a session asking for threads gets fewer, or undefined. */
export function threadsUnavailable(): string | undefined {
  const heap = wasmHeap();
  if (!heap.shared) return 'the wasm kernels run on an unshared memory (no SharedArrayBuffer, kernels-threads.wasm missing, or CLOUDLESS_WASM_SHARED=0)';
  return pool?.failure;
}

/** How many threads a run with `threads` asked for gets now (no worker is started here). */
export function threadsFor(threads: number | undefined): number {
  if (!threads || threads <= 1 || !pool) return 1;
  return Math.min(threads, pool.workers.length + 1);
}

/**
 * Runs parts[s] on thread s, parts[0] on the calling thread. One part (or no
 * pool) runs here, in order.
 */
export function runParallel(parts: readonly (readonly Call[])[]): void {
  if (parts.length > 1 && pool && pool.workers.length > 0 && pool.fits(parts)) {
    parallelRuns++;
    pool.run(parts);
    return;
  }
  const ex = wasmHeap().exports as unknown as Record<string, (...a: number[]) => unknown>;
  for (const part of parts) for (const [name, ...args] of part) ex[name]!(...args);
}

/** Ends the pool's workers (a later ensureThreads starts new ones). Idle workers never keep Node alive. */
export function closeThreadPool(): void {
  pool?.close();
  pool = undefined;
}

/**
 * Splits [0, n) into at most `parts` contiguous ranges of about equal length
 * whose inner boundaries are multiples of `align`; returns the boundaries
 * (first 0, last n). Fewer ranges when n is small.
 */
export function splitRange(n: number, parts: number, align = 1): number[] {
  const cuts = [0];
  for (let s = 1; s < parts; s++) {
    const at = Math.min(n, Math.round((n * s) / parts / align) * align);
    if (at > cuts[cuts.length - 1]!) cuts.push(at);
  }
  if (n > cuts[cuts.length - 1]!) cuts.push(n);
  return cuts;
}

/**
 * The calls of a window op (conv, depthwise) split by output rows: the flat
 * rows [r0, r1) of batch·outH, cut at image boundaries, each piece
 * `make(n, oh0, rows)` for image n's output rows oh0 … oh0 + rows − 1. A
 * kernel runs a piece as a one-image op of `rows` output rows whose top
 * padding is pH − oh0·sH: its row oh' reads input rows from
 * (oh0 + oh')·sH − pH, the rows the whole op reads for output row oh0 + oh'.
 */
export function windowRows(outH: number, r0: number, r1: number, make: (n: number, oh0: number, rows: number) => Call): Call[] {
  const calls: Call[] = [];
  for (let r = r0; r < r1;) {
    const n = Math.floor(r / outH), oh0 = r - n * outH;
    const rows = Math.min(outH - oh0, r1 - r);
    calls.push(make(n, oh0, rows));
    r += rows;
  }
  return calls;
}

/** Work (multiply-adds) below which an op runs on the calling thread: waking the workers costs more than it saves. */
export let MIN_PARALLEL_WORK = envWork() ?? 1 << 18;

/** CLOUDLESS_MIN_PARALLEL_WORK overrides it (0 splits every op: how the oracles are run on the pool to check their bits). */
function envWork(): number | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.CLOUDLESS_MIN_PARALLEL_WORK;
  const n = v === undefined || v === '' ? Number.NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Sets MIN_PARALLEL_WORK (tests split the smallest ops too, to check their bits); returns the previous value. */
export function setMinParallelWork(work: number): number {
  const previous = MIN_PARALLEL_WORK;
  MIN_PARALLEL_WORK = work;
  return previous;
}
