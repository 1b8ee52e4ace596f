#!/usr/bin/env node
// Dev-only: TensorFlow in a virtual environment at <cache>/tf-venv, for the oracle test
// test/codegen/tf-oracle.test.ts (TFLite's own reference kernels against the generated C).
// `npm run setup-tf` creates the venv with CPython 3.11 (the pyenv `python3` on PATH, or
// $CLOUDLESS_TF_PYTHON; Debian's /usr/bin/python3 is another version, for which no wheel exists
// here) and runs `pip install tensorflow-cpu`, which pip's configuration resolves from the local
// wheel mirror. About 600 MB; not run by scripts/setup-tests.mjs or CI. Nothing is done when the
// venv already imports tensorflow.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cache } from './setup-data.mjs';

/** The venv's interpreter. */
export const tfVenvPython = path.join(cache, 'tf-venv', 'bin', 'python');

const log = (m) => console.log(`setup-tf: ${m}`);

/** The TensorFlow version the venv imports, or undefined when it has none. */
export function tfVersion() {
  if (!existsSync(tfVenvPython)) return undefined;
  const r = spawnSync(tfVenvPython, ['-c', 'import os; os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"; import tensorflow as tf; print(tf.__version__)'],
    { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n').pop() : undefined;
}

function fail(message, hint) {
  console.error(`setup-tf: ${message}\n  hint: ${hint}`);
  process.exit(1);
}

function main() {
  const have = tfVersion();
  if (have) {
    log(`tensorflow ${have} is already in ${path.dirname(path.dirname(tfVenvPython))}`);
    return;
  }
  const python = process.env.CLOUDLESS_TF_PYTHON ?? 'python3';
  const v = spawnSync(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  if (v.status !== 0) fail(`${python} does not run (${v.error?.message ?? v.stderr.trim()})`, 'put CPython 3.11 on PATH as python3 or set CLOUDLESS_TF_PYTHON');
  const version = v.stdout.trim();
  if (version !== '3.11') {
    fail(`${python} is Python ${version}; the tensorflow-cpu wheel of the local mirror is for CPython 3.11`,
      'set CLOUDLESS_TF_PYTHON to a Python 3.11 interpreter (not /usr/bin/python3)');
  }
  const venv = path.dirname(path.dirname(tfVenvPython));
  if (!existsSync(tfVenvPython)) {
    log(`creating ${venv} with ${python} ${version}`);
    const r = spawnSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
    if (r.status !== 0) fail(`python -m venv ${venv} failed (exit ${r.status})`, 'check that the venv module is available and the cache folder is writable');
  }
  log('pip install tensorflow-cpu (about 600 MB, from the local wheel mirror)');
  const r = spawnSync(tfVenvPython, ['-m', 'pip', 'install', '--no-input', 'tensorflow-cpu'], { stdio: 'inherit' });
  if (r.status !== 0) {
    fail(`pip install tensorflow-cpu failed (exit ${r.status})`,
      'pip must reach a mirror holding tensorflow-cpu for CPython 3.11 (see `pip config list`); PyPI itself is not reachable here');
  }
  const got = tfVersion();
  if (!got) fail(`tensorflow was installed into ${venv} but does not import`, `run ${tfVenvPython} -c "import tensorflow" to see why`);
  log(`tensorflow ${got} ready in ${venv}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
