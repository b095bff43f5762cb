/**
 * The pieces every `--json` document is made of, one shape each wherever they
 * appear (docs/json.md, checked against packages/cli/schemas/): a codec is
 * `{ name, level }`, a namespace `{ name, nsid }`, an error
 * `{ code, message, retryable, fault, details }`. Each document names its
 * schema and version (`"schema": "shmsnap.backup/1"`); a version changes only
 * when a field is removed or changes meaning, never when one is added.
 */
import type { OptionNamer, ShmsnapError } from '@shmsnap/core';
import { renderMessage } from '../flags.js';

export type JsonDocument = 'backup' | 'restore' | 'verify' | 'ls' | 'inspect' | 'demo' | 'clear' | 'config' | 'plugins' | 'prune' | 'status' | 'preflight' | 'rekey' | 'error';

export const SCHEMA_VERSION = 1;

export function schemaName(document: JsonDocument): string {
  return `shmsnap.${document}/${SCHEMA_VERSION}`;
}

export interface CodecJson {
  readonly name: string;
  /** null for a codec without levels (`none`), or where the level is not recorded (ASMT files). */
  readonly level: number | null;
}

export function codecJson(name: string, level: number | null): CodecJson {
  return { name, level };
}

export interface NamespaceJson {
  /** null where only the id is known (segments without their base, an interrupted backup). */
  readonly name: string | null;
  readonly nsid: number;
}

export function namespaceJson(ns: { readonly name: string | null; readonly nsid: number }): NamespaceJson {
  return { name: ns.name === '' ? null : ns.name, nsid: ns.nsid };
}

export interface ErrorJson {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly fault: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** An error as JSON, its message as this frontend prints it (options named as flags). */
export function errorJson(error: ShmsnapError, flag: OptionNamer, message = renderMessage(error, flag)): ErrorJson {
  return { ...error.toJSON(), message };
}
