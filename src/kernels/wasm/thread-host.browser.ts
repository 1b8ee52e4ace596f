/**
 * The browser bundle's worker host (it replaces thread-host.ts there): each
 * thread of the pool is a Web Worker running cloudless-pool-worker.js, the
 * file scripts/build-browser.mjs writes beside the bundle from the same loop
 * source Node evaluates (WORKER_MAIN in pool-worker.ts). It is a file, not a
 * blob: or eval'd script, so a page whose Content-Security-Policy allows only
 * its own scripts and workers (the dashboard's) can start it.
 *
 * A page's workers share the kernels' WebAssembly.Memory only where the page
 * is cross-origin isolated (served with Cross-Origin-Opener-Policy:
 * same-origin and Cross-Origin-Embedder-Policy: require-corp): otherwise there
 * is no SharedArrayBuffer, initWasm() installs the unshared build and
 * sessions run on one thread (threadsUnavailable() says why). A Web Worker
 * starts only once the page yields, so the pool starts its workers in
 * startThreads (which load() awaits), never while it blocks.
 */
import type { StartWorker } from './thread-host-core.js';
import { READY } from './pool-worker.js';

/** Web Workers start only after the page yields: workers are started by startThreads, not in prepare. */
export const ASYNC_START = true;

let workerUrl: URL | undefined;

/** Where the pool's worker script is fetched from; by default cloudless-pool-worker.js beside the bundle. */
export function setPoolWorkerUrl(url: URL): void {
  workerUrl = url;
}

/** What the pool uses of a Web Worker (typed here: the Node typecheck sees this file too, without the DOM's types). */
interface PageWorker {
  onerror: (() => void) | null;
  postMessage(data: unknown): void;
  terminate(): void;
}
type PageWorkerClass = new (url: URL, options: { name: string }) => PageWorker;

/** Starts one Web Worker on the pool's loop and posts it `data` (StartWorker in thread-host-core.ts). */
export const startWorker: StartWorker = (_main, data) => {
  const Worker = (globalThis as { Worker?: PageWorkerClass }).Worker;
  if (typeof Worker !== 'function') return 'this context has no Web Workers';
  try {
    const w = new Worker(workerUrl ?? new URL('./cloudless-pool-worker.js', import.meta.url), { name: `cloudless-pool-${data.slot}` });
    // A script that fails to load or run reports it here: the pool stops waiting for it at once.
    w.onerror = () => {
      const i32 = new Int32Array(data.control);
      Atomics.store(i32, READY + data.slot, -1);
      Atomics.notify(i32, READY + data.slot);
    };
    w.postMessage(data);
    return { terminate: () => w.terminate() };
  } catch (err) {
    return `a Web Worker could not start: ${(err as Error).message}`;
  }
};
