#!/usr/bin/env node
// Fetches the Debian packages that hold cloudless's test data and demo photos
// (`apt-get download` + `dpkg -x`) into a git-ignored cache: .cache/data/<package>/.
// Nothing is installed system-wide. Usage: node scripts/setup-data.mjs [set ...]
// where a set is one of: onnx (ONNX node tests), photos (opencv-doc), fashion (Fashion-MNIST),
// sklearn (ONNX-ML fixtures made by scripts/make-sklearn-fixtures.py into .cache/sklearn/), all.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cache = process.env.CLOUDLESS_CACHE ?? path.join(root, '.cache');
const SETS = {
  onnx: ['libonnx-testdata'],
  photos: ['opencv-doc'],
  fashion: ['dataset-fashion-mnist'],
  sklearn: [],
};
SETS.all = [...SETS.onnx, ...SETS.photos];

const wanted = process.argv.slice(2);
const sets = wanted.length ? wanted : ['all'];
for (const s of sets) {
  if (!SETS[s]) {
    console.error(`setup-data: unknown set "${s}"; choose from ${Object.keys(SETS).join(', ')}`);
    process.exit(2);
  }
}
const packages = [...new Set(sets.flatMap((s) => SETS[s]))];
const makeSklearn = sets.includes('sklearn') || sets.includes('all');

let updated = false;

function download(pkg, dir) {
  const run = () => execFileSync('apt-get', ['download', pkg], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    run();
  } catch (err) {
    if (updated) throw err;
    // A fresh machine has empty package lists: update them once and try again.
    console.log('setup-data: apt-get download failed; running apt-get update once');
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    updated = true;
    run();
  }
}

for (const pkg of packages) {
  const dest = path.join(cache, 'data', pkg);
  const marker = path.join(dest, '.complete');
  if (existsSync(marker)) {
    console.log(`setup-data: ${pkg} already in ${path.relative(root, dest) || dest}`);
    continue;
  }
  const debs = path.join(cache, 'debs');
  mkdirSync(debs, { recursive: true });
  let deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) {
    console.log(`setup-data: downloading ${pkg} (apt-get download)`);
    try {
      download(pkg, debs);
    } catch (err) {
      console.error(`setup-data: could not download ${pkg}: ${String(err.stderr ?? err.message).trim()}`);
      process.exit(1);
    }
    deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  }
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  execFileSync('dpkg', ['-x', path.join(debs, deb), dest]);
  writeFileSync(marker, `${deb}\n`);
  console.log(`setup-data: ${pkg} extracted to ${path.relative(root, dest)}`);
}

// scikit-learn models as ONNX-ML with their test inputs and sklearn's predictions (never committed).
if (makeSklearn) {
  const dest = path.join(cache, 'sklearn');
  const marker = path.join(dest, '.complete');
  const python = '/usr/bin/python3';
  if (existsSync(marker)) {
    console.log(`setup-data: sklearn fixtures already in ${path.relative(root, dest) || dest}`);
  } else {
    try {
      execFileSync(python, ['-c', 'import sklearn, onnx, numpy'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      console.error(`setup-data: ${python} lacks scikit-learn, onnx or numpy; install the Debian packages python3-sklearn python3-onnx python3-numpy (apt-get install) and run again`);
      process.exit(1);
    }
    rmSync(dest, { recursive: true, force: true });
    try {
      execFileSync(python, [path.join(root, 'scripts', 'make-sklearn-fixtures.py'), dest], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch {
      console.error('setup-data: scripts/make-sklearn-fixtures.py failed (its error is above)');
      process.exit(1);
    }
    writeFileSync(marker, 'made by scripts/make-sklearn-fixtures.py\n');
    console.log(`setup-data: sklearn fixtures written to ${path.relative(root, dest)}`);
  }
}
