/**
 * One delivery worker per sink: it takes the sink's pending events from the
 * ledger, oldest first, sends them one at a time and marks each delivered after
 * the receiver's acknowledgement. On a failure it waits with exponential backoff
 * (reset by the sink coming back up) and tries the same event again, so order is
 * kept and nothing is skipped. The worker runs beside inference on the event
 * loop and never holds it up: the inference loop only writes the ledger row.
 *
 * One event in flight per sink bounds the duplicates an outage can cause to
 * one: the event whose acknowledgement was lost with the connection. It is sent
 * again with the same id, which is how a receiver recognises it.
 */
import type { Sink } from './actions.js';
import type { Ledger } from './ledger.js';
import type { PipelineLog } from './log.js';

export interface Backoff { initial_ms: number; max_ms: number }

export class DeliveryWorker {
  private wake?: () => void;
  private stopped = false;
  private failures = 0;
  private running?: Promise<void>;
  delivered = 0;
  failedAttempts = 0;

  constructor(
    private readonly ledger: Ledger,
    readonly sink: Sink,
    private readonly backoff: Backoff,
    private readonly log?: PipelineLog,
  ) {
    sink.status?.on('up', () => { this.failures = 0; this.notify(); });
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Tells the worker new events are pending (or the sink came back). */
  notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === Infinity ? undefined : setTimeout(() => { this.wake = undefined; resolve(); }, ms);
      this.wake = () => { if (timer) clearTimeout(timer); resolve(); };
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const due = this.ledger.due(this.sink.name, 32);
      if (due.length === 0) { await this.sleep(Infinity); continue; }
      for (const body of due) {
        if (this.stopped) return;
        const id = (JSON.parse(body) as { id: string }).id;
        // biome-ignore lint/suspicious/noConfusingVoidType: what Sink.send resolves to
        let contacted: string | void;
        try {
          contacted = await this.sink.send(body, id);
        } catch (err) {
          this.failures++;
          this.failedAttempts++;
          const delay = Math.min(this.backoff.max_ms, this.backoff.initial_ms * 2 ** Math.min(this.failures - 1, 20));
          const attempts = this.ledger.markFailed(id, this.sink.name, err, Date.now() + delay);
          if (attempts === 1 || this.failures % 10 === 1) {
            this.log?.warn('delivery failed; will retry', { sink: this.sink.name, event: id, attempts, retry_ms: delay, error: (err as Error).message });
          }
          if (this.stopped) return;
          await this.sleep(delay);
          break;
        }
        this.failures = 0;
        // The destination as audited names the address actually contacted, not only the configured URL.
        const destination = contacted ? `${this.sink.destination} via ${contacted}` : this.sink.destination;
        if (this.ledger.markDelivered(id, this.sink.name, destination, Buffer.byteLength(body))) this.delivered++;
      }
    }
  }

  /** Waits until the sink has nothing pending, or `timeoutMs` passes; returns how many are still pending. */
  async drain(timeoutMs: number): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && this.ledger.pendingCount(this.sink.name) > 0) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.ledger.pendingCount(this.sink.name);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.notify();
    // A sink whose acknowledgement comes end to end (the fleet store's) could hold the last send for its whole timeout.
    this.sink.cancel?.('the pipeline is stopping');
    await this.running;
  }
}
