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
 * Work is handed out by claiming, not by assignment: a binding cuts an op
 * into more chunks than threads (chunksFor), the caller publishes them, and
 * the caller and every awake worker take the next unclaimed chunk with
 * Atomics.add until none is left. A worker the OS has not scheduled yet (a
 * busy machine) then costs nothing: the others take its share. Each chunk's
 * output does not depend on who runs it.
 *
 * While a session runs (beginRun … endRun, around its nodes) the workers
 * poll for the next job instead of sleeping, so the joins between the nodes
 * of one run cost no wake-up; between runs they sleep. The control block's
 * layout and the workers' loop are in pool-worker.ts.
 */
import { CloudlessError } from '../../ir/index.js';
import { type KernelExports, type WasmHeap, wasmAvailable, wasmHeap } from './heap.js';
import type { WorkerHandle } from './thread-host-core.js';
import { ASYNC_START, startWorker } from './thread-host.js';
import {
  CONTROL_BYTES, COUNT, DEFAULT_SPIN, FAILED, FINISHED, GEN, HOT, HOT_SPIN_MS, LOCKED, NEXT, READY, TABLE_AT, TABLE_F64, WORKER_MAIN,
} from './pool-worker.js';

/** Most threads a session may ask for. */
export const MAX_THREADS = 64;
/**
 * Atomics.load polls before a thread sleeps: bridges the short gaps between
 * the nodes of one run. CLOUDLESS_POOL_SPIN overrides it (0: sleep at once,
 * which makes per-thread instruction counts count work only).
 */
const SPIN = intFromEnv('CLOUDLESS_POOL_SPIN') ?? DEFAULT_SPIN;
/** ms workers poll without sleeping in a run (CLOUDLESS_POOL_HOT_MS overrides it; 0: they sleep as between runs). */
const HOT_MS = intFromEnv('CLOUDLESS_POOL_HOT_MS') ?? HOT_SPIN_MS;

/** An environment variable where there is a process (Node), else undefined (a page). */
function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

function intFromEnv(name: string): number | undefined {
  const v = Number(envVar(name) ?? Number.NaN);
  return Number.isInteger(v) && v >= 0 ? v : undefined;
}
/**
 * Whether this thread may block in Atomics.wait. A page's main thread may not (the call throws
 * before it compares the value): there the pool's caller spins while the workers finish, and
 * workers are started only by startThreads.
 */
