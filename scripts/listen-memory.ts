/**
 * Peak RSS and CPU time of `cloudless listen` against the length of the wav:
 * 48 kHz 16-bit stereo noise generated with sox into a temporary folder
 * (deleted afterwards, never committed), run through bin/cloudless.js (dist/,
 * so `npm run build` first) under /usr/bin/time.
 *
 *   npx tsx scripts/listen-memory.ts [--seconds 10,600,7200] [--keep-dir DIR]
 *
 * Prints one row per length: audio seconds, file MB, peak RSS MB, user+sys
 * CPU s and CPU s per audio hour (flat when the cost is linear in length).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : dflt);
const lengths = arg('--seconds', '10,600,7200').split(',').map(Number);
const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-listen-memory-'));

interface Row { seconds: number; fileMB: number; peakRssMB: number; cpuSeconds: number; cpuPerHour: number; events: number }
const rows: Row[] = [];
try {
  for (const seconds of lengths) {
    const wav = path.join(dir, `noise-${seconds}s.wav`);
    execFileSync('sox', ['-n', '-r', '48000', '-c', '2', '-b', '16', wav, 'synth', String(seconds), 'pinknoise', 'vol', '0.3']);
    const timing = path.join(dir, 'time.txt');
    const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', timing, process.execPath, path.join(root, 'bin/cloudless.js'), 'listen', wav, '--json'],
      { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`listen failed on ${wav}: ${r.stderr}`);
    const [kb, user, sys] = readFileSync(timing, 'utf8').trim().split(/\s+/).map(Number) as [number, number, number];
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { audioSeconds: number; events: number };
    if (Math.abs(summary.audioSeconds - seconds) > 0.01) throw new Error(`listen heard ${summary.audioSeconds} s of a ${seconds} s file`);
    const cpu = user + sys;
    rows.push({ seconds, fileMB: statSync(wav).size / 1e6, peakRssMB: kb / 1024, cpuSeconds: cpu, cpuPerHour: (cpu * 3600) / seconds, events: summary.events });
    rmSync(wav);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('audio s   file MB   peak RSS MB   CPU s   CPU s per audio hour   events');
for (const r of rows) {
  console.log(`${String(r.seconds).padStart(7)}  ${r.fileMB.toFixed(1).padStart(8)}  ${r.peakRssMB.toFixed(1).padStart(12)}  ${r.cpuSeconds.toFixed(1).padStart(6)}  ${r.cpuPerHour.toFixed(1).padStart(21)}  ${String(r.events).padStart(7)}`);
}
const base = rows[0]!;
for (const r of rows.slice(1)) console.log(`${r.seconds} s vs ${base.seconds} s: peak RSS ${(r.peakRssMB - base.peakRssMB).toFixed(1)} MB more`);
