/**
 * Secrets (MQTT passwords, webhook tokens) encrypted at rest. Each value is
 * sealed with AES-256-GCM under a 32-byte device key kept in its own file
 * (mode 0600) beside the store, with a fresh 12-byte IV per value and the
 * secret's name as additional authenticated data, so a value copied under
 * another name fails to open. Values are never printed: the store lists names
 * only, and errors never quote a value.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CloudlessError } from '../ir/index.js';
import { dataPaths } from './paths.js';

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

  /** The device key, created on first use. */
  private key(create: boolean): Buffer | undefined {
    if (existsSync(this.keyFile)) {
      const k = readFileSync(this.keyFile);
      if (k.length !== 32) throw new CloudlessError('E_CONFIG', `device key ${this.keyFile} is ${k.length} bytes, expected 32`, { file: this.keyFile, hint: 'restore the key from a backup, or `cloudless wipe` and set the secrets again' });
      return k;
    }
    if (!create) return undefined;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const k = randomBytes(32);
    writeFileSync(this.keyFile, k, { mode: 0o600, flag: 'wx' });
    return k;
  }

  private read(): Record<string, Sealed> {
    if (!existsSync(this.file)) return {};
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, Sealed>;
    } catch {
      throw new CloudlessError('E_FORMAT', `secret store ${this.file} is corrupt`, { file: this.file, hint: 'remove it and set the secrets again' });
    }
  }

  private write(all: Record<string, Sealed>): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(all, null, 1), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
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

