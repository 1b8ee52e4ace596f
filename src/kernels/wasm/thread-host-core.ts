/**
 * What the kernels' thread pool (threads.ts) asks of a host, whatever runs it: the data a worker
 * starts with and a handle to end it. thread-host.ts (Node's worker_threads) and
 * thread-host.browser.ts (the browser bundle's, which starts none yet) are the two hosts; both
 * implement `StartWorker` over these types.
 */

/** What a worker needs: the compiled kernels, the shared memory, the control block, its slot and its scratch. */
export interface WorkerData {
  module: object;
  memory: object;
  control: SharedArrayBuffer;
  slot: number;
  scratchI8: number;
  scratchI16: number;
  names: readonly string[];
  /** Atomics.load polls before the worker sleeps (pool-worker.ts). */
  spin: number;
  /** ms a worker polls without sleeping while a run is under way (pool-worker.ts). */
  hotMs: number;
}

/** A started worker: ending it is all the pool asks of a host. */
export interface WorkerHandle {
  terminate(): void;
}

/** Starts one worker running `main` (the source of a function of one argument, the WorkerData), or says why it cannot. */
export type StartWorker = (main: string, data: WorkerData) => WorkerHandle | string;
