#!/usr/bin/env node
// Fetches the Debian packages that hold cloudless's test data and demo photos
// (`apt-get download` + `dpkg -x`) into a git-ignored cache: .cache/data/<package>/.
// Nothing is installed system-wide. Usage: node scripts/setup-data.mjs [set ...]
// where a set is one of: onnx (ONNX node tests), photos (opencv-doc), fashion (Fashion-MNIST),
// sklearn (ONNX-ML fixtures made by scripts/make-sklearn-fixtures.py into .cache/sklearn/), all.
// Idempotent, and safe when several runs share one cache: a package is extracted into a
// temporary folder and renamed into place, so a half-written folder is never seen.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cache = process.env.CLOUDLESS_CACHE ?? path.join(root, '.cache');
export const SETS = {
  onnx: ['libonnx-testdata'],
  photos: ['opencv-doc'],
  fashion: ['dataset-fashion-mnist'],
  sklearn: [],
};
SETS.all = [...SETS.onnx, ...SETS.photos];

let updated = false;

/** `apt-get download` the packages into `dir`, running `apt-get update` once if the lists are empty or stale. */
export function aptDownload(pkgs, dir) {
  const run = () => execFileSync('apt-get', ['download', ...pkgs], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    run();
  } catch (err) {
    if (updated) throw err;
    // A fresh machine has empty package lists: update them once and try again.
    console.log('setup: apt-get download failed; running apt-get update once');
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    updated = true;
    run();
  }
}

/**
 * The .deb files of `pkgs` in `debs`, in the order asked: those not there yet are downloaded in one
 * `apt-get download` into a temporary folder, then moved in, so a half-written .deb is never seen.
 */
export function debFiles(pkgs, debs) {
  mkdirSync(debs, { recursive: true });
  const find = (dir, pkg) => readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  const missing = pkgs.filter((p) => !find(debs, p));
  if (missing.length) {
    const tmp = mkdtempSync(path.join(debs, '.download-'));
    try {
      aptDownload(missing, tmp);
      for (const p of missing) {
        const deb = find(tmp, p);
        if (!deb) throw new Error(`apt-get download ${p} wrote no ${p}_*.deb`);
        renameSync(path.join(tmp, deb), path.join(debs, deb));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return pkgs.map((p) => path.join(debs, find(debs, p)));
}

/**
 * Makes `dest` once: unless `dest/.complete` exists, `make(tmp)` fills a temporary folder beside it,
 * which gets a `.complete` marker and is renamed into place; atomic against concurrent runs (the
 * first one to finish wins, the others' work is dropped). Returns whether this call made it.
 */
export function makeOnce(dest, make, marker = 'done\n') {
  if (existsSync(path.join(dest, '.complete'))) return false;
  mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = mkdtempSync(`${dest}.make-`);
  try {
    make(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  writeFileSync(path.join(tmp, '.complete'), marker);
  rmSync(dest, { recursive: true, force: true });
  try {
    renameSync(tmp, dest);
  } catch (err) {
    // Another run put it in place first.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(path.join(dest, '.complete'))) throw err;
  }
  return true;
}

/** Extracts `deb` (dpkg -x) to `dest` once (makeOnce). */
export function extractOnce(deb, dest) {
  return makeOnce(dest, (tmp) => execFileSync('dpkg', ['-x', deb, tmp]), `${path.basename(deb)}\n`);
}

/** Fetches the data sets named (keys of SETS) into <cache>/data. */
export function fetchData(sets) {
  for (const s of sets) {
    if (!SETS[s]) throw new Error(`setup-data: unknown set "${s}"; choose from ${Object.keys(SETS).join(', ')}`);
  }
  const packages = [...new Set(sets.flatMap((s) => SETS[s]))];
  for (const pkg of packages) {
    const dest = path.join(cache, 'data', pkg);
    if (existsSync(path.join(dest, '.complete'))) {
      console.log(`setup-data: ${pkg} already in ${path.relative(root, dest) || dest}`);
      continue;
    }
    console.log(`setup-data: fetching ${pkg} (apt-get download)`);
    let deb;
    try {
      [deb] = debFiles([pkg], path.join(cache, 'debs'));
    } catch (err) {
      throw new Error(`setup-data: could not download ${pkg}: ${String(err.stderr ?? err.message).trim()}`);
    }
    extractOnce(deb, dest);
    console.log(`setup-data: ${pkg} extracted to ${path.relative(root, dest)}`);
  }
  if (sets.includes('sklearn') || sets.includes('all')) makeSklearnFixtures();
}

/** scikit-learn models as ONNX-ML with their test inputs and sklearn's predictions (never committed). */
function makeSklearnFixtures() {
  const dest = path.join(cache, 'sklearn');
  const python = '/usr/bin/python3';
  if (existsSync(path.join(dest, '.complete'))) {
    console.log(`setup-data: sklearn fixtures already in ${path.relative(root, dest) || dest}`);
    return;
  }
  try {
    execFileSync(python, ['-c', 'import sklearn, onnx, numpy'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    throw new Error(`setup-data: ${python} lacks scikit-learn, onnx or numpy; install the Debian packages python3-sklearn python3-onnx python3-numpy (apt-get install) and run again`);
  }
  makeOnce(dest, (tmp) => {
    try {
      execFileSync(python, [path.join(root, 'scripts', 'make-sklearn-fixtures.py'), tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch {
      throw new Error('setup-data: scripts/make-sklearn-fixtures.py failed (its error is above)');
    }
  }, 'made by scripts/make-sklearn-fixtures.py\n');
  console.log(`setup-data: sklearn fixtures written to ${path.relative(root, dest)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const wanted = process.argv.slice(2);
  try {
    fetchData(wanted.length ? wanted : ['all']);
  } catch (err) {
    console.error(err.message);
    process.exit(err.message.includes('unknown set') ? 2 : 1);
  }
}
