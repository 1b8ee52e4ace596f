/**
 * `cloudless fleet serve-models <dir>`: a read-only HTTP file server for model
 * files, on loopback unless told otherwise. It serves regular files directly
 * in `dir` by name (no sub-folders, no listing, no dot files), so a request can
 * never climb out of the folder. Devices check size and sha256 against the
 * signed manifest, so the server needs no trust.
 */
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export interface ModelServer { url: string; server: http.Server; requests: number; close(): Promise<void> }

export function serveModels(dir: string, opts: { host?: string; port?: number } = {}): Promise<ModelServer> {
  const root = path.resolve(dir);
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    const name = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(1));
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return; }
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$/.test(name)) { res.writeHead(404).end(); return; }
    const file = path.join(root, name);
    let size: number;
    try { const s = statSync(file); if (!s.isFile()) throw new Error('not a file'); size = s.size; } catch { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      const a = server.address() as { port: number; address: string };
      const host = a.address.includes(':') ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${host}:${a.port}`, server, get requests() { return state.requests; },
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
