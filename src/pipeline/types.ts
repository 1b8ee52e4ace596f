import type { Box } from '../tasks/vision/detection.js';

export type { Finding, Frame, FrameKind, Task, TaskResult } from '../tasks/types.js';

/**
 * The only thing that leaves a pipeline: a small JSON record of what a rule saw.
 * It never holds pixels or samples; `toEventJson` enforces its size.
 */
export interface PipelineEvent {
  /** Unique id (UUID v4): the idempotency key every sink receives, so a receiver can drop a repeat. */
  id: string;
  pipeline: string;
  /** 'rule' for a rule's event, 'state' for a fail-safe state change, 'model' for a step of a model rollout (src/fleet). */
  kind: 'rule' | 'state' | 'model';
  /** The rule that produced it (for 'state': 'safe_state'). */
  rule: string;
  /** ISO 8601 time of the frame (rule) or of the state change (state). */
  time: string;
  label?: string;
  score?: number;
  box?: Box;
  count?: number;
  value?: number;
  /** Tracking rules: the track, what happened to it, where, and for how long (seconds). */
  track_id?: number;
  track_event?: 'enter' | 'leave' | 'loiter' | 'line' | 'stationary';
  zone?: string;
  line?: string;
  direction?: 'left_to_right' | 'right_to_left';
  dwell_s?: number;
  /** For 'state' events: 'safe' or 'normal', and the causes. */
  state?: 'safe' | 'normal' | 'stopped';
  causes?: string[];
}