const CAN_BLOCK = (() => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

/** Set by a host whose workers start only after this thread yields (the browser's Web Workers). */
const asyncStartOnly = ASYNC_START;

/** How long prepare waits for a new worker to instantiate the module. */
const START_TIMEOUT_MS = 20000;

/** A call of a kernel export: its name and its arguments (booleans as 0/1). */
export type Call = readonly [name: keyof KernelExports, ...args: number[]];

class ThreadPool {
  private readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  private readonly i32 = new Int32Array(this.control, 0, CONTROL_BYTES / 4);
  private readonly f64 = new Float64Array(this.control, TABLE_AT, TABLE_F64);
  private readonly names: string[];
  private readonly index: Map<string, number>;
  private readonly ex: Record<string, (...a: number[]) => unknown>;
  /** The started workers (thread s is workers[s − 1]). */
  readonly workers: WorkerHandle[] = [];
  private generation = 0;
  /** Why the pool has fewer workers than asked, once a start failed. */
  failure?: string;

  constructor(private readonly heap: WasmHeap) {
    this.ex = heap.exports as unknown as Record<string, (...a: number[]) => unknown>;
    this.names = Object.keys(this.ex).filter((k) => typeof this.ex[k] === 'function');
    this.index = new Map(this.names.map((n, i) => [n, i]));
    this.i32[NEXT] = LOCKED;
  }

  /**
   * Starts workers until the pool runs `threads` threads (the caller counts as one), waiting for
   * each with Atomics.wait; returns how many it runs. Where this thread may not block (a page's
   * main thread) or its host starts workers only once this thread yields (Web Workers), nothing is
   * started here: `growAsync` (startThreads) does it.
   */
  grow(threads: number): number {
    while (!this.failure && this.workers.length + 1 < threads && CAN_BLOCK && !asyncStartOnly) {
      const started = this.spawn();
      if (!started) break;
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (Atomics.load(this.i32, READY + started.slot) === 0 && Date.now() < deadline) Atomics.wait(this.i32, READY + started.slot, 0, 100);
      this.settle(started);
    }
    return Math.min(threads, this.workers.length + 1);
  }

  /** As grow, without blocking: yields to the event loop while each worker starts. */
  async growAsync(threads: number): Promise<number> {
    while (!this.failure && this.workers.length + 1 < threads) {
      const started = this.spawn();
      if (!started) break;
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (Atomics.load(this.i32, READY + started.slot) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      this.settle(started);
    }
    return Math.min(threads, this.workers.length + 1);
  }

  /** Starts the next worker; undefined (and `failure` set) when the host cannot. */
  private spawn(): { slot: number; handle: WorkerHandle; scratch: number } | undefined {
    const slot = this.workers.length + 1;
    const heap = this.heap;
    const bytesI8 = heap.exports.scratch_bytes_i8(),
      bytesI16 = heap.exports.scratch_bytes_i16();
    const scratch = heap.alloc(bytesI8 + bytesI16);
    Atomics.store(this.i32, READY + slot, 0);
    const handle = startWorker(WORKER_MAIN, {
      module: heap.module,
      memory: heap.memory,
      control: this.control,
      slot,
      scratchI8: scratch,
      scratchI16: scratch + bytesI8,
      names: this.names,
      spin: SPIN,
      hotMs: HOT_MS,
    });
    if (typeof handle === 'string') {
      this.failure = handle;
      heap.release(scratch);
      return undefined;
    }
    return { slot, handle, scratch };
  }

  /** Keeps a started worker that reported ready, or ends it and records why not. */
  private settle({ slot, handle, scratch }: { slot: number; handle: WorkerHandle; scratch: number }): void {
    const ready = Atomics.load(this.i32, READY + slot);
    if (ready === 1) {
      this.workers.push(handle);
      return;
    }
    handle.terminate();
    this.heap.release(scratch);
    this.failure = ready === 0 ? `a worker did not start within ${START_TIMEOUT_MS} ms` : 'a worker could not instantiate the kernels';
  }

  /** Whether the chunks' calls fit the table. */
  fits(chunks: readonly (readonly Call[])[]): boolean {
    let n = chunks.length + 1;
    for (const c of chunks) for (const call of c) n += 1 + call.length;
    return n <= TABLE_F64;
  }

  /** Runs every chunk once, on whichever threads claim them (this one included); returns when all are done. */
  run(chunks: readonly (readonly Call[])[]): void {
    const { i32, f64 } = this;
    const n = chunks.length;
    // NEXT stays LOCKED between jobs, so a late worker of the last job claims nothing while this one is written.
    let at = n + 1;
    for (let c = 0; c < n; c++) {
      f64[c] = at;
      for (const [name, ...args] of chunks[c]!) {
        f64[at] = this.index.get(name)!;
        f64[at + 1] = args.length;
        f64.set(args, at + 2);
        at += 2 + args.length;
      }
    }
    f64[n] = at;
    Atomics.store(i32, COUNT, n);
    Atomics.store(i32, FINISHED, 0);
    Atomics.store(i32, FAILED, 0);
    Atomics.store(i32, NEXT, 0);
    const gen = (this.generation = (this.generation + 1) & 0x3fffffff);
    Atomics.store(i32, GEN, gen);
    Atomics.notify(i32, GEN);
    let error: unknown;
    for (; !CALLER_IDLE; ) {
      const c = Atomics.add(i32, NEXT, 1);
      if (c >= n) break;
      try {
        for (const [name, ...args] of chunks[c]!) this.ex[name]!(...args);
      } catch (err) {
        error ??= err;
      }
      Atomics.add(i32, FINISHED, 1);
    }
    let done = Atomics.load(i32, FINISHED);
    // In a run the last chunks are a worker's: poll for them (as long as they take); outside one, SPIN polls.
    if (Atomics.load(i32, HOT) > 0) {
      const deadline = performance.now() + HOT_MS;
      for (let polls = 1; done !== n && ((polls & 1023) !== 0 || performance.now() < deadline); polls++) done = Atomics.load(i32, FINISHED);
    }
    for (let spin = 0; done !== n && spin < SPIN; spin++) done = Atomics.load(i32, FINISHED);
    while (done !== n) {
      if (CAN_BLOCK) Atomics.wait(i32, FINISHED, done, 1000);
      done = Atomics.load(i32, FINISHED);
    }
    Atomics.store(i32, NEXT, LOCKED);
    if (error) throw error;
    if (Atomics.load(i32, FAILED) !== 0) throw new CloudlessError('E_INTERNAL', 'a wasm kernel failed on a worker thread of the pool');
  }

  /**
   * A run starts: awake workers poll between its jobs. Sleeping ones are not woken here but by the
   * run's first job, so a run whose nodes all stay on this thread (a small model) costs no wake-up
   * and keeps no worker polling.
   */
  beginRun(): void {
    Atomics.add(this.i32, HOT, 1);
  }

  endRun(): void {
    Atomics.sub(this.i32, HOT, 1);
  }

  close(): void {
    Atomics.store(this.i32, GEN, -1);
    Atomics.notify(this.i32, GEN);
    for (const w of this.workers) w.terminate();
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

/**
 * Starts the pool's workers for `threads` threads without blocking, and resolves to how many
 * threads runs will get (1 without a shared memory or when workers cannot start; then
 * threadsUnavailable() says why). load() calls it before preparing a session with threads > 1,
 * so that a page, whose main thread may not wait and whose Web Workers start only once the page
 * yields, gets its pool; in Node it only moves the start out of prepare.
 */
export async function startThreads(threads: number | undefined): Promise<number> {
  const want = Math.min(Math.max(1, Math.floor(threads ?? 1)), MAX_THREADS);
  if (want === 1 || !wasmAvailable()) return 1;
  const heap = wasmHeap();
  if (!heap.shared) return 1;
  pool ??= new ThreadPool(heap);
  return pool.growAsync(want);
}

/** Why a session asking for threads gets fewer, or undefined. */
export function threadsUnavailable(): string | undefined {
  const heap = wasmHeap();
  if (!heap.shared)
    return 'the wasm kernels run on an unshared memory (no SharedArrayBuffer, kernels-threads.wasm missing, or CLOUDLESS_WASM_SHARED=0)';
  return pool?.failure;
}

/** How many chunks an op split for `threads` threads is cut into: enough that a late thread's share is taken by the others. */
export function chunksFor(threads: number): number {
  return threads <= 1 ? 1 : threads * CHUNKS_PER_THREAD;
}

/**
 * CLOUDLESS_POOL_CALLER_IDLE=1: the calling thread claims no chunk and only
 * waits, so the workers run every split op. For measuring the split with
 * instruction counts per thread (callgrind --separate-threads=yes): the
 * caller's count is then the part that stays serial, the workers' the part
 * that is split (see docs/threads.md).
 */
const CALLER_IDLE = envVar('CLOUDLESS_POOL_CALLER_IDLE') === '1';

/** Chunks per thread (CLOUDLESS_CHUNKS_PER_THREAD overrides it, for measuring the trade-off). */
const CHUNKS_PER_THREAD = Math.max(1, Math.floor(Number(envVar('CLOUDLESS_CHUNKS_PER_THREAD')) || 4));

/** How many threads a run with `threads` asked for gets now (no worker is started here). */
export function threadsFor(threads: number | undefined): number {
  if (!threads || threads <= 1 || !pool) return 1;
  return Math.min(threads, pool.workers.length + 1);
}

/**
 * Runs every chunk (a list of calls) once, spread over the pool's threads
 * and this one; without a pool, or with one chunk, all run here in order.
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

/**
 * Starts a run of a session with threads > 1 and returns the function that
 * ends it (Session.runSync calls both around its nodes, through the
 * registry's run scope): in between, idle workers poll for the next node's
 * chunks instead of sleeping, for at most HOT_SPIN_MS after the last one
 * (CLOUDLESS_POOL_HOT_MS).
 * Runs may overlap (a count).
 */
export function beginRun(): () => void {
  const p = pool;
  if (!p || p.workers.length === 0 || HOT_MS === 0) return noop;
  p.beginRun();
  return () => p.endRun();
}

const noop = () => {};

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
 * The chunks of a window op (conv, depthwise, pool, resize) for `threads`
 * threads, split by output rows: the flat rows of batch·outH in
 * chunksFor(threads) ranges, each cut at image boundaries into pieces
 * `make(n, oh0, rows, chunk)` for image n's output rows oh0 … oh0 + rows − 1
 * (`chunk` the range's index, for per-chunk buffers). A kernel runs a piece
 * as a one-image op of `rows` output rows whose top padding is pH − oh0·sH:
 * its row oh' reads input rows from (oh0 + oh')·sH − pH, the rows the whole
 * op reads for output row oh0 + oh'.
 */
export function windowRows(batch: number, outH: number, threads: number, make: (n: number, oh0: number, rows: number, chunk: number) => Call): Call[][] {
  const cuts = splitRange(batch * outH, chunksFor(threads));
  return cuts.slice(1).map((r1, chunk) => {
    const calls: Call[] = [];
    for (let r = cuts[chunk]!; r < r1; ) {
      const n = Math.floor(r / outH),
        oh0 = r - n * outH;
      const rows = Math.min(outH - oh0, r1 - r);
      calls.push(make(n, oh0, rows, chunk));
      r += rows;
    }
    return calls;
  });
}

/**
 * Work (multiply-adds, or bytes for the elementwise ops) below which an op
 * runs on the calling thread: waking the workers and joining them costs more
 * than it saves. 2^20: an int8 op of a million multiply-adds takes about
 * 50–100 µs on one core, a wake-up and a join tens of µs when the workers
 * spin and more when they sleep; at 2^18 person_detect (all of its convs
 * 0.17–0.6 M multiply-adds) was split op by op and got slower with 2 threads.
 * It now runs on one thread; MobileNet-v2 and CenterNet keep every large op
 * split (left on one thread: MobileNet-v2's depthwise convs of the 14×14 and
 * 7×7 stages, 12 ops and 2.5 % of its multiply-adds).
 */
export let MIN_PARALLEL_WORK = envWork() ?? 1 << 20;

/** CLOUDLESS_MIN_PARALLEL_WORK overrides it (0 splits every op: how the oracles are run on the pool to check their bits). */
function envWork(): number | undefined {
  const v = envVar('CLOUDLESS_MIN_PARALLEL_WORK');
  const n = v === undefined || v === '' ? Number.NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Sets MIN_PARALLEL_WORK (tests split the smallest ops too, to check their bits); returns the previous value. */
export function setMinParallelWork(work: number): number {
  const previous = MIN_PARALLEL_WORK;
  MIN_PARALLEL_WORK = work;
  return previous;
}
