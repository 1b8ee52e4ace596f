/**
 * The wasm thread pool's shared control block and the loop its workers run
 * (threads.ts drives them). The loop is kept as source text so that every host
 * runs the same code: Node evaluates it in a worker_thread (thread-host.ts),
 * and scripts/build-browser.mjs writes it into cloudless-pool-worker.js, the
 * Web Worker the browser bundle starts (thread-host.browser.ts; a file of its
 * own, so pages whose Content-Security-Policy forbids eval and blob: workers
 * can run it). This module imports nothing.
 *
 * Control block (Int32 words), one 64-byte cache line per group so that
 * the words a job hammers (NEXT claimed by every thread, FINISHED counted per
 * chunk) do not share a line with the words spinning workers poll: GEN the
 * job's generation (bumped per job, −1 = stop), COUNT the chunks and FAILED a
 * call that threw (line 0, written once per job); NEXT the next chunk to
 * claim (line 1); FINISHED the chunks done (line 2); HOT the runs under way
 * (line 3); READY + s worker s's start (1 ok, −1 failed; lines 4–7). From
 * byte TABLE_AT, Float64: COUNT + 1 offsets of the chunks' calls, then the
 * calls (export index, argument count, arguments).
 */
export const CONTROL_BYTES = 1 << 16;
export const GEN = 0,
  COUNT = 1,
  FAILED = 2,
  NEXT = 16,
  FINISHED = 32,
  HOT = 48,
  READY = 64;
export const TABLE_AT = 512;
export const TABLE_F64 = (CONTROL_BYTES - TABLE_AT) / 8;
/** NEXT while a job is being written: late claims see it as exhausted. */
export const LOCKED = 1 << 30;
/**
 * Atomics.load polls before an idle thread sleeps when no run is under way
 * (HOT = 0). The default of threads.ts (CLOUDLESS_POOL_SPIN overrides it
 * there; 0: sleep at once, which makes per-thread instruction counts count
 * work only) comes to a worker in its start data (`spin`).
 */
export const DEFAULT_SPIN = 20000;
/**
 * While a run is under way (HOT > 0) workers poll for the next job without
 * sleeping, up to this many ms since the last one (`hotMs` in the start
 * data); then they sleep as outside a run. On a KVM guest a worker woken
 * from Atomics.wait started its chunks late or ran them slowly: a 460 µs
 * table op split in 8 chunks over 2 threads took 0.7–1.7× the 1-thread time
 * depending on the gap before it, and 1.92–1.97× with workers polling
 * (docs/threads.md, "Waking workers").
 */
export const HOT_SPIN_MS = 20;

/**
 * The worker's loop, as source (run by the host in a worker; plain JS so it
 * needs no module loader and no transpilation). It instantiates the module
 * over the shared memory, points its scratch at its own region, reports
 * ready, then at each new generation claims chunks until none is left.
 * Between jobs it polls GEN: without a break while a run is hot (HOT > 0,
 * for at most hotMs), else `spin` times; then it sleeps on GEN until a job
 * notifies it.
 */
export const WORKER_MAIN = `function (d) {
  const i32 = new Int32Array(d.control, 0, ${CONTROL_BYTES / 4});
  const f64 = new Float64Array(d.control, ${TABLE_AT}, ${TABLE_F64});
  let fns;
  try {
    const ex = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
    ex.set_scratch_i8(d.scratchI8);
    ex.set_scratch_i16(d.scratchI16);
    fns = d.names.map((n) => ex[n]);
  } catch (e) {
    Atomics.store(i32, ${READY} + d.slot, -1);
    Atomics.notify(i32, ${READY} + d.slot);
    return;
  }
  Atomics.store(i32, ${READY} + d.slot, 1);
  Atomics.notify(i32, ${READY} + d.slot);
  let seen = Atomics.load(i32, ${GEN});
  for (;;) {
    let g = Atomics.load(i32, ${GEN});
    let polls = 0, hotSince = 0;
    while (g === seen) {
      if (Atomics.load(i32, ${HOT}) > 0) {
        // A run is under way: keep polling, checking the clock now and then.
        if ((++polls & 1023) === 0) {
          const now = Date.now();
          if (hotSince === 0) hotSince = now;
          else if (now - hotSince > d.hotMs) {
            Atomics.wait(i32, ${GEN}, seen);
            hotSince = 0;
          }
        }
      } else if (++polls > d.spin) {
        Atomics.wait(i32, ${GEN}, seen);
        polls = 0;
        hotSince = 0;
      }
      g = Atomics.load(i32, ${GEN});
    }
    if (g < 0) return;
    seen = g;
    for (;;) {
      const c = Atomics.add(i32, ${NEXT}, 1);
      if (c >= Atomics.load(i32, ${COUNT})) break;
      try {
        for (let at = f64[c], end = f64[c + 1]; at < end;) {
          const fn = fns[f64[at]], k = f64[at + 1];
          const args = new Array(k);
          for (let j = 0; j < k; j++) args[j] = f64[at + 2 + j];
          fn.apply(null, args);
          at += 2 + k;
        }
      } catch (e) {
        Atomics.store(i32, ${FAILED}, 1);
      }
      if (Atomics.add(i32, ${FINISHED}, 1) + 1 === Atomics.load(i32, ${COUNT})) Atomics.notify(i32, ${FINISHED});
    }
  }
}`;

