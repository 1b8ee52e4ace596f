import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cache = process.env.CLOUDLESS_CACHE ?? path.join(repoRoot, '.cache');

/** opencv-doc's sample photos (fetched by `npm run setup-data`), or undefined when absent. */
export function opencvPhotosDir(): string | undefined {
  const candidates = [
    path.join(cache, 'data/opencv-doc/usr/share/doc/opencv-doc/examples/data'),
    '/usr/share/doc/opencv-doc/examples/data',
  ];
  return candidates.find((d) => existsSync(path.join(d, 'fruits.jpg')));
}

/** ../shared/models/tflm beside the repository, or undefined (a user's clone has no ../shared). */
export function tflmDir(): string | undefined {
  const d = path.resolve(repoRoot, '../shared/models/tflm');
  return existsSync(d) ? d : undefined;
}

export function npmModel(pkgPath: string): string | undefined {
  const p = path.join(repoRoot, 'node_modules', pkgPath);
  return existsSync(p) ? p : undefined;
}
