/**
 * Multi-object tracking over per-frame detections, in the manner of SORT
 * (Bewley et al. 2016) with ByteTrack's second association (Zhang et al. 2022).
 *
 * Each track carries a constant-velocity Kalman filter over the box state
 * x = [cx, cy, s, r, vcx, vcy, vs] (centre, area s = w * h, aspect r = w / h,
 * and the velocities of the first three; r is taken as constant), observed as
 * z = [cx, cy, s, r]. The noise settings are SORT's: R = diag(1, 1, 10, 10),
 * P0 = diag(10, 10, 10, 10, 1e4, 1e4, 1e4), Q = diag(1, 1, 1, 1, 0.01, 0.01, 1e-4).
 *
 * One frame, in steps:
 *  1. every track predicts its box one frame ahead (a negative area stops growing);
 *  2. detections scoring >= highScore are matched to tracks of the same label by IoU
 *     with the predicted box — GREEDY matching: pairs with IoU >= iouThreshold taken
 *     best IoU first, each track and detection at most once (not the Hungarian
 *     assignment SORT uses: on sparse street scenes the two rarely differ, and greedy
 *     needs no O(n^3) solver);
 *  3. tracks still unmatched are matched the same way to detections scoring between
 *     lowScore and highScore (ByteTrack: a person half hidden keeps its track);
 *  4. matched tracks take the measurement (Kalman update); unmatched high-score
 *     detections start new tracks; unmatched tracks count a miss and are dropped
 *     after maxMissed frames — so an id survives a short occlusion;
 *  5. a track is confirmed after minHits matched frames; only confirmed tracks are
 *     reported, and each keeps the id it was given when it was created.
 */
import { CloudlessError } from '../../ir/index.js';
import type { Box, Detection } from './detection.js';
import { iou } from './nms.js';

export interface TrackerOptions {
  /** Minimum IoU between a predicted track box and a detection to match (default 0.3). */
  iouThreshold?: number;
  /** Detections at or above this start tracks and match first (default 0.4). */
  highScore?: number;
  /** Detections between this and highScore only extend existing tracks (default 0.15). */
  lowScore?: number;
  /** Frames a track may go unmatched before it is dropped (default 30). */
  maxMissed?: number;
  /** Matched frames before a track is reported (default 3). */
  minHits?: number;
}

/** A confirmed track as seen after one frame. */
export interface Track {
  id: number;
  label: string;
  /** The filtered box [x1, y1, x2, y2] (the Kalman state after the update, or the prediction when missed). */
  box: Box;
  /** Score of the last matched detection. */
  score: number;
  /** Frames matched so far. */
  hits: number;
  /** Consecutive frames without a match (0 when matched this frame). */
  missed: number;
  /** Time (ms) of the first and the latest matched frame. */
  firstSeen: number;
  lastSeen: number;
  /** Velocity of the box centre in pixels per frame. */
  velocity: [number, number];
}

const N = 7;

/** The Kalman filter of one track: state x (7) and covariance P (7 x 7, row-major). */
class BoxFilter {
  readonly x = new Float64Array(N);
  readonly P = new Float64Array(N * N);

  constructor(box: Box) {
    const z = toMeasurement(box);
    for (let i = 0; i < 4; i++) this.x[i] = z[i]!;
    const p0 = [10, 10, 10, 10, 1e4, 1e4, 1e4];
    for (let i = 0; i < N; i++) this.P[i * N + i] = p0[i]!;
  }

  /** x = F x, P = F P F' + Q with F the identity plus x[i] += x[i + 4] for i < 3. */
  predict(): void {
    const { x, P } = this;
    if (x[2]! + x[6]! <= 0) x[6] = 0;
    for (let i = 0; i < 3; i++) x[i] = x[i]! + x[i + 4]!;
    // P F': columns i < 3 gain column i + 4.
    for (let r = 0; r < N; r++) for (let i = 0; i < 3; i++) P[r * N + i] = P[r * N + i]! + P[r * N + i + 4]!;
    // F (P F'): rows i < 3 gain row i + 4.
    for (let i = 0; i < 3; i++) for (let c = 0; c < N; c++) P[i * N + c] = P[i * N + c]! + P[(i + 4) * N + c]!;
    const q = [1, 1, 1, 1, 0.01, 0.01, 1e-4];
    for (let i = 0; i < N; i++) P[i * N + i] = P[i * N + i]! + q[i]!;
  }

