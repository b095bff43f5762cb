/**
 * What aerospike.conf says, as far as shmsnap needs it:
 * - the 8.2 index checkpoint: the namespaces whose index Aerospike saves
 *   (and at the next start hydrates, then deletes) itself. shmsnap warns
 *   rather than refuses (README, "Index checkpoint"): the segments it copies
 *   are the same ones the checkpoint copies, so its backup is still good; the
 *   operator must choose which copy the next start uses. A parked asd (after
 *   `checkpoint-save`) is alive, which the asd check refuses anyway.
 * - per namespace, the values that decide whether the next start can be warm
 *   from the segments a backup holds (location/preflight.ts):
 *   `partition-tree-sprigs` (the treex follows it: a change cold-starts),
 *   `index-type`, `sindex-type`, the stage sizes, and the storage engine
 *   (type, `data-size`, shadow `file`/`device` lines, `filesize`: the data
 *   stripes' geometry, which asd crashes on when it differs).
 *
 * Values are kept as the file writes them (`4G`, not 4294967296): the
 * manifest records them so, and a reader compares them through
 * `parseConfSize`. The file's syntax: `name value...` lines and
 * `context [name] { ... }` blocks (the brace may open on the next line),
 * `#` comments. `index-checkpoint-path` is read both in `service` (every
 * namespace, unless it sets `skip-checkpoint true`) and inside a namespace.
 */
import { readFileSync } from 'node:fs';

export const DEFAULT_AEROSPIKE_CONF = '/etc/aerospike/aerospike.conf';

export interface CheckpointedNamespace {
  readonly namespace: string;
  readonly path: string;
}

/** A namespace's `storage-engine`, as written. */
export interface StorageEngineConf {
  /** `memory`, `device`, `pmem`. */
  readonly type: string;
  /** Memory-only (7.0+): the size of the data stripes together. */
  readonly dataSize?: string;
  readonly filesize?: string;
  /** Shadow (or storage) files, in order. */
  readonly files: readonly string[];
  /** Devices, in order (the first word of each `device` line; a second is its shadow). */
  readonly devices: readonly string[];
}

/** One `namespace NAME { ... }` block: the values shmsnap reads, undefined where the file does not set them (asd's default applies). */
export interface NamespaceConf {
  readonly name: string;
  readonly partitionTreeSprigs?: string;
  /** `shmem` (asd's default), `flash`, `pmem`. */
  readonly indexType?: string;
  readonly sindexType?: string;
  readonly indexStageSize?: string;
  readonly sindexStageSize?: string;
  /** Before 7.0: the namespace's memory budget. */
  readonly memorySize?: string;
  readonly storageEngine?: StorageEngineConf;
  /** Its own `index-checkpoint-path`, else the service's. */
  readonly indexCheckpointPath?: string;
  readonly skipCheckpoint: boolean;
}

export interface AerospikeConf {
  /** In the file's order; a name given twice counts once (the first block). */
  readonly namespaces: readonly NamespaceConf[];
  /** The `service` context's `index-checkpoint-path`. */
  readonly serviceIndexCheckpointPath?: string;
}

interface ConfNode {
  readonly words: readonly string[];
  readonly children?: ConfNode[];
}

