/**
 * Small self-contained SVG charts for the dashboard: a value over time as a
 * line (decisions per second) or as bars (events per bucket). Text is escaped;
 * no external fonts, scripts or styles, so the Content-Security-Policy lets
 * them load as images.
 */
import { niceStep } from '../bench/chart.js';

export interface TimePoint { t: number; v: number }

export interface TimeChartOptions {
  title: string;
  unit: string;
  kind: 'line' | 'bars';
  /** Bucket width in ms (bars). */
  bucketMs?: number;
  width?: number;
  height?: number;
  /** Time range shown (defaults to the points' range). */
  from?: number;
  to?: number;
}

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 19);
}

export function timeChartSvg(points: readonly TimePoint[], o: TimeChartOptions): string {
  const W = o.width ?? 640, H = o.height ?? 200;
  const L = 48, R = 12, T = 28, B = 28;
  const from = o.from ?? (points[0]?.t ?? Date.now() - 60_000);
  const to = Math.max(o.to ?? (points[points.length - 1]?.t ?? Date.now()), from + 1);
  // Counts and rates: an empty or all-zero chart still gets a 0..1 axis.
  const max = Math.max(1, ...points.map((p) => p.v));
  const step = niceStep(max, 4);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const x = (t: number) => L + ((t - from) / (to - from)) * (W - L - R);
  const y = (v: number) => T + (1 - v / top) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${L}" y="16" font-size="13" font-weight="bold" fill="#111">${esc(o.title)}</text>`,
  ];
  for (let v = 0; v <= top + 1e-9; v += step) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e7eb"/>`,
      `<text x="${L - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#6b7280">${esc(String(+v.toPrecision(3)))}</text>`);
  }
  parts.push(`<text x="${L}" y="${H - 8}" fill="#6b7280">${clock(from)}</text>`, `<text x="${W - R}" y="${H - 8}" text-anchor="end" fill="#6b7280">${clock(to)} UTC</text>`,
    `<text x="${W - R}" y="16" text-anchor="end" fill="#6b7280">${esc(o.unit)}</text>`);
  if (points.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#9ca3af">no data yet</text>`);
  } else if (o.kind === 'line') {
    const d = points.map((p, k) => `${k ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="#1d4ed8" stroke-width="2"/>`);
  } else {
    const bw = Math.max(1, ((o.bucketMs ?? 60_000) / (to - from)) * (W - L - R) - 1);
    for (const p of points) parts.push(`<rect x="${x(p.t).toFixed(1)}" y="${y(p.v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(0) - y(p.v)).toFixed(1)}" fill="#15803d"><title>${clock(p.t)}: ${p.v}</title></rect>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Decisions per second between successive status samples. */
export function ratesOf(history: readonly { t: number; decided: number }[]): TimePoint[] {
  const out: TimePoint[] = [];
  for (let k = 1; k < history.length; k++) {
    const a = history[k - 1]!, b = history[k]!;
    const dt = (b.t - a.t) / 1000;
    if (dt > 0) out.push({ t: b.t, v: Math.max(0, (b.decided - a.decided) / dt) });
  }
  return out;
}
