import { CloudlessError } from '../ir/index.js';

/**
 * Resolves `url` against the page and refuses any other origin: the engine
 * fetches its wasm and models only from whoever serves the page, never a CDN.
 */
export function sameOriginUrl(url: string | URL, what: string): URL {
  const base = globalThis.location?.href;
  const u = new URL(url, base);
  const origin = globalThis.location?.origin;
  if (origin === undefined || u.origin !== origin) {
    throw new CloudlessError('E_CONFIG', `${what}: ${u.href} is not on this page's origin (${origin ?? 'none'})`, {
      hint: 'serve the model and kernels.wasm from the same server as the page; cloudless never fetches from another host',
    });
  }
  return u;
}
