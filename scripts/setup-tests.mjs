#!/usr/bin/env node
// Everything the test suite needs beyond `npm install`, fetched idempotently before the tests
// (vitest's globalSetup, test/setup/global.ts, calls prepareTestEnvironment; .ci/run and
// `node scripts/setup-tests.mjs` run the same):
//  - the Debian test data (scripts/setup-data.mjs: ONNX node tests, opencv photos, Fashion-MNIST),
//  - the Fashion-MNIST CNN, trained once with TF.js (scripts/train-fashion-mnist.ts),
//  - the Debian tools in TOOLS below: installed with apt-get when running as root, otherwise
//    `apt-get download`ed with the dependencies the system lacks and unpacked (dpkg -x) into
//    <cache>/tools/root, with PATH, LD_LIBRARY_PATH and the tools' data paths pointed there.
// Nothing is fetched when it is already there. CLOUDLESS_SKIP_SETUP=1 turns all of it off.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cache, debFiles, fetchData } from './setup-data.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Debian tools the tests run, one row each: the command the tests look for, the Debian package
 * that provides it, and what uses it. Add a row here and every way of running the tests gets it.
 */
export const TOOLS = [
  { command: 'mosquitto', pkg: 'mosquitto', usedBy: 'MQTT actions of pipelines (a real broker on loopback)' },
  { command: 'espeak-ng', pkg: 'espeak-ng', usedBy: 'spoken test audio for keyword spotting and voice activity' },
  { command: 'sox', pkg: 'sox', usedBy: 'audio padding and conversion in the listen tests' },
  { command: 'ffmpeg', pkg: 'ffmpeg', usedBy: 'video sources of pipelines' },
  { command: 'gcc', pkg: 'gcc', usedBy: 'generated C built and run on the host (compile --verify)' },
  { command: 'arm-none-eabi-gcc', pkg: 'gcc-arm-none-eabi', usedBy: 'generated C built for Cortex-M' },
  { command: 'qemu-system-arm', pkg: 'qemu-system-arm', usedBy: 'generated C run on an emulated Cortex-M' },
  { command: 'chromium', pkg: 'chromium', usedBy: 'the browser bundle and the dashboard in a real browser (playwright-core)' },
  // Rows with `present` are found by that check rather than a command on PATH; they are installed
  // as root and reported (tests that need them skip) otherwise.
  { present: () => existsSync('/usr/lib/arm-none-eabi/include/string.h'), pkg: 'libnewlib-arm-none-eabi',
    usedBy: 'C library headers of the Cortex-M toolchain', systemOnly: true },
  { present: () => spawnSync('/usr/bin/python3', ['-c', 'import sklearn, onnx, numpy'], { stdio: 'ignore' }).status === 0,
    pkg: 'python3-sklearn python3-onnx python3-numpy', usedBy: 'scikit-learn models exported to ONNX-ML (classic ML oracles)', systemOnly: true },
];

const isPresent = (t, env) => (t.present ? t.present() : onPath(t.command, env));
const toolName = (t) => t.command ?? t.pkg;

/** The Debian data sets the tests read (keys of SETS in scripts/setup-data.mjs). */
export const DATA_SETS = ['onnx', 'photos', 'fashion', 'sklearn'];

const toolsRoot = path.join(cache, 'tools', 'root');
const log = (m) => console.log(`setup-tests: ${m}`);

function onPath(command, env = process.env) {
  return spawnSync('sh', ['-c', `command -v "${command}"`], { env, stdio: 'ignore' }).status === 0;
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Names of the installed Debian packages (status "installed"). */
function installedPackages() {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format, not a template
  const out = execFileSync('dpkg-query', ['-W', '-f=${binary:Package} ${db:Status-Status}\\n'], { encoding: 'utf8' });
  const names = new Set();
  for (const line of out.split('\n')) {
    const [name, status] = line.split(' ');
    if (status !== 'installed' || !name) continue;
    names.add(name);
    names.add(name.replace(/:.*$/, ''));
  }
  return names;
}

/** The packages `pkgs` need, themselves included, that are not installed on this system. */
function missingClosure(pkgs) {
  const out = execFileSync('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts',
    '--no-breaks', '--no-replaces', '--no-enhances', ...pkgs], { encoding: 'utf8' });
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const names = new Set();
  for (const line of out.split('\n')) {
    // Package names start a line; dependency lines are indented; <virtual> names have no .deb.
    if (!line || /^\s/.test(line) || line.startsWith('<')) continue;
    const [name, qual] = line.trim().split(':');
    if (qual && qual !== arch && qual !== 'all') continue;
    names.add(name);
  }
  const installed = installedPackages();
  return [...names].filter((n) => !installed.has(n) && !installed.has(`${n}:${arch}`));
}

/** Every folder under `dir` holding a shared library, for LD_LIBRARY_PATH. */
function libraryDirs(dir, acc = []) {
  if (!existsSync(dir)) return acc;
  let hasLib = false;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue; // a dangling symbolic link (alternatives that were never configured)
    }
    if (st.isDirectory()) libraryDirs(p, acc);
    else if (/\.so(\.|$)/.test(name)) hasLib = true;
  }
  if (hasLib) acc.push(dir);
  return acc;
}

