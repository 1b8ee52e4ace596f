/**
 * ONNX node tests that the conformance suite does not run, each with the reason.
 * A test belongs here only when running it says nothing about cloudless's
 * correctness (training-mode ops, randomness, string tensors, ...). Ops we do not
 * implement are not excluded: they are reported as "unsupported" by the runner.
 */
export const EXCLUDED: Record<string, string> = {
};
