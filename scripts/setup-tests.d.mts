// Types of scripts/setup-tests.mjs for the TypeScript that imports it (test/setup/global.ts).
export interface Tool { command?: string; present?: () => boolean; pkg: string; usedBy: string; systemOnly?: boolean }
export const TOOLS: Tool[];
export const DATA_SETS: string[];
export function localToolsEnv(base?: NodeJS.ProcessEnv): Record<string, string>;
export function ensureTools(tools?: Tool[]): Record<string, string>;
export function prepareTestEnvironment(): Record<string, string>;
