/**
 * Object names are the one piece of a backup that reaches a file system path
 * or an S3 key, and a manifest is input we do not trust: so names are checked
 * against a small positive pattern rather than a list of bad characters.
 */
import { errNameInvalid } from '../errors.js';

const SEGMENT_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const MAX_SEGMENT_LENGTH = 255;

/** Why `name` is not a valid flat object name, or `undefined` when it is. */
export function objectNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'not a string';
  if (name.length === 0) return 'empty';
  if (name.length > MAX_SEGMENT_LENGTH) return `longer than ${MAX_SEGMENT_LENGTH} characters`;
  if (name.includes('/') || name.includes('\\')) return 'contains a path separator';
  if (name === '.' || name === '..' || name.includes('..')) return "contains '..'";
  if (name.startsWith('.')) return 'starts with a dot (reserved for temporary files)';
  if (!SEGMENT_PATTERN.test(name)) return 'contains characters outside [A-Za-z0-9._-]';
  return undefined;
}

export function isObjectName(name: unknown): name is string {
  return objectNameProblem(name) === undefined;
}

/** Throws NAME_INVALID unless `name` is a valid flat object name. */
export function assertObjectName(name: string): void {
  const problem = objectNameProblem(name);
  if (problem !== undefined) throw errNameInvalid(name, problem);
}

/**
 * Paths for reading and listing below a location (`node1/0/2026.../x.json`):
 * every `/`-separated part must be a valid object name.
 */
export function assertObjectPath(path: string): void {
  if (typeof path !== 'string' || path.length === 0) throw errNameInvalid(String(path), 'empty');
  for (const part of path.split('/')) {
    const problem = objectNameProblem(part);
    if (problem !== undefined) throw errNameInvalid(path, problem);
  }
}
