import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The device's data directory: ledger, encrypted secrets, device key, logs and
 * model store. `--data DIR`, else $CLOUDLESS_HOME, else ~/.cloudless.
 */
export function dataDir(explicit?: string): string {
  return path.resolve(explicit ?? process.env.CLOUDLESS_HOME ?? path.join(os.homedir(), '.cloudless'));
}

export const dataPaths = (dir: string) => ({
  ledger: path.join(dir, 'ledger.sqlite'),
  secrets: path.join(dir, 'secrets.json'),
  deviceKey: path.join(dir, 'device.key'),
  logs: path.join(dir, 'logs'),
  models: path.join(dir, 'models'),
});

/**
 * Creates the data directory (or a folder inside it) readable by its owner
 * only (0700), and tightens one that exists with wider modes.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Creates a data file (if absent) with mode 0600 before a library opens it with its own, wider default. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}
