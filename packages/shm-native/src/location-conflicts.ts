/**
 * ASMT's rule for a backup directory (§6): a file of the same instance and
 * namespace id as a segment being backed up blocks the backup, whatever its
 * type — it would make the directory ambiguous. Files of other namespaces or
 * instances may share the directory.
 */
import type { BackupPlanEntry, ObjectInfo } from '@shmsnap/core';
import { parseSegmentFileName } from './layout/key.js';

export function asmtConflicts(existing: readonly ObjectInfo[], plan: readonly BackupPlanEntry[]): string[] {
  const wanted = new Set(plan.map((e) => `${e.segment.instance}/${e.segment.nsid}`));
  const reasons: string[] = [];
  for (const object of existing) {
    const parsed = parseSegmentFileName(object.name);
    if (parsed && wanted.has(`${parsed.decoded.instance}/${parsed.decoded.nsid}`)) {
      reasons.push(`it already holds ${object.name}, a segment file of instance ${parsed.decoded.instance}, namespace id ${parsed.decoded.nsid}`);
    }
  }
  return reasons;
}
