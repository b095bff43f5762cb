import { readFileSync } from 'node:fs';

/** The CLI package's version (dist/version.js → ../package.json). */
export const TOOL_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
export const TOOL = { name: 'shmsnap', version: TOOL_VERSION } as const;
