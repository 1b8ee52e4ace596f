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