/** The file as a tree of statements: each a line's words, a block header with its children. Unbalanced braces are tolerated (a stray `}` is dropped, an open block ends with the file). */
function parseTree(text: string): ConfNode[] {
  const root: ConfNode[] = [];
  const stack: ConfNode[][] = [root];
  for (const raw of text.split('\n')) {
    let words: string[] = [];
    const flush = (): void => {
      if (words.length > 0) stack[stack.length - 1]!.push({ words });
      words = [];
    };
    for (const token of raw.replace(/#.*$/, '').split(/(\{|\})|\s+/).filter((t) => t !== undefined && t !== '')) {
      if (token === '{') {
        const level = stack[stack.length - 1]!;
        // `name value {` on one line, or a brace alone under its header.
        const header = words.length > 0 ? words : (level.pop()?.words ?? []);
        const node: ConfNode = { words: header, children: [] };
        level.push(node);
        stack.push(node.children!);
        words = [];
      } else if (token === '}') {
        flush();
        if (stack.length > 1) stack.pop();
      } else {
        words.push(token);
      }
    }
    flush();
  }
  return root;
}

function valueOf(nodes: readonly ConfNode[], key: string): string | undefined {
  return nodes.find((n) => n.words[0] === key && n.words.length >= 2)?.words[1];
}

function storageOf(node: ConfNode): StorageEngineConf {
  const children = node.children ?? [];
  const dataSize = valueOf(children, 'data-size');
  const filesize = valueOf(children, 'filesize');
  return {
    type: node.words[1] ?? '',
    ...(dataSize === undefined ? {} : { dataSize }),
    ...(filesize === undefined ? {} : { filesize }),
    files: children.filter((n) => n.words[0] === 'file' && n.words.length >= 2).map((n) => n.words[1]!),
    devices: children.filter((n) => n.words[0] === 'device' && n.words.length >= 2).map((n) => n.words[1]!),
  };
}

/** The namespaces of `text` (an aerospike.conf) with the values shmsnap reads. */
export function parseAerospikeConf(text: string): AerospikeConf {
  const tree = parseTree(text);
  const service = tree.find((n) => n.words[0] === 'service' && n.children);
  const serviceIndexCheckpointPath = service ? valueOf(service.children!, 'index-checkpoint-path') : undefined;
  const namespaces: NamespaceConf[] = [];
  for (const node of tree) {
    const name = node.words[1];
    if (node.words[0] !== 'namespace' || name === undefined || !node.children || namespaces.some((n) => n.name === name)) continue;
    const body = node.children;
    // `index-type flash { mounts ... }` is a block whose header holds the value; `index-type shmem` a line.
    const typed = (key: string): string | undefined => body.find((n) => n.words[0] === key)?.words[1];
    const storage = body.find((n) => n.words[0] === 'storage-engine' && n.words.length >= 2);
    const fields: Record<string, string | undefined> = {
      partitionTreeSprigs: valueOf(body, 'partition-tree-sprigs'),
      indexType: typed('index-type'),
      sindexType: typed('sindex-type'),
      indexStageSize: valueOf(body, 'index-stage-size'),
      sindexStageSize: valueOf(body, 'sindex-stage-size'),
      memorySize: valueOf(body, 'memory-size'),
      indexCheckpointPath: valueOf(body, 'index-checkpoint-path') ?? serviceIndexCheckpointPath,
    };
    namespaces.push({
      name,
      ...(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<NamespaceConf>),
      ...(storage ? { storageEngine: storageOf(storage) } : {}),
      skipCheckpoint: valueOf(body, 'skip-checkpoint') === 'true',
    });
  }
  return { namespaces, ...(serviceIndexCheckpointPath === undefined ? {} : { serviceIndexCheckpointPath }) };
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** A size as aerospike.conf writes it (`4G`, `512m`, `1073741824`: binary units) in bytes; undefined when it is not one. */
export function parseConfSize(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^(\d+)([kmgtp]?)$/i.exec(value);
  if (!match) return undefined;
  const bytes = Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The namespaces of `text` (an aerospike.conf) that Aerospike checkpoints, with their checkpoint directory. */
export function checkpointedNamespaces(text: string): CheckpointedNamespace[] {
  return fromConf(parseAerospikeConf(text));
}

/** What reading aerospike.conf gave: the parsed file, or why there is none (`missing`: it does not exist). */
export type AerospikeConfRead =
  | { readonly path: string; readonly conf: AerospikeConf }
  | { readonly path: string; readonly conf?: undefined; readonly missing: boolean; readonly error: string };

/** Reads and parses `path`; never throws. */
export function readAerospikeConf(path: string): AerospikeConfRead {
  try {
    return { path, conf: parseAerospikeConf(readFileSync(path, 'utf8')) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { path, missing: code === 'ENOENT' || code === 'ENOTDIR', error: code ?? String(error) };
  }
}

/** The file's checkpointed namespaces; none when it does not exist. Other read failures are returned as a note. */
export function readCheckpointedNamespaces(path: string): { namespaces: CheckpointedNamespace[]; note?: string } {
  const read = readAerospikeConf(path);
  if (read.conf) return { namespaces: fromConf(read.conf) };
  if (read.missing) return { namespaces: [] };
  return { namespaces: [], note: `could not read ${path} (${read.error}), so whether Aerospike checkpoints these namespaces itself is unknown` };
}

function fromConf(conf: AerospikeConf): CheckpointedNamespace[] {
  return conf.namespaces.filter((ns) => ns.indexCheckpointPath !== undefined && !ns.skipCheckpoint).map((ns) => ({ namespace: ns.name, path: ns.indexCheckpointPath! }));
}
