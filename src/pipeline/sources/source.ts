import type { PipelineLog } from '../log.js';
import type { FrameQueue } from '../queue.js';

/** What a running source can do to its pipeline. */
export interface SourceContext {
  queue: FrameQueue;
  /** The source stopped delivering (device gone, process died): the pipeline goes to its safe state. */
  fault(reason: string): void;
  /** The source delivers again: clears its fault. */
  healthy(): void;
  /** The source has no more data (end of a file). */
  end(): void;
  log?: PipelineLog;
}

/** A producer of raw frames. Frames go into the context's bounded queue; the source never holds more than one frame of its own. */
export interface Source {
  readonly name: string;
  start(ctx: SourceContext): Promise<void>;
  stop(): Promise<void>;
}

/** Delay before the n-th restart of a dead source (1 s doubling to 30 s). */
export const restartDelay = (n: number) => Math.min(30_000, 1000 * 2 ** Math.min(n, 5));
