import { existsSync } from 'node:fs';
import path from 'node:path';
import { prepareTestEnvironment } from '../../scripts/setup-tests.mjs';
import { repoRoot } from '../helpers/data.js';

/**
 * vitest globalSetup: fetches what the suite needs (Debian data and tools, the Fashion-MNIST CNN;
 * scripts/setup-tests.mjs) before any test file runs, and hands the tools' PATH and library path to
 * the test workers, which inherit this process's environment. CLOUDLESS_SKIP_SETUP=1 skips it.
 */
export default function setup(): void {
  Object.assign(process.env, prepareTestEnvironment());
  const shared = path.resolve(repoRoot, '../shared/models/tflm');
  if (!existsSync(shared)) {
    console.log(`setup-tests: ${shared} is absent (it is not in the repository): the tests of the TFLM example models skip, and only they`);
  }
}
