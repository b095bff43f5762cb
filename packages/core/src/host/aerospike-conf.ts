/**
 * What aerospike.conf says about the 8.2 index checkpoint: the namespaces
 * whose index Aerospike saves (and at the next start hydrates, then deletes)
 * itself. shmsnap warns rather than refuses (README, "Index checkpoint"):
 * the segments it copies are the same ones the checkpoint copies, so its
 * backup is still good; the operator must choose which copy the next start
 * uses. A parked asd (after `checkpoint-save`) is alive, which the asd
 * check refuses anyway.
 *
 * The file's syntax: `name value` lines and `context [name] { ... }` blocks,
 * `#` comments. `index-checkpoint-path` is read both in `service` (every
 * namespace, unless it sets `skip-checkpoint true`) and inside a namespace.
 */
import { readFileSync } from 'node:fs';

export const DEFAULT_AEROSPIKE_CONF = '/etc/aerospike/aerospike.conf';

export interface CheckpointedNamespace {
  readonly namespace: string;
  readonly path: string;
}

/** The namespaces of `text` (an aerospike.conf) that Aerospike checkpoints, with their checkpoint directory. */
export function checkpointedNamespaces(text: string): CheckpointedNamespace[] {
  const tokens = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join('\n')
    .split(/(\{|\}|\n)/)
    .flatMap((part) => (part === '{' || part === '}' || part === '\n' ? [part] : [part.trim()].filter((p) => p !== '')));
  const stack: string[][] = [];
  let servicePath: string | undefined;
  const namespaces = new Map<string, { path?: string; skip: boolean }>();
  let line: string[] = [];
  for (const token of tokens) {
    if (token === '{') {
      stack.push(line.join(' ').split(/\s+/).filter((w) => w !== ''));
      line = [];
      const [context, name] = stack[stack.length - 1]!;
      if (stack.length === 1 && context === 'namespace' && name !== undefined && !namespaces.has(name)) namespaces.set(name, { skip: false });
      continue;
    }
    if (token === '}') {
      stack.pop();
      line = [];
      continue;
    }
    if (token !== '\n') {
      line.push(token);
      continue;
    }
    const words = line.join(' ').split(/\s+/).filter((w) => w !== '');
    line = [];
    if (words.length < 2 || stack.length !== 1) continue;
    const [context, name] = stack[0]!;
    const [key, value] = words as [string, string];
    if (context === 'service' && key === 'index-checkpoint-path') servicePath = value;
    if (context === 'namespace' && name !== undefined) {
      const ns = namespaces.get(name)!;
      if (key === 'index-checkpoint-path') ns.path = value;
      if (key === 'skip-checkpoint') ns.skip = value === 'true';
    }
  }
  const out: CheckpointedNamespace[] = [];
  for (const [namespace, ns] of namespaces) {
    const path = ns.path ?? servicePath;
    if (path !== undefined && !ns.skip) out.push({ namespace, path });
  }
  return out;
}

/** The file's checkpointed namespaces; none when it does not exist. Other read failures are returned as a note. */
export function readCheckpointedNamespaces(path: string): { namespaces: CheckpointedNamespace[]; note?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { namespaces: [] };
    return { namespaces: [], note: `could not read ${path} (${code ?? String(error)}), so whether Aerospike checkpoints these namespaces itself is unknown` };
  }
  return { namespaces: checkpointedNamespaces(text) };
}