/** The environment that puts the unpacked tools first: PATH, LD_LIBRARY_PATH and the tools' data paths. */
export function localToolsEnv(base = process.env) {
  if (!existsSync(toolsRoot)) return {};
  const env = {};
  const bins = ['usr/bin', 'usr/sbin', 'bin', 'sbin'].map((d) => path.join(toolsRoot, d)).filter((d) => existsSync(d));
  env.PATH = [...bins, base.PATH ?? ''].join(path.delimiter);
  const libs = [...libraryDirs(path.join(toolsRoot, 'usr/lib')), ...libraryDirs(path.join(toolsRoot, 'lib'))];
  if (libs.length) env.LD_LIBRARY_PATH = [...libs, base.LD_LIBRARY_PATH ?? ''].filter(Boolean).join(path.delimiter);
  // espeak-ng looks for espeak-ng-data in the folder its package was built for unless told otherwise.
  const espeak = libs.find((d) => existsSync(path.join(d, 'espeak-ng-data')));
  if (espeak) env.ESPEAK_DATA_PATH = espeak;
  // sox loads its format modules through libltdl from a compiled-in folder.
  const sox = libs.find((d) => path.basename(d) === 'sox');
  if (sox) env.LTDL_LIBRARY_PATH = sox;
  return env;
}

/** Installs (root) or unpacks (otherwise) the TOOLS whose command is not found. Returns the env to add. */
export function ensureTools(tools = TOOLS) {
  let env = localToolsEnv();
  const withLocal = { ...process.env, ...env };
  let missing = tools.filter((t) => !isPresent(t, withLocal));
  if (missing.length === 0) {
    log(`tools present: ${tools.map(toolName).join(', ')}`);
    return env;
  }
  const asRoot = isRoot() && process.env.CLOUDLESS_TOOLS !== 'local';
  if (!asRoot) {
    for (const t of missing.filter((m) => m.systemOnly)) {
      log(`${t.pkg} is not installed and cannot be unpacked locally; the tests of ${t.usedBy} will skip (apt-get install ${t.pkg})`);
    }
    missing = missing.filter((m) => !m.systemOnly);
    if (missing.length === 0) return env;
  }
  const pkgs = [...new Set(missing.flatMap((t) => t.pkg.split(' ')))];
  if (asRoot) {
    log(`apt-get install ${pkgs.join(' ')}`);
    const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    try {
      install();
    } catch {
      execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
      install();
    }
  } else {
    let closure;
    try {
      closure = missingClosure(pkgs);
    } catch {
      execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
      closure = missingClosure(pkgs);
    }
    log(`unpacking ${pkgs.join(' ')} and ${closure.length - pkgs.length} missing dependencies into ${path.relative(root, toolsRoot)}`);
    const debs = debFiles(closure, path.join(cache, 'debs'));
    mkdirSync(toolsRoot, { recursive: true });
    closure.forEach((p, i) => {
      // All tools share one root, so each package gets its own marker rather than makeOnce's folder.
      const done = path.join(cache, 'tools', 'done', `${p}.done`);
      if (existsSync(done)) return;
      execFileSync('dpkg', ['-x', debs[i], toolsRoot]);
      mkdirSync(path.dirname(done), { recursive: true });
      writeFileSync(done, `${path.basename(debs[i])}\n`);
    });
    env = localToolsEnv();
  }
  const still = missing.filter((t) => !isPresent(t, { ...process.env, ...env }));
  if (still.length) {
    throw new Error(`setup-tests: ${still.map((t) => `${toolName(t)} (Debian package ${t.pkg})`).join(', ')} still not found after installing`);
  }
  return env;
}

/** The Fashion-MNIST CNN of the quantizer's accuracy tests, trained once (about a minute of CPU). */
function ensureFashionModel() {
  const model = path.join(cache, 'models', 'fashion-mnist-cnn.tflite');
  if (existsSync(model)) {
    log(`Fashion-MNIST CNN already in ${path.relative(root, model)}`);
    return;
  }
  log('training the Fashion-MNIST CNN once (scripts/train-fashion-mnist.ts)');
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  const r = spawnSync(tsx, [path.join(root, 'scripts', 'train-fashion-mnist.ts')], { stdio: ['ignore', 'ignore', 'inherit'], env: process.env });
  if (r.status !== 0) throw new Error('setup-tests: scripts/train-fashion-mnist.ts failed');
}

/** Data, model and tools; returns the environment variables the tests must run with. */
export function prepareTestEnvironment() {
  if (process.env.CLOUDLESS_SKIP_SETUP === '1') return {};
  // Tools first: the sklearn fixtures of fetchData need the Debian python3-sklearn it installs.
  const env = ensureTools();
  fetchData(DATA_SETS);
  ensureFashionModel();
  return env;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const env = prepareTestEnvironment();
    for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
