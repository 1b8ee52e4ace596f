/**
 * Secrets (MQTT passwords, webhook tokens) encrypted at rest. Each value is
 * sealed with AES-256-GCM under a 32-byte device key kept in its own file
 * (mode 0600) beside the store, with a fresh 12-byte IV per value and the
 * secret's name as additional authenticated data, so a value copied under
 * another name fails to open. Values are never printed: the store lists names
 * only, and errors never quote a value.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { CloudlessError } from '../ir/index.js';
import { dataPaths, ensurePrivateDir } from './paths.js';

interface Sealed { iv: string; tag: string; data: string; created: string }

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export class SecretStore {
  private readonly file: string;
  private readonly keyFile: string;

  constructor(readonly dir: string) {
    const p = dataPaths(dir);
    this.file = p.secrets;
    this.keyFile = p.deviceKey;
  }

  /**
   * The device key, created on first use: only while no secret is stored. A
   * store that has secrets but no key cannot be opened again, and a new key
   * would silently orphan every one of them, so that is an error whose way
   * out (`cloudless secrets reset`) says what it discards.
   */
  private key(create: boolean): Buffer | undefined {
    if (existsSync(this.keyFile)) {
      let k: Buffer;
      try {
        if (!statSync(this.keyFile).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
        k = readFileSync(this.keyFile);
      } catch (err) {
        throw new CloudlessError('E_CONFIG', `device key ${this.keyFile} cannot be read: ${(err as Error).message}`, {
          file: this.keyFile, hint: 'it must be the 32-byte file cloudless created; restore it from a backup, or `cloudless secrets reset` to discard the secrets it opened',
        });
      }
      if (k.length !== 32) throw new CloudlessError('E_CONFIG', `device key ${this.keyFile} is ${k.length} bytes, expected 32`, { file: this.keyFile, hint: 'restore the key from a backup, or `cloudless secrets reset` to discard the secrets and start a new key' });
      return k;
    }
    if (!create) return undefined;
    const stored = Object.keys(this.read()).sort();
    if (stored.length) {
      throw new CloudlessError('E_CONFIG', `device key ${this.keyFile} is missing, and ${stored.length} stored secret(s) (${stored.join(', ')}) can only be opened with it; refusing to make a new key that would orphan them`, {
        file: this.keyFile, hint: 'restore device.key from a backup, or run `cloudless secrets reset --yes` to discard the stored secrets and set them again',
      });
    }
    ensurePrivateDir(this.dir);
    const k = randomBytes(32);
    writeFileSync(this.keyFile, k, { mode: 0o600, flag: 'wx' });
    return k;
  }

  private read(): Record<string, Sealed> {
    if (!existsSync(this.file)) return {};
    const corrupt = (why: string) => new CloudlessError('E_FORMAT', `secret store ${this.file} is corrupt: ${why}`, {
      file: this.file, hint: 'restore it from a backup, or `cloudless secrets reset --yes` to discard it and set the secrets again',
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw corrupt((err as NodeJS.ErrnoException).code ? (err as Error).message : 'not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt('expected an object of sealed secrets');
    for (const [name, v] of Object.entries(parsed)) {
      const o = v as Partial<Sealed> | null;
      if (!NAME.test(name) || typeof o !== 'object' || o === null || typeof o.iv !== 'string' || typeof o.tag !== 'string' || typeof o.data !== 'string' || typeof o.created !== 'string') {
        throw corrupt(`entry "${name.slice(0, 64)}" is not a sealed secret`);
      }
    }
    return parsed as Record<string, Sealed>;
  }

  private write(all: Record<string, Sealed>): void {
    ensurePrivateDir(this.dir);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(all, null, 1), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  /**
   * What `reset` would discard: the stored secret names (as far as the store
   * can be read) and whether a device key exists.
   */
  inventory(): { secrets: string[]; unreadable: boolean; key: boolean } {
    let secrets: string[] = [];
    let unreadable = false;
    try { secrets = Object.keys(this.read()).sort(); } catch { unreadable = existsSync(this.file); }
    return { secrets, unreadable, key: existsSync(this.keyFile) };
  }

  /** Discards the secret store and the device key; returns what was discarded. Nothing else in the data directory is touched. */
  reset(): { secrets: string[]; unreadable: boolean; key: boolean } {
    const inv = this.inventory();
    rmSync(this.file, { force: true });
    rmSync(`${this.file}.tmp`, { force: true });
    rmSync(this.keyFile, { force: true, recursive: true });
    return inv;
  }

  set(name: string, value: string): void {
    checkName(name);
    if (!value) throw new CloudlessError('E_CONFIG', `secret ${name}: the value is empty`);
    const key = this.key(true)!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(name));
    const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    const all = this.read();
    all[name] = { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64'), created: new Date().toISOString() };
    this.write(all);
  }

  /** Decrypts a secret; a missing one or one that fails authentication is an error naming the secret only. */
  get(name: string): string {
    const sealed = this.read()[name];
    if (!sealed) {
      throw new CloudlessError('E_CONFIG', `secret "${name}" is not set`, { hint: `set it with: cloudless secrets set ${name}  (the value is read from stdin)` });
    }
    const key = this.key(false);
    if (!key) throw new CloudlessError('E_CONFIG', `secret "${name}" cannot be opened: the device key ${this.keyFile} is missing`, { file: this.keyFile });
    try {
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
      d.setAAD(Buffer.from(name));
      d.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return Buffer.concat([d.update(Buffer.from(sealed.data, 'base64')), d.final()]).toString('utf8');
    } catch {
      throw new CloudlessError('E_CONFIG', `secret "${name}" failed authentication (wrong device key or a tampered store)`, { file: this.file });
    }
  }

  has(name: string): boolean { return name in this.read(); }

  list(): { name: string; created: string }[] {
    return Object.entries(this.read()).map(([name, s]) => ({ name, created: s.created })).sort((a, b) => a.name.localeCompare(b.name));
  }

  remove(name: string): boolean {
    const all = this.read();
    if (!(name in all)) return false;
    delete all[name];
    this.write(all);
    return true;
  }
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new CloudlessError('E_CONFIG', `secret name "${name.slice(0, 64)}" must be 1 to 64 letters, digits, "_", "-" or "."`);
}

