/**
 * The fail-safe: a pipeline is 'normal' while nothing is wrong and 'safe' while
 * at least one fault is active (source dead, model throwing, deadlines missed,
 * a broker unreachable). Entering the safe state runs the declared local
 * command once and records a state event; when the last fault clears, the
 * recover command runs and 'normal' is recorded. Both transitions are events
 * in the ledger like any rule's, so they survive a network outage and are
 * delivered to the notified sinks later.
 */
import { randomUUID } from 'node:crypto';
import { runCommand } from './actions.js';
import type { PipelineLog } from './log.js';
import type { PipelineEvent } from './types.js';

export type FaultKind = 'source' | 'model' | 'deadline' | 'sink';

export interface FailSafeOptions {
  pipeline: string;
  description: string;
  command?: string;
  recoverCommand?: string;
  /** Records a state event (ledger + notified sinks). */
  record: (event: PipelineEvent) => void;
  log?: PipelineLog;
}

export class FailSafe {
  private readonly faults = new Map<string, string>();
  state: 'normal' | 'safe' = 'normal';
  transitions = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: FailSafeOptions) {}

  /** Active faults as "kind:subject" keys. */
  get causes(): string[] { return [...this.faults.keys()]; }

  /** Raises a fault (idempotent while it stays raised). */
  raise(kind: FaultKind, subject: string, reason: string): void {
    const key = `${kind}:${subject}`;
    if (this.faults.has(key)) return;
    this.faults.set(key, reason);
    this.opts.log?.warn('fault', { fault: key, reason });
    if (this.state === 'normal') this.transition('safe');
  }

  /** Clears a fault; the pipeline recovers when none is left. */
  clear(kind: FaultKind, subject: string): void {
    const key = `${kind}:${subject}`;
    if (!this.faults.delete(key)) return;
    this.opts.log?.info('fault cleared', { fault: key });
    if (this.faults.size === 0 && this.state === 'safe') this.transition('normal');
  }

  private transition(to: 'safe' | 'normal'): void {
    this.state = to;
    this.transitions++;
    const causes = to === 'safe' ? this.causes : [];
    const event: PipelineEvent = {
      id: randomUUID(), pipeline: this.opts.pipeline, kind: 'state', rule: 'safe_state', time: new Date().toISOString(), state: to, causes,
    };
    this.opts.record(event);
    this.opts.log?.warn(to === 'safe' ? `entering safe state: ${this.opts.description}` : 'recovered: leaving safe state', { causes: causes.join(', ') });
    const command = to === 'safe' ? this.opts.command : this.opts.recoverCommand;
    if (command) {
      // Commands run one after another, in transition order, without holding up the inference loop.
      this.chain = this.chain.then(() => runCommand(command, JSON.stringify(event), 30_000, { CLOUDLESS_STATE: to }))
        .catch((err: unknown) => this.opts.log?.error('safe-state command failed', { state: to, error: (err as Error).message }));
    }
  }

  /** Waits for the state commands started so far. */
  settled(): Promise<void> { return this.chain; }
}

/** Counts consecutive frames over the deadline; a fault after `maxMissed` in a row, cleared by the next frame on time. */
export class DeadlineWatchdog {
  missedInARow = 0;
  missedTotal = 0;

  constructor(private readonly deadlineMs: number | undefined, private readonly maxMissed: number, private readonly failsafe: FailSafe) {}

  observe(elapsedMs: number): void {
    if (this.deadlineMs === undefined) return;
    if (elapsedMs > this.deadlineMs) {
      this.missedInARow++;
      this.missedTotal++;
      if (this.missedInARow >= this.maxMissed) {
        this.failsafe.raise('deadline', 'inference', `${this.missedInARow} frames in a row over the ${this.deadlineMs} ms deadline`);
      }
    } else {
      this.missedInARow = 0;
      this.failsafe.clear('deadline', 'inference');
    }
  }
}
