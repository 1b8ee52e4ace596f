/**
 * The dashboard's password and sessions.
 *
 * The password is stored as an scrypt hash (node:crypto) with its own random
 * salt and the cost parameters, in a 0600 JSON file: the plain text is never
 * written. Logins are rate-limited per client address (a window of failures,
 * then a lock-out that doubles). A session is a random token in an HttpOnly,
 * SameSite=Strict cookie, with a CSRF token of its own that every
 * state-changing request must echo in a header.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CloudlessError } from '../ir/index.js';

/** scrypt cost: N = 2^15, r = 8, p = 1 (about 32 MiB and tens of milliseconds per check). */
const COST = { N: 1 << 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const MIN_PASSWORD = 8;

export interface PasswordRecord {
  scheme: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

function derive(password: string, salt: Buffer, c: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_BYTES, { N: c.N, r: c.r, p: c.p, maxmem: 256 * c.N * c.r }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes `password` into `file` (0600, written atomically). */
export async function setPassword(file: string, password: string): Promise<void> {
  if (password.length < MIN_PASSWORD) {
    throw new CloudlessError('E_CONFIG', `the dashboard password must have at least ${MIN_PASSWORD} characters`);
  }
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  const rec: PasswordRecord = { scheme: 'scrypt', ...COST, salt: salt.toString('base64'), hash: key.toString('base64') };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(rec)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function readPasswordRecord(file: string): PasswordRecord | undefined {
  if (!existsSync(file)) return undefined;
  let rec: PasswordRecord;
  try {
    rec = JSON.parse(readFileSync(file, 'utf8')) as PasswordRecord;
  } catch (err) {
    throw new CloudlessError('E_CONFIG', `dashboard password file ${file} is not valid JSON: ${(err as Error).message}`, { file, hint: 'set it again with `cloudless dashboard passwd`' });
  }
  const ok = rec && rec.scheme === 'scrypt' && [rec.N, rec.r, rec.p].every((v) => Number.isInteger(v) && v > 0) && typeof rec.salt === 'string' && typeof rec.hash === 'string';
  if (!ok) throw new CloudlessError('E_CONFIG', `dashboard password file ${file} is not an scrypt record`, { file, hint: 'set it again with `cloudless dashboard passwd`' });
  return rec;
}

export async function checkPassword(rec: PasswordRecord, password: string): Promise<boolean> {
  const expected = Buffer.from(rec.hash, 'base64');
  const key = await derive(password, Buffer.from(rec.salt, 'base64'), rec);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Failed logins per client: 5 in a window, then a lock-out that doubles each time (capped at an hour). */
export class LoginLimiter {
  private readonly clients = new Map<string, { failures: number; windowStart: number; lockedUntil: number; lockouts: number }>();
  constructor(private readonly maxFailures = 5, private readonly windowMs = 15 * 60_000, private readonly baseLockMs = 60_000) {}

  /** Milliseconds the client must wait, or 0 when it may try. */
  retryAfter(client: string, now = Date.now()): number {
    const c = this.clients.get(client);
    return c && c.lockedUntil > now ? c.lockedUntil - now : 0;
  }

  failed(client: string, now = Date.now()): void {
    let c = this.clients.get(client);
    if (!c || now - c.windowStart > this.windowMs) {
      c = { failures: 0, windowStart: now, lockedUntil: 0, lockouts: c?.lockouts ?? 0 };
      this.clients.set(client, c);
    }
    c.failures++;
    if (c.failures >= this.maxFailures) {
      c.lockedUntil = now + Math.min(this.baseLockMs * 2 ** c.lockouts, 3_600_000);
      c.lockouts++;
      c.failures = 0;
      c.windowStart = now;
    }
  }

  succeeded(client: string): void {
    this.clients.delete(client);
  }
}

export interface DashboardSession { csrf: string; expires: number }

/** Sessions in memory: a restart logs everyone out, which is the safe direction. */
export class SessionStore {
  private readonly sessions = new Map<string, DashboardSession>();
  constructor(private readonly ttlMs = 12 * 3_600_000) {}

  create(): { token: string; session: DashboardSession } {
    const token = randomBytes(32).toString('base64url');
    const session = { csrf: randomBytes(32).toString('base64url'), expires: Date.now() + this.ttlMs };
    this.sessions.set(token, session);
    return { token, session };
  }

  get(token: string | undefined): DashboardSession | undefined {
    if (!token) return undefined;
    const s = this.sessions.get(token);
    if (!s) return undefined;
    if (s.expires < Date.now()) { this.sessions.delete(token); return undefined; }
    return s;
  }

  delete(token: string | undefined): void {
    if (token) this.sessions.delete(token);
  }
}

/** Constant-time string comparison for tokens. */
export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `host` is a loopback address the dashboard may bind without a password. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
