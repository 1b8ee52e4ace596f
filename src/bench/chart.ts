/**
 * Horizontal bar charts as self-contained SVG (no external fonts or CSS, so
 * sharp/librsvg renders the PNG exactly as a browser shows the SVG).
 * renderBarChart draws generic bars, one panel per group, each panel with its
 * own scale; the benchmark's chart (renderChart) is median latency with a p90
 * whisker, one bar per backend and dtype, one panel per model (a keyword
 * spotter and a detector differ by three orders of magnitude), labelled with
 * value and ratio to the panel's fastest so it reads without the axis. The
 * robustness report (src/cli/robustness.ts) draws decision-change rates with it.
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { BenchResult } from './run.js';

export interface ChartPanel {
  /** Model name as shown above its bars. */
  title: string;
  /** Smaller text after the title (input shape, source). */
  detail?: string;
  results: readonly BenchResult[];
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
}

/** Hue per backend family; the second backend of a family gets the lighter tone. */
const COLOURS: Record<string, string> = {
  'cloudless': '#1d4ed8',
  'cloudless-ref': '#93b4f5',
  'onnxruntime-node': '#7e22ce',
  'onnxruntime-web': '#c9a3ef',
  'tfjs-wasm': '#c2410c',
  'tfjs-cpu': '#f5a77a',
  'litert': '#15803d',
};
const OTHER = '#6b7280';

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const WIDTH = 960;
const LABEL_W = 190;
const VALUE_W = 150;
const BAR_H = 18;
const ROW_H = 26;
const PAD = 24;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round step (1, 2 or 5 × 10^k) that splits [0, max] into about `count` intervals. */
export function niceStep(max: number, count = 5): number {
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

interface Axis {
  log: boolean;
  /** Pixels from the axis origin. */
  scale(ms: number): number;
  ticks: { ms: number; label?: string }[];
}

/**
 * Linear from 0 while the bars stay within 20x of each other; beyond that (the
 * reference backend next to a native one) a log axis, so that the fast bars are
 * not slivers. Bars of a log axis start a decade below the fastest.
 */
function axisFor(fastest: number, top: number, width: number): Axis {
  if (top / fastest <= 20) return linearAxis(top, width);
  const lo = Math.floor(Math.log10(fastest)) - (fastest / 10 ** Math.floor(Math.log10(fastest)) < 2 ? 1 : 0);
  const hi = Math.ceil(Math.log10(top));
  const ticks: Axis['ticks'] = [];
  for (let e = lo; e <= hi; e++) {
    for (const m of e < hi ? [1, 2, 5] : [1]) ticks.push({ ms: m * 10 ** e, label: m === 1 || hi - lo <= 3 ? String(Number((m * 10 ** e).toPrecision(3))) : undefined });
  }
  return { log: true, scale: (ms) => ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / (hi - lo)) * width, ticks };
}

function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : String(Number(ms.toPrecision(3)));
}

