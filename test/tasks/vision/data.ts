import { existsSync } from 'node:fs';
import { join } from 'node:path';

const EXAMPLES = 'usr/share/doc/opencv-doc/examples/data';

/**
 * The folder holding the opencv-doc sample photos (fruits.jpg, ...), or undefined.
 * Looked up in $CLOUDLESS_DATA (the folder itself or a data cache containing
 * opencv-doc/), the project's .cache/data, then /tmp/deb/x.
 */
export function opencvSamples(): string | undefined {
  const env = process.env['CLOUDLESS_DATA'];
  const candidates = [
    ...(env ? [env, join(env, 'opencv-doc', EXAMPLES)] : []),
    join(process.cwd(), '.cache/data/opencv-doc', EXAMPLES),
    join('/tmp/deb/x', EXAMPLES),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'fruits.jpg')));
}

export const SAMPLES_MISSING = 'opencv-doc sample photos not found: run the setup script, set CLOUDLESS_DATA, or extract opencv-doc into /tmp/deb/x';
