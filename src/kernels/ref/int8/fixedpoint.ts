/**
 * The fixed-point transcendental functions of gemmlowp that TFLite's reference
 * int8 LOGISTIC, TANH and SOFTMAX are built on, rewritten on plain int32 raw
 * values (JS numbers kept in int32 range).
 *
 * A value with I integer bits is stored as raw · 2^(I − 31). Products of two
 * such values use the rounding doubling high multiply (I adds up); "rescale"
 * moves a value to another number of integer bits with a saturating shift.
 * Additions wrap like int32 (`| 0`), as the C code's do; the callers keep them
 * in range. exp(x) for x ≤ 0 is evaluated as exp on [−1/4, 0) by a Taylor
 * polynomial around −1/8, times exp(−2^k) constants for each set bit of the
 * remaining integer part ("barrel shifter"). 1/(1+x) on [0, 1) is three
 * Newton–Raphson steps from the 48/17 − 32/17·x starting point.
 */
import { roundingDivideByPOT, saturatingRoundingDoublingHighMul as mul } from './requantize.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** 1.0 with 0 integer bits saturates to the largest raw value. */
const ONE_Q0 = INT32_MAX;
/** 1.0 with 2 integer bits. */
const ONE_Q2 = 1 << 29;

/** x · 2^exponent with saturation (exponent > 0) or rounding (exponent < 0). */
export function saturatingRoundingMultiplyByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  if (exponent < 0) return roundingDivideByPOT(x, -exponent);
  const threshold = (1 << (31 - exponent)) - 1;
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return x << exponent;
}

/** exp(a) for a in [−1/4, 0), a with 0 integer bits. */
function expOnIntervalBetweenNegativeOneQuarterAnd0Excl(a: number): number {
  const constantTerm = 1895147668; // exp(−1/8)
  const oneThird = 715827883;
  const x = (a + (1 << 28)) | 0; // a + 1/8
  const x2 = mul(x, x);
  const x3 = mul(x2, x);
  const x4 = mul(x2, x2);
  const x4Over4 = saturatingRoundingMultiplyByPOT(x4, -2);
  const poly = saturatingRoundingMultiplyByPOT((mul((x4Over4 + x3) | 0, oneThird) + x2) | 0, -1);
  return (constantTerm + mul(constantTerm, (x + poly) | 0)) | 0;
}

/** exp(−2^k) for k = −2 … 4, with 0 integer bits. */
const EXP_BARREL: readonly (readonly [number, number])[] = [
  [-2, 1672461947], [-1, 1302514674], [0, 790015084], [1, 290630308], [2, 39332535], [3, 720401], [4, 242],
];

/** exp(a) for a ≤ 0 given with `integerBits` integer bits; the result has 0 integer bits. */
export function expOnNegativeValues(a: number, integerBits: number): number {
  const fractionalBits = 31 - integerBits;
  const oneQuarter = 1 << (fractionalBits - 2);
  const aModQuarterMinusQuarter = ((a & (oneQuarter - 1)) - oneQuarter) | 0;
  let result = expOnIntervalBetweenNegativeOneQuarterAnd0Excl(saturatingRoundingMultiplyByPOT(aModQuarterMinusQuarter, integerBits));
  const remainder = (aModQuarterMinusQuarter - a) | 0;
  for (const [exponent, multiplier] of EXP_BARREL) {
    if (integerBits > exponent && (remainder & (1 << (fractionalBits + exponent))) !== 0) result = mul(result, multiplier);
  }
  if (integerBits > 5) {
    const clamp = -(1 << (36 - integerBits)); // −32 in this format
    if (a < clamp) result = 0;
  }
  return a === 0 ? ONE_Q0 : result;
}

/** gemmlowp's RoundingHalfSum: (a + b) / 2, rounded away from zero. */
function roundingHalfSum(a: number, b: number): number {
  const sum = a + b;
  return Math.trunc((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/** Newton–Raphson for 1 / (2 · halfDenominator), returned with 2 integer bits. */
function reciprocalOfHalfDenominator(halfDenominator: number): number {
  const c48Over17 = 1515870810;
  const cNeg32Over17 = -1010580540;
  let x = (c48Over17 + mul(halfDenominator, cNeg32Over17)) | 0;
  for (let i = 0; i < 3; i++) {
    const halfDenominatorTimesX = mul(halfDenominator, x);
    const oneMinus = (ONE_Q2 - halfDenominatorTimesX) | 0;
    x = (x + saturatingRoundingMultiplyByPOT(mul(x, oneMinus), 2)) | 0;
  }
  return x;
}

/** 1 / (1 + a) for a in [0, 1), both with 0 integer bits. */
export function oneOverOnePlusXForXIn01(a: number): number {
  const x = reciprocalOfHalfDenominator(roundingHalfSum(a, ONE_Q0));
  // x is 1/(1+a) · 2 with 2 integer bits, i.e. 1/(1+a) with 1 integer bit.
  return saturatingRoundingMultiplyByPOT(x, 1);
}

/** (1 − a) / (1 + a) for a in [0, 1), both with 0 integer bits. */
export function oneMinusXOverOnePlusXForXIn01(a: number): number {
  const x = reciprocalOfHalfDenominator(roundingHalfSum(a, ONE_Q0));
  // 2/(1+a) − 1 = (1−a)/(1+a).
  return saturatingRoundingMultiplyByPOT((x - ONE_Q2) | 0, 2);
}

/** logistic(a), a with `integerBits` integer bits; the result has 0 integer bits. */
export function logistic(a: number, integerBits: number): number {
  if (a === 0) return 1 << 30;
  const abs = a > 0 ? a : -a;
  const positive = oneOverOnePlusXForXIn01(expOnNegativeValues(-abs, integerBits));
  return a > 0 ? positive : (ONE_Q0 - positive) | 0;
}

/** tanh(a), a with `integerBits` integer bits; the result has 0 integer bits. */
export function tanh(a: number, integerBits: number): number {
  if (a === 0) return 0;
  const negAbs = a < 0 ? a : -a;
  // exp(2·negAbs): the same raw value read with one more integer bit is doubled.
  const t = oneMinusXOverOnePlusXForXIn01(expOnNegativeValues(negAbs, integerBits + 1));
  return a < 0 ? -t : t;
}

/**
 * TFLite's GetReciprocal: 1/x for a positive x, normalized to [0.5, 1] with 0
 * integer bits; reciprocalShift() gives the power of two it is off by.
 */
export function reciprocal(x: number): number {
  const headroomPlusOne = Math.clz32(x);
  const shiftedMinusOne = (((x << headroomPlusOne) >>> 0) - 2147483648) | 0;
  return oneOverOnePlusXForXIn01(shiftedMinusOne);
}

/** The number of bits of x above 1.0 that reciprocal() left out. */
export function reciprocalShift(x: number, integerDigits: number): number {
  return integerDigits - Math.clz32(x);
}
