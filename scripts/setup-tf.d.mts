// Types of scripts/setup-tf.mjs for the TypeScript that imports it (test/codegen/tf-oracle.test.ts).
export const tfVenvPython: string;
export function tfVersion(): string | undefined;
