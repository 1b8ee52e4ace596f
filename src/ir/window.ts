/**
 * Sliding windows over channels-last tensors, as the convolution and pooling
 * kernels (reference and wasm, float and integer) walk them.
 *
 * Every spatial case (1-D, 2-D, 3-D) is lifted to three spatial axes, a 1-D or
 * 2-D op being a 3-D op whose leading sizes are 1, so one loop nest serves all
 * ranks. The window of each output pixel is clipped to the input once, as a
 * range of kernel taps per axis, so no kernel tests bounds per tap.
 */
import type { Node } from './graph.js';
import { windowGeometry, type WindowGeometry } from './ops/nn.js';

/** A window geometry lifted to three spatial axes, with the batch count. */
export interface Geometry3 {
  batch: number;
  inD: number; inH: number; inW: number;
  outD: number; outH: number; outW: number;
  kD: number; kH: number; kW: number;
  sD: number; sH: number; sW: number;
  dD: number; dH: number; dW: number;
  pD: number; pH: number; pW: number;
}

function lift(v: readonly number[], fill: number): [number, number, number] {
  const a = [...new Array<number>(3 - v.length).fill(fill), ...v];
  return [a[0]!, a[1]!, a[2]!];
}

export function geometry3(batch: number, inSpatial: readonly number[], g: WindowGeometry): Geometry3 {
  const [inD, inH, inW] = lift(inSpatial, 1);
  const [outD, outH, outW] = lift(g.out, 1);
  const [kD, kH, kW] = lift(g.kernel, 1);
  const [sD, sH, sW] = lift(g.strides, 1);
  const [dD, dH, dW] = lift(g.dilations, 1);
  const [pD, pH, pW] = lift(g.padsBegin, 0);
  return { batch, inD, inH, inW, outD, outH, outW, kD, kH, kW, sD, sH, sW, dD, dH, dW, pD, pH, pW };
}

/**
 * The window of a node over X [N, ...spatial, C] with the given spatial kernel
 * size: its geometry as the schema computes it, and lifted to three axes.
 */
export function channelsLastWindow(node: Node, xShape: readonly number[], kernel: readonly number[], ceilMode = false): { geo: WindowGeometry; g: Geometry3 } {
  const inSpatial = xShape.slice(1, xShape.length - 1);
  const geo = windowGeometry(node, inSpatial, kernel, ceilMode);
  return { geo, g: geometry3(xShape[0]!, inSpatial, geo) };
}

/** First kernel tap whose input coordinate o*s - p + k*d is >= 0. */
export function firstTap(o: number, s: number, p: number, d: number): number {
  const start = o * s - p;
  return start >= 0 ? 0 : Math.ceil(-start / d);
}

/** One past the last kernel tap whose input coordinate is < size. */
export function endTap(o: number, s: number, p: number, d: number, k: number, size: number): number {
  const start = o * s - p;
  if (start >= size) return 0;
  return Math.min(k, Math.floor((size - 1 - start) / d) + 1);
}

/**
 * Visits the output pixels of a Geometry3 in N, D, H, W order. After each
 * `next()` that returns true, (n, od, oh, ow) is the pixel, taps [kd0, kd1) ×
 * [kh0, kh1) × [kw0, kw1) are the ones inside the input, and id0/ih0/iw0 are
 * the input coordinates of tap 0 (tap k sits at id0 + k·dD, and so on).
 * A kernel keeps one in its prepared state and calls `start()` per run; the
 * clipping of an axis is recomputed only when that axis moves.
 */
export class WindowWalk {
  n = 0; od = 0; oh = 0; ow = 0;
  kd0 = 0; kd1 = 0; kh0 = 0; kh1 = 0; kw0 = 0; kw1 = 0;
  id0 = 0; ih0 = 0; iw0 = 0;
  private done = true;

  constructor(readonly g: Geometry3) {}

  /** Places the walk before the first output pixel. */
  start(): void {
    const g = this.g;
    this.n = 0; this.od = 0; this.oh = 0; this.ow = -1;
    this.done = g.batch * g.outD * g.outH * g.outW === 0;
    this.clipD();
    this.clipH();
  }

  /** Moves to the next output pixel; false once all have been visited. */
  next(): boolean {
    if (this.done) return false;
    const g = this.g;
    if (++this.ow < g.outW) { this.clipW(); return true; }
    this.ow = 0;
    if (++this.oh < g.outH) { this.clipH(); this.clipW(); return true; }
    this.oh = 0;
    if (++this.od < g.outD) { this.clipD(); this.clipH(); this.clipW(); return true; }
    this.od = 0;
    if (++this.n < g.batch) { this.clipD(); this.clipH(); this.clipW(); return true; }
    this.done = true;
    return false;
  }

  /** Index of the input pixel (n, d, h, w) under tap (kd, kh, kw) of the current window, counted in pixels of X. */
  inputPixel(kd: number, kh: number, kw: number): number {
    const g = this.g;
    return ((this.n * g.inD + this.id0 + kd * g.dD) * g.inH + this.ih0 + kh * g.dH) * g.inW + this.iw0 + kw * g.dW;
  }

  /** The number of taps inside the input. */
  taps(): number {
    return (this.kd1 - this.kd0) * (this.kh1 - this.kh0) * (this.kw1 - this.kw0);
  }

  private clipD(): void {
    const g = this.g, o = this.od;
    this.kd0 = firstTap(o, g.sD, g.pD, g.dD); this.kd1 = endTap(o, g.sD, g.pD, g.dD, g.kD, g.inD);
    this.id0 = o * g.sD - g.pD;
  }

  private clipH(): void {
    const g = this.g, o = this.oh;
    this.kh0 = firstTap(o, g.sH, g.pH, g.dH); this.kh1 = endTap(o, g.sH, g.pH, g.dH, g.kH, g.inH);
    this.ih0 = o * g.sH - g.pH;
  }

  private clipW(): void {
    const g = this.g, o = this.ow;
    this.kw0 = firstTap(o, g.sW, g.pW, g.dW); this.kw1 = endTap(o, g.sW, g.pW, g.dW, g.kW, g.inW);
    this.iw0 = o * g.sW - g.pW;
  }
}
