/**
 * What a task sees and returns: the contract between the tasks that run models
 * on raw data and the pipeline that feeds them frames (src/pipeline re-exports
 * these types). They live here because the pipeline imports the tasks, not the
 * other way round.
 */
import type { Box } from './vision/detection.js';

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
