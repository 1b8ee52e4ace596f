/**
 * The on-target instruction count (verify.ts, targets/cortex-m.ts) checked on a loop of known
 * length: a hand-written package whose invoke runs `subs; bne` N times (2N instructions) and
 * returns. Under QEMU `-icount shift=0` the count must be 2N plus the few instructions of the call
 * and the counter reads, to within one counter tick, and grow by exactly 2ΔN between two N.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import type { CPackage } from '../../src/codegen/package.js';
import { buildAndRun } from '../../src/codegen/verify.js';
import type { CortexTarget } from '../../src/codegen/targets/cortex-m.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const tools = have('arm-none-eabi-gcc') && have('qemu-system-arm');

/** A package `spin`: input 0 is a uint32 N (as int32), invoke spins N iterations of two instructions, output 0 is N. */
function spinPackage(): CPackage {
  const h = `#ifndef SPIN_H
#define SPIN_H
#include <stdint.h>
int spin_invoke(void);
void *spin_input(int i);
const void *spin_output(int i);
#endif
`;
  const c = `#include "spin.h"
static uint32_t spin_n, spin_out;
void *spin_input(int i) { (void)i; return &spin_n; }
const void *spin_output(int i) { (void)i; return &spin_out; }
int spin_invoke(void) {
  uint32_t n = spin_n;
  spin_out = n;
  __asm__ volatile(".syntax unified\\n1: subs %0, #1\\n bne 1b" : "+l"(n) : : "cc");
  return 0;
}
`;
  const io = { name: 'n', dtype: 'int32' as const, shape: [1], bytes: 4 };
  return { name: 'spin', files: { 'spin.h': h, 'spin.c': c }, arenaBytes: 0, constBytes: 0, inputs: [io], outputs: [{ ...io }], needsLibm: false };
}

async function count(on: CortexTarget, n: number): Promise<{ instructions: number; resolution: number }> {
  const x = new Tensor('int32', [1]);
  x.data[0] = n;
  const r = await buildAndRun(spinPackage(), [x], { on });
  expect(r.status).toBe(0);
  expect(new Int32Array(r.outputs[0]!.buffer, r.outputs[0]!.byteOffset, 1)[0]).toBe(n);
  return { instructions: r.instructions!, resolution: r.instructionResolution! };
}

describe.skipIf(!tools)('instructions per inference under QEMU -icount (needs arm-none-eabi-gcc and qemu-system-arm)', () => {
  for (const on of ['cortex-m4', 'cortex-m0plus'] as CortexTarget[]) {
    it(`${on}: a loop of 2N instructions counts 2N (+ the call) within one tick`, async () => {
      const a = await count(on, 100_000);
      const b = await count(on, 300_000);
      // The call, the loads around the loop and the second counter read: a few dozen instructions at most.
      expect(a.instructions).toBeGreaterThanOrEqual(200_000 - a.resolution);
      expect(a.instructions).toBeLessThanOrEqual(200_000 + 60 + a.resolution);
      expect(Math.abs(b.instructions - a.instructions - 400_000)).toBeLessThanOrEqual(a.resolution);
      console.log(`${on}: 2×100000 → ${a.instructions}, 2×300000 → ${b.instructions} instructions (tick ${a.resolution})`);
    }, 120_000);
  }
});
