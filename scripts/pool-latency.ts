/**
 * npx tsx scripts/pool-latency.ts [--threads 2] [--op table|dequantize] [--reps 400]
 *
 * What a split op gains on the wasm thread pool after an idle gap: one op of
 * 2^20 elements (table_i8, compute-bound, or dequantize_i8_f32, memory-bound)
 * as one call and as 4 × threads range chunks, alternated, after the caller
 * has spun for 0 … 3000 µs (serial work between two nodes of a run). Prints
 * the medians and the ratio per gap, once with the workers sleeping between
 * jobs (no run under way) and once inside beginRun (workers polling, as
 * between the nodes of a session's run). CLOUDLESS_POOL_HOT_MS and
 * CLOUDLESS_POOL_SPIN change the pool's policy.
 */
import { wasmHeap } from '../src/kernels/wasm/heap.js';
import { type Call, beginRun, chunksFor, closeThreadPool, ensureThreads, runParallel, splitRange } from '../src/kernels/wasm/threads.js';

const args = process.argv.slice(2);
const flag = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const threads = ensureThreads(Number(flag('--threads') ?? 2));
const op = flag('--op') ?? 'table';
const reps = Number(flag('--reps') ?? 400);
if (threads < 2) throw new Error('scripts/pool-latency.ts: the pool did not start (no shared memory?)');

const heap = wasmHeap();
const N = 1 << 20;
const x = heap.alloc(N * 5), table = heap.alloc(256);
const call = (at: number, len: number): Call => op === 'table'
  ? ['table_i8', x + at, x + N + at, len, table]
  : ['dequantize_i8_f32', x + at, x + N + at * 4, len, 0, 0.5];
const one = [[call(0, N)]];
const cuts = splitRange(N, chunksFor(threads), 64);
const split = cuts.slice(1).map((b, s) => [call(cuts[s]!, b - cuts[s]!)]);
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;

function measure(label: string): void {
  for (const gapUs of [0, 100, 300, 1000, 3000]) {
    const t1: number[] = [], tn: number[] = [];
    for (let i = 0; i < reps; i++) {
      for (const [times, parts] of [[t1, one], [tn, split]] as const) {
        const s = performance.now();
        while ((performance.now() - s) * 1000 < gapUs);
        const a = performance.now();
        runParallel(parts);
        times.push(performance.now() - a);
      }
    }
    console.log(`${label} gap ${String(gapUs).padStart(4)} µs: 1 call ${(median(t1) * 1000).toFixed(1)} µs, ` +
      `${split.length} chunks on ${threads} threads ${(median(tn) * 1000).toFixed(1)} µs, speed-up ${(median(t1) / median(tn)).toFixed(2)}×`);
  }
}

console.log(`pool-latency: ${op}, 2^20 elements, ${threads} threads, ${reps} repetitions per gap`);
measure('idle pool ');
const end = beginRun();
measure('in a run  ');
end();
closeThreadPool();
