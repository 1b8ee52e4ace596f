/**
 * The browser bundle is a page's own code: no `node:` module and no Node-only
 * package reaches it (the esbuild metafile lists every input), and the build
 * refuses one that tries, naming the importer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/data.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const script = () => import(path.join(repoRoot, 'scripts/build-browser.mjs'));

describe('the browser bundle', () => {
  it('has no node: import and no Node-only package among its inputs, and kernels.wasm beside it', async () => {
    const { buildBrowser } = await script();
    const result = await buildBrowser(path.join(dir, 'out'));
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('src/browser/index.ts');
    expect(inputs).toContain('src/kernels/wasm/module-source.browser.ts');
    expect(inputs.filter((f) => f.startsWith('node:') || /node_modules\/(sharp|better-sqlite3|mqtt|fastify)\//.test(f) || f === 'src/kernels/wasm/module-source.ts')).toEqual([]);
    for (const [, meta] of Object.entries(result.metafile.inputs) as [string, { imports: { path: string; external?: boolean }[] }][]) {
      expect(meta.imports.filter((i) => i.path.startsWith('node:') || i.external)).toEqual([]);
    }
    const outputs = Object.keys(result.metafile.outputs);
    expect(outputs.some((f) => f.endsWith('out/cloudless.js'))).toBe(true);
  });

  it('refuses a Node import, naming the file that brought it in', async () => {
    const { browserBuildOptions } = await script();
    const entry = path.join(dir, 'bad.ts');
    writeFileSync(entry, "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
    const opts = { ...browserBuildOptions(path.join(dir, 'bad')), entryPoints: [entry], logLevel: 'silent' as const };
    await expect(esbuild.build(opts)).rejects.toThrow(/node:fs is Node-only and may not reach the browser bundle \(imported by .*bad\.ts\)/);
  });
});
