import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cache = process.env.CLOUDLESS_CACHE ?? path.join(repoRoot, '.cache');

const PHOTOS = 'usr/share/doc/opencv-doc/examples/data';

/**
 * opencv-doc's sample photos (fetched by `npm run setup-data`), or undefined when
 * absent. $CLOUDLESS_DATA may name the folder itself or a data cache holding opencv-doc/.
 */
export function opencvPhotosDir(): string | undefined {
  const env = process.env.CLOUDLESS_DATA;
  const candidates = [
    ...(env ? [env, path.join(env, 'opencv-doc', PHOTOS)] : []),
    path.join(cache, 'data/opencv-doc', PHOTOS),
    path.join('/', PHOTOS),
  ];
  return candidates.find((d) => existsSync(path.join(d, 'fruits.jpg')));
}

/** The ONNX backend node tests of Debian's libonnx-testdata, or undefined when absent. */
export function onnxNodeTestsDir(): string | undefined {
  const rel = 'usr/share/libonnx-testdata/data/node';
  return [path.join(cache, 'data/libonnx-testdata', rel), path.join('/', rel)].find((d) => existsSync(d));
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