  /** Standard update with H = [I4 0]: S = P[0:4,0:4] + R, K = P[:,0:4] S^-1. */
  update(box: Box): void {
    const { x, P } = this;
    const z = toMeasurement(box);
    const R = [1, 1, 10, 10];
    const S = new Float64Array(16);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) S[i * 4 + j] = P[i * N + j]! + (i === j ? R[i]! : 0);
    const Si = invert4(S);
    const K = new Float64Array(N * 4);
    for (let r = 0; r < N; r++) {
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += P[r * N + k]! * Si[k * 4 + j]!;
        K[r * 4 + j] = s;
      }
    }
    const y = [z[0]! - x[0]!, z[1]! - x[1]!, z[2]! - x[2]!, z[3]! - x[3]!];
    for (let r = 0; r < N; r++) x[r] = x[r]! + K[r * 4]! * y[0]! + K[r * 4 + 1]! * y[1]! + K[r * 4 + 2]! * y[2]! + K[r * 4 + 3]! * y[3]!;
    // P = (I - K H) P: row r loses sum_k K[r,k] P[k,:].
    const Pn = new Float64Array(N * N);
    for (let r = 0; r < N; r++) {
      for (let c = 0; c < N; c++) {
        let s = P[r * N + c]!;
        for (let k = 0; k < 4; k++) s -= K[r * 4 + k]! * P[k * N + c]!;
        Pn[r * N + c] = s;
      }
    }
    P.set(Pn);
  }

  box(): Box {
    const [cx, cy, s, r] = this.x as unknown as number[];
    const area = Math.max(s!, 1e-6);
    const w = Math.sqrt(area * Math.max(r!, 1e-6));
    const h = area / w;
    return [cx! - w / 2, cy! - h / 2, cx! + w / 2, cy! + h / 2];
  }
}

function toMeasurement(b: Box): number[] {
  const w = Math.max(b[2] - b[0], 1e-3), h = Math.max(b[3] - b[1], 1e-3);
  return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, w * h, w / h];
}

/** Inverse of a symmetric positive definite 4 x 4 matrix by Gauss-Jordan with partial pivoting. */
function invert4(m: Float64Array): Float64Array {
  const a = Float64Array.from(m);
  const inv = new Float64Array(16);
  for (let i = 0; i < 4; i++) inv[i * 5] = 1;
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[r * 4 + c]!) > Math.abs(a[p * 4 + c]!)) p = r;
    if (a[p * 4 + c] === 0) throw new CloudlessError('E_INTERNAL', 'tracker: singular innovation covariance');
    for (let k = 0; k < 4; k++) {
      [a[c * 4 + k], a[p * 4 + k]] = [a[p * 4 + k]!, a[c * 4 + k]!];
      [inv[c * 4 + k], inv[p * 4 + k]] = [inv[p * 4 + k]!, inv[c * 4 + k]!];
    }
    const d = a[c * 4 + c]!;
    for (let k = 0; k < 4; k++) { a[c * 4 + k] = a[c * 4 + k]! / d; inv[c * 4 + k] = inv[c * 4 + k]! / d; }
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = a[r * 4 + c]!;
      if (f === 0) continue;
      for (let k = 0; k < 4; k++) { a[r * 4 + k] = a[r * 4 + k]! - f * a[c * 4 + k]!; inv[r * 4 + k] = inv[r * 4 + k]! - f * inv[c * 4 + k]!; }
    }
  }
  return inv;
}

interface TrackState {
  id: number;
  label: string;
  filter: BoxFilter;
  score: number;
  hits: number;
  missed: number;
  firstSeen: number;
  lastSeen: number;
}

export class Tracker {
  private tracks: TrackState[] = [];
  private nextId = 1;
  private readonly o: Required<TrackerOptions>;

