/**
 * Assertions the reference-kernel tests share: element-wise closeness with a
 * relative tolerance that treats NaN and infinities exactly, and "this throws a
 * CloudlessError with this code".
 */
import { expect } from 'vitest';
import { CloudlessError, type Tensor } from '../../../src/ir/index.js';

export function close(got: Tensor, want: number[], tol = 1e-6): void {
  const g = got.toNumbers();
  expect(g.length).toBe(want.length);
  g.forEach((v, i) => {
    if (Number.isNaN(want[i]!)) expect(v).toBeNaN();
    else if (!Number.isFinite(want[i]!)) expect(v).toBe(want[i]);
    else expect(Math.abs(v - want[i]!), `element ${i}: ${v} vs ${want[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i]!)));
  });
}

export function throwsCode(fn: () => unknown, code: string, text?: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as CloudlessError).code).toBe(code);
    if (text) expect((err as Error).message).toContain(text);
    return;
  }
  expect.fail(`expected a ${code} error`);
}
