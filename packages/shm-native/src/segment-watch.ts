/**
 * Watching a segment for anything another process does to it while a
 * backup reads it: the check that makes "a torn segment is never committed"
 * true.
 *
 * What Linux records, and so what this can see (ipc/shm.c):
 * - Every attach — shmat(), and also fork() or a VMA split of a process
 *   that has it mapped (`__shm_open`) — sets `shm_atime` to now (seconds),
 *   `shm_lpid` to the attaching process and raises `shm_nattch`.
 * - Every detach (`shm_close`: shmdt(), munmap, exit) sets `shm_dtime` and
 *   `shm_lpid` and lowers `shm_nattch`.
 * - `shm_ctime` changes only with IPC_SET (owner, mode) — not on attach.
 *   IPC_RMID of a segment still mapped sets SHM_DEST and the key to 0.
 * - Nothing records writes: memory is written through a mapping, so any
 *   writer must attach first (or have been attached before the listing,
 *   which nattch refuses). The kernel does not record whether an attach was
 *   read-only either, so every foreign attach counts as a change: another
 *   backup or an `inspect` reading the headers fails the backup too.
 *
 * So the watch keeps the last stat it accepted, how many attachments of our
 * own are live, and which operations (attach, detach) we made since, and
 * accepts a new stat only when it is what our own operations explain:
 * `nattch` equals our live attachments; `lpid` is unchanged, or is this
 * process once we attached or detached; `atime` moves only if we attached,
 * `dtime` only if we detached; `ctime`, owner, mode, size and key never
 * move. The first difference is kept as the segment's change (sticky) and
 * reported by `check()`, later, by the backup.
 *
 * Our own operations are bracketed: a stat right before and right after
 * every attach and detach, so a foreign attach that happened while we held
 * the segment is seen before our detach overwrites `lpid`. What remains
 * unseen: a foreign attach and detach both inside the microseconds between
 * one of those stats and our own syscall, within the same second as the
 * times already recorded (the times have one-second resolution and the
 * kernel offers no "attach if unchanged"). A process in a PID namespace we
 * cannot see shows as `lpid` 0, which is never our pid. A child this
 * process forked while holding an attachment would inherit the mapping and
 * count as another process (a backup forks none).
 *
 * A detach runs on the thread pool (`binding.ts`): while one is in flight
 * nattch and lpid may or may not show it, so nothing is compared then; the
 * comparison waits for it to settle (`check()` awaits it).
 */
import type { NativeAttachment, ShmBinding, ShmStat } from './binding.js';
import { attachShm, PERMISSION_BITS, SHM_DEST } from './shm.js';

export interface SegmentWatch {
  readonly key: number;
  readonly shmid: number;
  /** The first change seen, in words (`attached by another process (pid 123, shm_lpid)`); undefined while none. */
  readonly change: string | undefined;
  /**
   * Attaches read-only (SHM_FAILED when shmat fails), with a
   * stat just before and just after; the returned attachment's `detach()`
   * is bracketed the same way. A change seen is recorded, never thrown.
   */
  attach(): NativeAttachment;
  /** Waits for our detaches in flight, stats the segment once more; resolves to the change, if any (ever). */
  check(): Promise<string | undefined>;
}

function describeProcess(pid: number): string {
  return pid === 0 ? 'a process outside this PID namespace (shm_lpid 0)' : `pid ${pid}, shm_lpid`;
}

/** What differs between `last` and `now` that our own operations since do not explain. */
function unexplained(last: ShmStat, now: ShmStat, ours: number, attached: boolean, detached: boolean, pid: number): string | undefined {
  if (now.key !== last.key || (now.mode & SHM_DEST) !== 0) return 'it was removed (IPC_RMID)';
  if (now.size !== last.size) return `its size changed (${last.size} → ${now.size} bytes)`;
  if (now.ctime !== last.ctime || now.uid !== last.uid || now.gid !== last.gid || (now.mode & PERMISSION_BITS) !== (last.mode & PERMISSION_BITS)) {
    return `its owner or mode was changed (IPC_SET: shm_ctime ${last.ctime} → ${now.ctime}, owner ${last.uid}:${last.gid} → ${now.uid}:${now.gid}, mode 0${(last.mode & PERMISSION_BITS).toString(8)} → 0${(now.mode & PERMISSION_BITS).toString(8)})`;
  }
  if (now.nattch > ours) return `attached by ${now.nattch - ours} other process(es) (shm_nattch ${now.nattch}, ${ours} of them ours; last attach or detach by ${describeProcess(now.lpid)})`;
  if (now.nattch < ours) return `detached by another process (shm_nattch ${now.nattch}, ${ours} attachments are ours)`;
  const ownOperation = attached || detached;
  if (ownOperation ? now.lpid !== pid : now.lpid !== last.lpid) return `attached or detached by another process (${describeProcess(now.lpid)})`;
  if (!attached && now.atime !== last.atime) return `attached by another process (shm_atime ${last.atime} → ${now.atime})`;
  if (!detached && now.dtime !== last.dtime) return `detached by another process (shm_dtime ${last.dtime} → ${now.dtime})`;
  return undefined;
}

/**
 * Starts watching the segment `initial` describes (a stat taken before
 * anything of ours touched it: the listing's). `pid` is this process as the
 * kernel names it in `shm_lpid`.
 */
export function watchSegment(initial: ShmStat, binding: ShmBinding, pid: number = process.pid): SegmentWatch {
  const { key, shmid } = initial;
  let last = initial;
  let ours = 0;
  let attachedSince = false;
  let detachedSince = false;
  let change: string | undefined;
  const inFlight = new Set<Promise<void>>();

  function observe(): void {
    if (change !== undefined || inFlight.size > 0) return;
    let now: ShmStat;
    try {
      now = binding.ipcStat(shmid);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      change = `it was removed (shmctl(IPC_STAT): ${typeof code === 'string' ? code : String(error)})`;
      return;
    }
    change = unexplained(last, now, ours, attachedSince, detachedSince, pid);
    last = now;
    attachedSince = false;
    detachedSince = false;
  }

  function track(attachment: NativeAttachment): NativeAttachment {
    let detaching: Promise<void> | undefined;
    return {
      get size() {
        return attachment.size;
      },
      get readOnly() {
        return attachment.readOnly;
      },
      get attached() {
        return attachment.attached;
      },
      view: (offset, length) => attachment.view(offset, length),
      populate: (offset, length) => attachment.populate(offset, length),
      detach() {
        if (detaching) return detaching;
        observe(); // before our detach sets lpid and dtime: a foreign attach while we held it shows now
        const settled: Promise<void> = attachment
          .detach()
          .then(() => {
            ours -= 1;
            detachedSince = true;
          })
          .finally(() => {
            inFlight.delete(settled);
            observe();
          });
        inFlight.add(settled);
        detaching = settled;
        return settled;
      },
    };
  }

  return {
    key,
    shmid,
    get change() {
      return change;
    },
    attach() {
      observe();
      const attachment = attachShm(shmid, key, true, binding);
      ours += 1;
      attachedSince = true;
      observe();
      return track(attachment);
    },
    async check() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      observe();
      return change;
    },
  };
}