/** Tick labels with as many decimals as the step needs (0, 0.5, 1 … or 0, 50, 100 …). */
function formatTick(v: number, step: number): string {
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

/** A short reason for the chart's footnote; the table and JSON hold the full message. */
function shortReason(r: BenchResult): string {
  const e = r.error ?? '';
  if (e.startsWith('n/a')) return 'n/a';
  if (e.startsWith('unavailable')) return 'not installed';
  return 'failed';
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** One bar of a chart panel: the generic form the bench and the robustness report both draw. */
export interface Bar {
  label: string;
  /** Smaller grey text after the label (the dtype, a model). */
  sublabel?: string;
  value: number;
  /** The end of a whisker drawn from the bar's end (p90 for latencies); omitted, none. */
  whisker?: number;
  colour: string;
  /** Diagonal hatching over the colour (int8 in the bench). */
  hatched?: boolean;
  /** Text after the bar's end (its value with a unit). */
  text: string;
  /** Grey text after `text` ('2.00x'); green when `good`. */
  note?: string;
  good?: boolean;
}

export interface BarPanel {
  title: string;
  detail?: string;
  bars: readonly Bar[];
  /** Under the axis, right-aligned. */
  axisLabel: string;
  /** 'auto' (default): linear from 0 while bars are within 20x of each other, else log. */
  scale?: 'auto' | 'linear';
  /** The axis runs at least to this value (e.g. 100 for percentages). */
  max?: number;
  /** What was not measured, one short phrase each (a wrapped footnote). */
  skipped?: readonly string[];
  /** Bars are drawn in groups of this many with a gap between groups (default 1: no groups). */
  groupSize?: number;
}

export interface LegendEntry { label: string; colour: string; hatched?: boolean }

function linearAxis(top: number, width: number): Axis {
  const step = niceStep(top > 0 ? top : 1);
  const max = Math.max(step, Math.ceil(top / step) * step);
  const ticks = [];
  for (let i = 0; i * step <= max + step / 2; i++) ticks.push({ ms: i * step, label: formatTick(i * step, step) });
  return { log: false, scale: (v) => (v / max) * width, ticks };
}

function barPanelSvg(panel: BarPanel, y0: number): { svg: string; height: number } {
  const parts: string[] = [];
  let y = y0;
  parts.push(`<text x="${PAD}" y="${y + 16}" font-size="16" font-weight="bold">${esc(panel.title)}` +
    (panel.detail ? `<tspan dx="10" font-size="12" font-weight="normal" fill="#4b5563">${esc(panel.detail)}</tspan>` : '') + '</text>');
  y += 28;
  const x0 = PAD + LABEL_W;
  const plotW = WIDTH - x0 - VALUE_W - PAD;
  const bars = panel.bars;
  if (bars.length > 0) {
    const group = Math.max(1, panel.groupSize ?? 1);
    const gap = group > 1 ? 8 : 0;
    const top = Math.max(panel.max ?? 0, ...bars.map((b) => Math.max(b.value, b.whisker ?? b.value)));
    const positive = bars.map((b) => b.value).filter((v) => v > 0);
    const axis = panel.scale === 'linear' || positive.length === 0 ? linearAxis(top, plotW) : axisFor(Math.min(...positive), top, plotW);
    const sx = (v: number) => x0 + axis.scale(v);
    const rowY = (i: number) => y + i * ROW_H + Math.floor(i / group) * gap;
    const plotH = rowY(bars.length - 1) + ROW_H - y;
    for (const t of axis.ticks) {
      const x = sx(t.ms).toFixed(1);
      parts.push(`<line x1="${x}" y1="${y - 4}" x2="${x}" y2="${y + plotH}" stroke="#e5e7eb"/>`);
      if (t.label) parts.push(`<text x="${x}" y="${y + plotH + 14}" font-size="11" fill="#6b7280" text-anchor="middle">${t.label}</text>`);
    }
    parts.push(`<text x="${(x0 + plotW).toFixed(1)}" y="${y + plotH + 28}" font-size="11" fill="#6b7280" text-anchor="end">` +
      `${esc(panel.axisLabel)}${axis.log ? ', log scale' : ''}</text>`);
    for (const [i, b] of bars.entries()) {
      const by = rowY(i) + (ROW_H - BAR_H) / 2;
      const w = b.value > 0 ? Math.max(1, sx(b.value) - x0) : 0;
      parts.push(`<text x="${x0 - 10}" y="${by + 13}" font-size="13" text-anchor="end">${esc(b.label)}` +
        (b.sublabel ? `<tspan dx="6" fill="#6b7280" font-size="12">${esc(b.sublabel)}</tspan>` : '') + '</text>');
      parts.push(`<rect x="${x0}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.colour}"/>`);
      if (b.hatched) parts.push(`<rect x="${x0}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="url(#int8)"/>`);
      const end = b.whisker ?? b.value;
      if (end > b.value) {
        const xm = sx(b.value).toFixed(1), xp = sx(end).toFixed(1), cy = by + BAR_H / 2;
        parts.push(`<path d="M${xm} ${cy}H${xp}M${xp} ${cy - 5}V${cy + 5}" stroke="#111827" stroke-width="1.2" fill="none"/>`);
      }
      parts.push(`<text x="${(Math.max(sx(end), sx(b.value)) + 6).toFixed(1)}" y="${by + 13}" font-size="12">${esc(b.text)}` +
        (b.note ? `<tspan dx="8" fill="${b.good ? '#15803d' : '#6b7280'}">${esc(b.note)}</tspan>` : '') + '</text>');
    }
    y += plotH + 34;
  }
  if (panel.skipped && panel.skipped.length > 0) {
    const text = `not measured: ${panel.skipped.join(', ')}`;
    // Wrapped by hand: SVG text does not wrap, and librsvg ignores foreignObject.
    const words = text.split(' ');
    let line = '';
    const lines: string[] = [];
    for (const word of words) {
      if ((line + ' ' + word).length > 140 && line) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
    for (const l of lines.slice(0, 4)) {
      parts.push(`<text x="${PAD}" y="${y + 10}" font-size="10.5" fill="#6b7280">${esc(truncate(l, 150))}</text>`);
      y += 14;
    }
    y += 6;
  }
  return { svg: parts.join('\n'), height: y - y0 + 10 };
}

/** A bar chart as an SVG document: a title, a legend, then one panel per group of bars, each with its own scale. */
export function renderBarChart(panels: readonly BarPanel[], opts: ChartOptions & { legend: readonly LegendEntry[] }): string {
  const body: string[] = [];
  let y = PAD;
  body.push(`<text x="${PAD}" y="${y + 18}" font-size="20" font-weight="bold">${esc(opts.title)}</text>`);
  y += 26;
  if (opts.subtitle) {
    body.push(`<text x="${PAD}" y="${y + 14}" font-size="12.5" fill="#374151">${esc(opts.subtitle)}</text>`);
    y += 20;
  }
  let lx = PAD;
  y += 8;
  for (const e of opts.legend) {
    body.push(`<rect x="${lx}" y="${y}" width="14" height="14" fill="${e.colour}"/>`);
    if (e.hatched) body.push(`<rect x="${lx}" y="${y}" width="14" height="14" fill="url(#int8)"/>`);
    body.push(`<text x="${lx + 19}" y="${y + 11.5}" font-size="12">${esc(e.label)}</text>`);
    lx += 19 + e.label.length * 7.2 + 18;
  }
  y += 30;
  for (const p of panels) {
    const { svg, height } = barPanelSvg(p, y);
    body.push(svg);
    y += height;
  }
  const height = Math.ceil(y + PAD / 2);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}" fill="#111827" role="img">`,
    `<title>${esc(opts.title)}</title>`,
    '<defs><pattern id="int8" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<rect width="2.2" height="6" fill="#ffffff" fill-opacity="0.45"/></pattern></defs>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** A benchmark panel as bars: median latency with a p90 whisker, labelled with the ratio to the fastest. */
function benchPanel(panel: ChartPanel): BarPanel {
  const measured = panel.results.filter((r) => r.medianMs !== undefined);
  const fastest = Math.min(...measured.map((r) => r.medianMs!));
  return {
    title: panel.title,
    detail: panel.detail,
    axisLabel: 'median latency, ms (whisker: p90)',
    bars: measured.map((r) => {
      const ratio = r.medianMs! / fastest;
      return {
        label: r.backend, sublabel: r.dtype, value: r.medianMs!, whisker: r.p90Ms, colour: COLOURS[r.backend] ?? OTHER,
        hatched: r.dtype !== 'float32', text: `${formatMs(r.medianMs!)} ms`,
        note: ratio < 1.005 ? 'fastest' : `${ratio.toFixed(ratio < 10 ? 2 : 1)}x`, good: ratio < 1.005,
      };
    }),
    skipped: panel.results.filter((r) => r.medianMs === undefined).map((r) => `${r.backend} ${r.dtype} (${shortReason(r)})`),
  };
}

/** The benchmark chart as an SVG document. */
export function renderChart(panels: readonly ChartPanel[], opts: ChartOptions): string {
  // Legend: one swatch per backend that appears, then the int8 hatching.
  const seen = [...new Set(panels.flatMap((p) => p.results.filter((r) => r.medianMs !== undefined).map((r) => r.backend)))];
  const legend: LegendEntry[] = seen.map((b) => ({ label: b, colour: COLOURS[b] ?? OTHER }));
  if (panels.some((p) => p.results.some((r) => r.dtype !== 'float32' && r.medianMs !== undefined))) legend.push({ label: 'int8 / 16x8 (hatched)', colour: '#9ca3af', hatched: true });
  return renderBarChart(panels.map(benchPanel), { ...opts, legend });
}

/** Writes the SVG and a PNG of it beside it (same name, .png), rendered at twice the size for sharp text. */
export async function writeChart(svgPath: string, svg: string): Promise<{ svg: string; png: string }> {
  const png = svgPath.replace(/\.svg$/i, '') + '.png';
  await writeFile(svgPath, svg);
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(png);
  return { svg: svgPath, png };
}
