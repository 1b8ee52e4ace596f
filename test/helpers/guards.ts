import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';

/**
 * Runs `fn` with every way out of the process that Node offers trapped:
 * TCP/TLS connects, UDP sockets, DNS lookups and fetch. Returns what was attempted.
 */
export async function withNetworkTrapped<T>(fn: () => Promise<T>): Promise<{ result: T; attempts: string[] }> {
  const attempts: string[] = [];
  const restore: (() => void)[] = [];
  const trap = <O extends object>(obj: O, key: keyof O & string, label: string) => {
    const original = obj[key];
    (obj as Record<string, unknown>)[key] = (...args: unknown[]) => {
      attempts.push(`${label}(${JSON.stringify(args[0] ?? '')})`);
      throw new Error(`network access attempted: ${label}`);
    };
    restore.push(() => { (obj as Record<string, unknown>)[key] = original; });
  };
  trap(net.Socket.prototype, 'connect', 'net.Socket.connect');
  trap(net, 'connect', 'net.connect');
  trap(net, 'createConnection', 'net.createConnection');
  trap(tls, 'connect', 'tls.connect');
  trap(dgram, 'createSocket', 'dgram.createSocket');
  trap(dns, 'lookup', 'dns.lookup');
  trap(dns.promises, 'lookup', 'dns.promises.lookup');
  trap(globalThis as unknown as Record<string, unknown>, 'fetch', 'fetch');
  try {
    const result = await fn();
    return { result, attempts };
  } finally {
    for (const r of restore.reverse()) r();
  }
}

const TYPED = ['ArrayBuffer', 'SharedArrayBuffer', 'Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray',
  'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'] as const;

/**
 * Counts the buffers allocated while `fn` runs: constructions of ArrayBuffer and
 * of typed arrays that are not views over an existing buffer, plus `slice()`
 * copies of typed arrays.
 */
export async function countBufferAllocations(fn: () => Promise<unknown> | unknown): Promise<number> {
  let count = 0;
  const g = globalThis as unknown as Record<string, unknown>;
  const originals = new Map<string, unknown>();
  for (const name of TYPED) {
    const Ctor = g[name] as new (...a: unknown[]) => unknown;
    originals.set(name, Ctor);
    g[name] = new Proxy(Ctor, {
      construct(target, args, newTarget) {
        const first = args[0];
        const isView = first instanceof (originals.get('ArrayBuffer') as typeof ArrayBuffer) ||
          (typeof SharedArrayBuffer !== 'undefined' && first instanceof SharedArrayBuffer);
        if (!isView) count++;
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
  const protoSlice = Object.getPrototypeOf(Int8Array.prototype) as { slice: (...a: unknown[]) => unknown };
  const slice = protoSlice.slice;
  protoSlice.slice = function (this: unknown, ...a: unknown[]) { count++; return slice.apply(this, a); };
  try {
    await fn();
  } finally {
    for (const [name, C] of originals) g[name] = C;
    protoSlice.slice = slice;
  }
  return count;
}
