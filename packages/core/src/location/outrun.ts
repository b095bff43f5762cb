/**
 * Backups the segments in place have outrun. A backup taken without a
 * reboot after it (the warm-restart unit stopped and started again, asd
 * stopped by hand and the unit's backup run) leaves the segments where they
 * were, and asd starts from them: from then on the backup is older than the
 * node, exactly as a restored one is. Left unconsumed, it would be the
 * newest "current" backup a later boot finds if the next shutdown's backup
 * fails (a crash leaves the index unclean), and that boot would bring back
 * records deleted since. So when the boot restore finds the segments in
 * place, every complete, unconsumed backup of this host and instance made in
 * this boot (same boot id: the segments never went away since) gets a
 * consumed marker saying so.
 */
import type { Sink } from '../contracts/sink.js';
import { toShmsnapError, type ShmsnapError } from '../errors.js';
import type { CodecLookup } from '../format/asmt-directory.js';
import type { HostIdentity } from '../format/manifest.js';
import { foreignHostReason } from '../host-identity.js';
import { listBackups, readLocation } from './catalog.js';
import { markConsumed } from './consumed.js';

export interface MarkOutrunOptions {
  readonly codecs: CodecLookup;
  readonly host: HostIdentity;
  readonly instance: number;
  /** Levels below the root to look into. */
  readonly depth: number;
  readonly tool: { readonly name: string; readonly version: string };
  readonly signal?: AbortSignal;
}

export interface MarkOutrunResult {
  /** The sub-locations whose backup was marked. */
  readonly marked: readonly string[];
  readonly failed: readonly { readonly location: string; readonly error: ShmsnapError }[];
}

/** Marks this boot's unconsumed backups of `instance` under `root` consumed; `openAt` opens the sink of a listing's prefix. Never throws for one marker. */
export async function markOutrunBackups(root: Sink, openAt: (prefix: string) => Promise<Sink>, options: MarkOutrunOptions): Promise<MarkOutrunResult> {
  const { host, instance, signal } = options;
  if (host.bootId === null) return { marked: [], failed: [] };
  const rows = await listBackups(root, { codecs: options.codecs, depth: options.depth, ...(signal ? { signal } : {}) });
  const outrun = rows.filter(
    (r) => r.status === 'complete' && r.consumed === null && r.instance === instance && r.host !== null && r.host.bootId === host.bootId && foreignHostReason(r.host, host) === undefined,
  );
  const marked: string[] = [];
  const failed: { location: string; error: ShmsnapError }[] = [];
  for (const row of outrun) {
    try {
      const sink = row.prefix === '' ? root : await openAt(row.prefix);
      const state = await readLocation(sink, signal);
      const backups = state.backups.filter((b) => b.manifest.instance === instance && b.manifest.createdAt === row.createdAt);
      const result = await markConsumed(sink, backups, state.consumed, (backup) => ({
        consumedAt: new Date().toISOString(),
        host,
        pid: process.pid,
        tool: options.tool,
        backup: { manifest: backup.name, createdAt: backup.manifest.createdAt },
        restored: { instance, namespaces: backup.manifest.namespaces.map((n) => ({ name: n.name, nsid: n.nsid })), segments: 0, rawBytes: 0 },
        note: 'not restored: its segments were still in shared memory at the next start of the warm-restart unit, and asd went on from them',
      }));
      if (result.written.length > 0) marked.push(row.location);
      for (const f of result.failed) failed.push({ location: row.location, error: f.error });
    } catch (error) {
      failed.push({ location: row.location, error: toShmsnapError(error, 'write', row.location) });
    }
  }
  return { marked, failed };
}
