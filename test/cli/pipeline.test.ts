import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerAuditCommand } from '../../src/cli/audit.js';
import { registerEventsCommand } from '../../src/cli/events.js';
import { registerRunCommand } from '../../src/cli/run.js';
import { registerSecretsCommand } from '../../src/cli/secrets.js';
import { registerWipeCommand } from '../../src/cli/wipe.js';
import { repoRoot } from '../helpers/data.js';

const data = mkdtempSync(path.join(os.tmpdir(), 'cloudless-cli-'));
afterAll(() => rmSync(data, { recursive: true, force: true }));
let out = '';
beforeEach(() => { out = ''; vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out += String(s); return true; }); vi.spyOn(process.stderr, 'write').mockImplementation(() => true); });
afterEach(() => { vi.restoreAllMocks(); });

async function cli(args: string[], stdin = ''): Promise<number> {
  let code = 0;
  const set = (c: number) => { code = Math.max(code, c); };
  const program = new Command().exitOverride();
  registerRunCommand(program, set);
  registerEventsCommand(program, set);
  registerAuditCommand(program, set);
  registerSecretsCommand(program, set, Readable.from([Buffer.from(stdin)]));
  registerWipeCommand(program, set);
  await program.parseAsync(['node', 'cloudless', ...args]);
  return code;
}

describe('pipeline CLI', () => {
  it('secrets: set reads stdin, list shows names only, values never printed', async () => {
    expect(await cli(['secrets', 'set', 'mqtt_pass', '--data', data], 'pa55-word\n')).toBe(0);
    expect(out).toBe('secret mqtt_pass stored (encrypted)\n');
    out = '';
    await cli(['secrets', 'list', '--json', '--data', data]);
    expect(JSON.parse(out).map((s: { name: string }) => s.name)).toEqual(['mqtt_pass']);
    expect(out).not.toContain('pa55');
    expect(readFileSync(path.join(data, 'secrets.json'), 'utf8')).not.toContain('pa55');
  });

  it('run --check validates an example and reports it ok', async () => {
    expect(await cli(['run', path.join(repoRoot, 'examples/pet-feeder/pipeline.yaml'), '--check', '--json', '--data', data])).toBe(1);
    const r = JSON.parse(out);
    // The example's drop folder is created by the camera, not shipped: --check warns about it.
    expect(r).toMatchObject({ pipeline: 'pet-feeder', ok: false });
    expect(r.problems).toEqual([expect.stringMatching(/source\.path: folder .*drop does not exist/)]);
  });

  it('events and audit read an empty data directory; wipe lists, then erases', async () => {
    await cli(['events', '--json', '--data', data]);
    expect(JSON.parse(out)).toEqual([]);
    out = '';
    await cli(['audit', '--json', '--data', data]);
    expect(JSON.parse(out)).toMatchObject({ destinations: [], rawDataSent: 0 });
    out = '';
    expect(await cli(['wipe', '--data', data])).toBe(2);
    expect(existsSync(path.join(data, 'secrets.json'))).toBe(true);
    expect(await cli(['wipe', '--yes', '--json', '--data', data])).toBe(0);
    expect(existsSync(path.join(data, 'secrets.json'))).toBe(false);
    expect(existsSync(path.join(data, 'device.key'))).toBe(false);
  });
});