  constructor(opts: TrackerOptions = {}) {
    this.o = { iouThreshold: 0.3, highScore: 0.4, lowScore: 0.15, maxMissed: 30, minHits: 3, ...opts };
    const { iouThreshold, highScore, lowScore, maxMissed, minHits } = this.o;
    const bad = (m: string): never => { throw new CloudlessError('E_CONFIG', `tracker: ${m}`); };
    if (!(iouThreshold > 0 && iouThreshold <= 1)) bad(`iouThreshold must be in (0, 1], got ${iouThreshold}`);
    if (!(lowScore >= 0 && lowScore <= highScore && highScore <= 1)) bad(`need 0 <= lowScore <= highScore <= 1, got ${lowScore} and ${highScore}`);
    if (!Number.isInteger(maxMissed) || maxMissed < 0) bad(`maxMissed must be a whole number >= 0, got ${maxMissed}`);
    if (!Number.isInteger(minHits) || minHits < 1) bad(`minHits must be a whole number >= 1, got ${minHits}`);
  }

  /** The detector threshold the tracker needs to see its low-score detections. */
  get lowScore(): number { return this.o.lowScore; }

  /** Feeds one frame's detections (time in ms); returns the confirmed tracks, matched or briefly missed. */
  update(detections: readonly Detection[], time: number): Track[] {
    for (const t of this.tracks) t.filter.predict();
    const high = detections.filter((d) => d.score >= this.o.highScore);
    const low = detections.filter((d) => d.score >= this.o.lowScore && d.score < this.o.highScore);
    const matched = new Set<TrackState>();
    const first = this.associate(this.tracks, high);
    for (const [t, d] of first.pairs) this.take(t, d, time, matched);
    const second = this.associate(first.tracks, low);
    for (const [t, d] of second.pairs) this.take(t, d, time, matched);
    for (const t of this.tracks) if (!matched.has(t)) t.missed++;
    this.tracks = this.tracks.filter((t) => t.missed <= this.o.maxMissed);
    for (const d of first.detections) {
      this.tracks.push({ id: this.nextId++, label: d.label, filter: new BoxFilter(d.box), score: d.score, hits: 1, missed: 0, firstSeen: time, lastSeen: time });
    }
    return this.tracks.filter((t) => t.hits >= this.o.minHits).map((t) => ({
      id: t.id, label: t.label, box: t.filter.box(), score: t.score, hits: t.hits, missed: t.missed,
      firstSeen: t.firstSeen, lastSeen: t.lastSeen, velocity: [t.filter.x[4]!, t.filter.x[5]!],
    }));
  }

  private take(t: TrackState, d: Detection, time: number, matched: Set<TrackState>): void {
    t.filter.update(d.box);
    t.score = d.score;
    t.hits++;
    t.missed = 0;
    t.lastSeen = time;
    matched.add(t);
  }

  /** Greedy IoU association of same-label pairs; returns the pairs and what is left of each side. */
  private associate(tracks: readonly TrackState[], dets: readonly Detection[]): { pairs: [TrackState, Detection][]; tracks: TrackState[]; detections: Detection[] } {
    const cand: { t: number; d: number; v: number }[] = [];
    const predicted = tracks.map((t) => t.filter.box());
    for (let i = 0; i < tracks.length; i++) {
      for (let j = 0; j < dets.length; j++) {
        if (tracks[i]!.label !== dets[j]!.label) continue;
        const v = iou(predicted[i]!, dets[j]!.box);
        if (v >= this.o.iouThreshold) cand.push({ t: i, d: j, v });
      }
    }
    cand.sort((a, b) => b.v - a.v || a.t - b.t || a.d - b.d);
    const usedT = new Set<number>(), usedD = new Set<number>();
    const pairs: [TrackState, Detection][] = [];
    for (const c of cand) {
      if (usedT.has(c.t) || usedD.has(c.d)) continue;
      usedT.add(c.t);
      usedD.add(c.d);
      pairs.push([tracks[c.t]!, dets[c.d]!]);
    }
    return { pairs, tracks: tracks.filter((_, i) => !usedT.has(i)), detections: dets.filter((_, j) => !usedD.has(j)) };
  }
}
