/**
 * Static memory planning: packs every intermediate tensor of a plan into one arena.
 *
 * The algorithm (greedy by size, first fit), in the manner of TFLite Micro's
 * GreedyMemoryPlanner:
 *   1. Each buffer has a size in bytes and a lifetime [first, last]: the index of
 *      the step that writes it and of the last step that reads it (inclusive).
 *   2. Buffers are placed one by one, largest first (ties: earlier first use,
 *      then declaration order), so big tensors claim low offsets while the arena
 *      is still empty.
 *   3. For the buffer being placed, collect the already placed buffers whose
 *      lifetimes overlap its own, sorted by offset. Walk the gaps between them from
 *      offset 0 and take the first gap large enough (first fit); if none, place it
 *      after the highest of them.
 *   4. The arena size is the highest end offset. Offsets are aligned to `alignment`
 *      bytes so that every typed-array view (up to 8-byte elements) and SIMD loads
 *      line up.
 *
 * Where it is not optimal: placement order is fixed by size, so a small buffer
 * placed late can land in a gap that a different order would have left for a
 * larger one; the problem is NP-hard in general and greedy-by-size is within a few
 * percent of the lower bound (the largest sum of sizes alive at one step) on the
 * conv nets we measured. `lowerBound` below is that bound, reported by debug prints.
 * Cost is O(n^2) in the number of buffers, fine for graphs of thousands of tensors.
 */
export interface ArenaRequest {
  /** Stable identifier (a value name). */
  id: string;
  bytes: number;
  first: number;
  last: number;
}

/** Declared in ir/ (the kernels of a backend provide one); re-exported here for the runtime's users. */
export type { ArenaHost } from '../ir/kernel.js';

export interface ArenaPlan {
  offsets: Map<string, number>;
  arenaBytes: number;
  /** The largest total of aligned bytes alive at any one step: no plan can be smaller. */
  lowerBound: number;
  alignment: number;
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

export function planArena(requests: readonly ArenaRequest[], alignment = 16): ArenaPlan {
  const order = requests
    .map((r, index) => ({ ...r, bytes: alignUp(r.bytes, alignment), index }))
    .sort((a, b) => b.bytes - a.bytes || a.first - b.first || a.index - b.index);
  const placed: { offset: number; bytes: number; first: number; last: number }[] = [];
  const offsets = new Map<string, number>();
  let arenaBytes = 0;
  for (const r of order) {
    let offset = 0;
    if (r.bytes > 0) {
      const live = placed
        .filter((p) => p.bytes > 0 && p.first <= r.last && r.first <= p.last)
        .sort((a, b) => a.offset - b.offset);
      for (const p of live) {
        if (p.offset - offset >= r.bytes) break; // the gap before p fits
        offset = Math.max(offset, p.offset + p.bytes);
      }
    }
    placed.push({ offset, bytes: r.bytes, first: r.first, last: r.last });
    offsets.set(r.id, offset);
    arenaBytes = Math.max(arenaBytes, offset + r.bytes);
  }
  return { offsets, arenaBytes, lowerBound: lowerBoundOf(order), alignment };
}

function lowerBoundOf(reqs: readonly { bytes: number; first: number; last: number }[]): number {
  const events = new Map<number, number>();
  for (const r of reqs) {
    events.set(r.first, (events.get(r.first) ?? 0) + r.bytes);
    events.set(r.last + 1, (events.get(r.last + 1) ?? 0) - r.bytes);
  }
  let live = 0, best = 0;
  for (const t of [...events.keys()].sort((a, b) => a - b)) {
    live += events.get(t)!;
    best = Math.max(best, live);
  }
  return best;
}

/** A human-readable map of the plan: one line per buffer with its offset, size and lifetime bar. */
export function describeArena(requests: readonly ArenaRequest[], plan: ArenaPlan, width = 40): string {
  const steps = Math.max(1, ...requests.map((r) => r.last + 1));
  const scale = Math.min(1, width / steps);
  const lines = [
    `arena ${plan.arenaBytes} bytes (lower bound ${plan.lowerBound}, alignment ${plan.alignment}), ${requests.length} buffers over ${steps} steps`,
  ];
  const sorted = [...requests].sort((a, b) => (plan.offsets.get(a.id)! - plan.offsets.get(b.id)!) || a.first - b.first);
  for (const r of sorted) {
    const a = Math.floor(r.first * scale), b = Math.floor(r.last * scale);
    const bar = ' '.repeat(a) + '#'.repeat(b - a + 1);
    lines.push(`${String(plan.offsets.get(r.id)).padStart(10)} ${String(r.bytes).padStart(10)}  |${bar.padEnd(Math.ceil(steps * scale))}| ${r.id}`);
  }
  return lines.join('\n');
}
