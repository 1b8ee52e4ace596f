import type { Frame } from './types.js';
import { zeroFrame } from './privacy.js';

/**
 * A bounded frame queue between a source and the inference loop. When inference
 * is slower than the source, `offer` drops the oldest waiting frame (a live
 * camera wants the newest picture, not a backlog), zeroes it and counts it:
 * memory stays bounded whatever the source does. Sources that can wait (a drop
 * folder: the folder itself is the backlog, on disk, not in memory) use `put`.
 */
export class FrameQueue {
  private readonly items: Frame[] = [];
  private takers: ((f: Frame | undefined) => void)[] = [];
  private roomWaiters: (() => void)[] = [];
  private closed = false;
  /** Frames dropped: pushed out by newer ones, or refused on arrival by a source that checked hasRoom(). */
  dropped = 0;
  /** Frames that entered the queue. */
  accepted = 0;
  /** Frames refused on arrival (they never entered, so `accepted` does not count them). */
  refused = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
  }

  get length(): number { return this.items.length; }

  /** Adds a frame; when full, the oldest frame is dropped (zeroed, released, counted). Returns false if closed. */
  offer(frame: Frame): boolean {
    if (this.closed) { void discard(frame); return false; }
    this.accepted++;
    if (this.handOver(frame)) return true;
    if (this.items.length >= this.capacity) {
      const oldest = this.items.shift()!;
      this.dropped++;
      void discard(oldest);
    }
    this.items.push(frame);
    return true;
  }

  /** Adds a frame, waiting for room instead of dropping. Resolves false if the queue closed meanwhile. */
  async put(frame: Frame): Promise<boolean> {
    while (!this.closed && this.items.length >= this.capacity) await new Promise<void>((r) => this.roomWaiters.push(r));
    if (this.closed) { await discard(frame); return false; }
    this.accepted++;
    if (!this.handOver(frame)) this.items.push(frame);
    return true;
  }

  /** Counts a frame the source discarded unseen because the queue was full. */
  refuse(): void {
    this.refused++;
    this.dropped++;
  }

  /** Whether a frame offered now would be kept without dropping another. */
  hasRoom(): boolean { return this.items.length < this.capacity; }

  /** The next frame, or undefined once the queue is closed and empty. */
  take(): Promise<Frame | undefined> {
    const f = this.items.shift();
    if (f) { this.wakeRoom(); return Promise.resolve(f); }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((r) => this.takers.push(r));
  }

  /** Stops accepting frames; waiting takers get undefined once the queue is empty. */
  close(): void {
    this.closed = true;
    for (const t of this.takers.splice(0)) t(undefined);
    this.wakeRoom(true);
  }

  /** Zeroes and releases every waiting frame (shutdown without draining). Returns how many. */
  async clear(): Promise<number> {
    const rest = this.items.splice(0);
    for (const f of rest) await discard(f);
    this.wakeRoom(true);
    return rest.length;
  }

  private handOver(frame: Frame): boolean {
    const t = this.takers.shift();
    if (!t) return false;
    t(frame);
    return true;
  }

  private wakeRoom(all = false): void {
    const n = all ? this.roomWaiters.length : 1;
    for (const w of this.roomWaiters.splice(0, n)) w();
  }
}

async function discard(frame: Frame): Promise<void> {
  zeroFrame(frame);
  try { await frame.release?.(); } catch { /* a file that is already gone needs no deleting */ }
}
