import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { niceStep, renderChart, writeChart } from '../../src/bench/chart.js';
import type { BenchResult } from '../../src/bench/run.js';

const results: BenchResult[] = [
  { backend: 'cloudless', dtype: 'float32', medianMs: 12.5, minMs: 11, p90Ms: 14, fps: 80, runs: 10, meanMs: 12.6 },
  { backend: 'litert', dtype: 'int8', medianMs: 6.25, minMs: 6, p90Ms: 7, fps: 160, runs: 10, meanMs: 6.3 },
  { backend: 'onnxruntime-web', dtype: 'int8', error: 'n/a: onnxruntime-web reads ONNX; <no QDQ> & more' },
];

/** Every opening tag is closed in order: enough to catch broken markup from string building. */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) continue;
    if (close) { if (stack.pop() !== name) return false; } else stack.push(name!);
  }
  return stack.length === 0;
}

describe('benchmark chart', () => {
  it('picks round axis steps', () => {
    expect(niceStep(7)).toBe(2);
    expect(niceStep(230)).toBe(50);
    expect(niceStep(0.9)).toBe(0.2);
  });

  it('draws one bar per measured row, labelled with value and ratio, and escapes text', () => {
    const svg = renderChart([{ title: 'model <a&b>', detail: 'input 1x3x8x8', results }], { title: 'bench', subtitle: '1 thread' });
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('model &lt;a&amp;b&gt;');
    expect(svg).not.toContain('<a&b>');
    expect(svg.match(/<rect x="\d+" y="[\d.]+" width="[\d.]+" height="18" fill="#/g)).toHaveLength(2);
    expect(svg).toContain('12.5 ms');
    expect(svg).toContain('2.00x');
    expect(svg).toContain('fastest');
    expect(svg).toContain('url(#int8)');
    expect(svg).toContain('onnxruntime-web int8 (n/a)');
  });

  it('writes the SVG and renders a PNG of it with sharp', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-chart-'));
    const svg = renderChart([{ title: 'm', results }, { title: 'n', results: results.slice(0, 1) }], { title: 'bench' });
    const out = await writeChart(path.join(dir, 'c.svg'), svg);
    expect(out.png).toBe(path.join(dir, 'c.png'));
    expect(readFileSync(out.svg, 'utf8')).toBe(svg);
    const meta = await sharp(out.png).metadata();
    expect(meta.format).toBe('png');
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    expect(meta.width).toBe(width * 2);
    // Not a blank image: the bars put dark pixels on the white background.
    const stats = await sharp(out.png).stats();
    expect(stats.channels[0]!.min).toBeLessThan(100);
  });
});
