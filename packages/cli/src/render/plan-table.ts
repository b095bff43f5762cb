/** The plan of a backup or restore, as `--dry-run` and the start of a run show it. */
import { formatKey, type SegmentDescriptor } from '@shmsnap/core';
import { formatBytes } from '@shmsnap/core';
import { namespaceJson } from './json.js';
import type { Output } from './output.js';
import { formatTable } from './table.js';

export interface PlanRow {
  readonly segment: SegmentDescriptor;
  readonly object: string;
}

/**
 * The plan's rows as JSON. `namespaces` are the plan's: a row names its
 * namespace as the plan does (a data stripe's key may carry another nsid
 * than its namespace's).
 */
export function planJson(rows: readonly PlanRow[], namespaces: readonly { readonly name: string; readonly nsid: number }[]) {
  const nsidOf = new Map(namespaces.map((n) => [n.name, n.nsid]));
  return rows.map(({ segment, object }) => ({
    key: formatKey(segment.key),
    kind: segment.kind,
    namespace: namespaceJson({ name: segment.namespace, nsid: nsidOf.get(segment.namespace) ?? segment.nsid }),
    stage: segment.stage,
    size: segment.size,
    uid: segment.uid,
    gid: segment.gid,
    mode: `0${segment.mode.toString(8)}`,
    object,
  }));
}

export function printPlan(output: Output, rows: readonly PlanRow[]): void {
  const table = rows.map(({ segment, object }) => [
    formatKey(segment.key),
    segment.kind,
    segment.namespace,
    segment.stage === null ? '-' : `0x${segment.stage.toString(16).padStart(3, '0')}`,
    formatBytes(segment.size),
    `${segment.uid}:${segment.gid}`,
    `0${segment.mode.toString(8)}`,
    object,
  ]);
  for (const line of formatTable(['key', 'kind', 'namespace', 'stage', 'size', 'owner', 'mode', 'object'], table, '  ')) output.line(line);
  const total = rows.reduce((sum, r) => sum + r.segment.size, 0);
  output.line(`  total: ${rows.length} segments, ${formatBytes(total)}`);
}
