import type { Box } from '../tasks/vision/detection.js';

/** What kind of raw data a frame carries; tasks refuse kinds they cannot read. */
export type FrameKind = 'image' | 'video' | 'audio' | 'sensor';

/**
 * One unit of raw sensor data. `data` is owned by the pipeline: the runner
 * overwrites it with zeros once the decision about the frame is made, so no
 * other part of the program may keep a reference to it.
 */
export interface Frame {
  kind: FrameKind;
  /** Position in the source's stream, from 0. */
  seq: number;
  /** Milliseconds since the epoch when the source produced the frame. */
  time: number;
  /** The source's name (never a file's content). */
  source: string;
  /**
   * image: encoded file bytes (JPEG, PNG, ...); video: packed RGB24 pixels of width x height;
   * audio: signed 16-bit little-endian mono PCM; sensor: the UTF-8 payload (an MQTT message or a stdin line).
   */
  data: Uint8Array;
  width?: number;
  height?: number;
  sampleRate?: number;
  /** MQTT topic of a sensor frame. */
  topic?: string;
  /** Called once after the decision (a drop folder deletes its file here). */
  release?: () => Promise<void>;
}

/** One thing a task found: a detection (with a box), a class, or a keyword. */
export interface Finding {
  label: string;
  score: number;
  /** [x1, y1, x2, y2] in pixels of the frame, for detections. */
  box?: Box;
}

/** What a task derived from a frame: everything rules may look at, nothing raw. */
export interface TaskResult {
  /** Frame size in pixels, so that regions of interest can be given as fractions. */
  width?: number;
  height?: number;
  findings: Finding[];
  /** A scalar reading: a sensor value, a sound level in dBFS, ... */
  value?: number;
  /** An anomaly score (for sensors: the z-score of the value against its recent window). */
  anomaly?: number;
}

/** The task a pipeline runs on each frame. A model that throws moves the pipeline to its safe state. */
export interface Task {
  readonly name: string;
  /** Frame kinds the task accepts. */
  readonly accepts: readonly FrameKind[];
  run(frame: Frame): Promise<TaskResult>;
  close?(): Promise<void>;
}

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
