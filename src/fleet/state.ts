/**
 * What a fleet device must remember across restarts and power cuts: its boot
 * counter and the rollout state (highest manifest version ever accepted, the
 * model running in each slot). Written to a temporary file, fsynced, renamed
 * and the directory fsynced, so a power cut leaves the old or the new state,
 * never a torn one. Rollback protection rests on `highestVersion` only ever
 * growing: it needs no clock.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { CloudlessError } from '../ir/index.js';

export interface SlotState { model: string; version: number; sha256: string; file: string }

export interface DeviceState {
  boot: number;
  highestVersion: number;
  /** The slot running now ('a' or 'b'), and what each holds. */
  active?: 'a' | 'b';
  slots: Partial<Record<'a' | 'b', SlotState>>;
}

export const fleetDir = (dataDir: string) => path.join(dataDir, 'fleet');

export function writeDurable(file: string, text: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try { if (typeof text === 'string') writeSync(fd, text); else writeSync(fd, text); fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, file);
  const dfd = openSync(path.dirname(file), 'r');
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
}

export class DeviceStateFile {
  readonly file: string;
  private state: DeviceState;

  constructor(dataDir: string) {
    this.file = path.join(fleetDir(dataDir), 'state.json');
    this.state = { boot: 0, highestVersion: 0, slots: {} };
    if (existsSync(this.file)) {
      try {
        const s = JSON.parse(readFileSync(this.file, 'utf8')) as DeviceState;
        if (!Number.isInteger(s.boot) || !Number.isInteger(s.highestVersion)) throw new Error('fields');
        this.state = { boot: s.boot, highestVersion: s.highestVersion, active: s.active, slots: s.slots ?? {} };
      } catch {
        // A device that cannot read its rollout state must not accept an old manifest again: refuse to start.
        throw new CloudlessError('E_FORMAT', `fleet state ${this.file} is corrupt`, { file: this.file, hint: 'restore it from a backup; deleting it would let an older signed model be installed again' });
      }
    }
  }

  get(): Readonly<DeviceState> { return this.state; }

  /** Increments and persists the boot counter; returns the new value. */
  nextBoot(): number {
    this.update((s) => { s.boot++; });
    return this.state.boot;
  }

  update(f: (s: DeviceState) => void): void {
    const next = structuredClone(this.state);
    f(next);
    writeDurable(this.file, JSON.stringify(next, null, 1));
    this.state = next;
  }
}
