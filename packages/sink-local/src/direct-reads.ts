/**
 * Positional reads of a local file for `openRandomReader` (raw restores
 * straight into the segment, core's direct-copy.ts): whole 4 KiB blocks
 * through a second descriptor opened with O_DIRECT, the rest through the
 * ordinary one.
 *
 * Why: a restore after a reboot reads every byte once, from a cold cache.
 * Through the page cache the kernel first fills cache pages and then copies
 * them into the segment; with O_DIRECT the device writes into the segment's
 * pages and the cache is neither filled nor copied from. Measured on the
 * 2 GiB index (8 × 256 MiB stages, 2 vCPUs, ext4 on virtio, cold cache,
 * 5 restores each, alternating, 2026-12-03): 1,118 MB/s at 2.4 CPU-s against
 * 690 MB/s at 4.9 CPU-s buffered.
 *
 * O_DIRECT wants the file offset, the length and the memory aligned to the
 * device's logical block; offsets and lengths are kept to multiples of
 * 4 KiB here, and the memory is the caller's (a segment's window is
 * page-aligned; a Buffer usually is not). Whatever the kernel refuses
 * (EINVAL: a file system without O_DIRECT, memory not aligned) is read
 * through the page cache instead, and this reader stops trying: the bytes
 * are the same either way, only the speed differs. A warm cache is where
 * O_DIRECT loses (it reads the device again); a warm start's restore runs
 * after a reboot, when the cache is empty.
 */
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** The alignment kept for direct reads: a page, a multiple of any logical block size in use. */
const BLOCK = 4096;

export interface PositionalReads {
  /** Reads into all of `target` from `position` until it is full or the file ends; the bytes read. */
  read(target: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
  /** Whether reads still go through O_DIRECT (false once the kernel refused it, or when never asked). */
  readonly direct: boolean;
}

/**
 * Reads of `handle` (open for reading), with a second descriptor of `path`
 * opened O_DIRECT when `direct`; that open failing leaves ordinary reads.
 */
export async function openPositionalReads(handle: FileHandle, path: string, direct: boolean): Promise<PositionalReads> {
  let bypass: FileHandle | undefined;
  if (direct && fsConstants.O_DIRECT !== undefined) {
    bypass = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_DIRECT).catch(() => undefined);
  }
  let closed: Promise<void> | undefined;
  const stopBypass = (): void => {
    const was = bypass;
    bypass = undefined;
    void was?.close().catch(() => undefined);
  };
  return {
    get direct() {
      return bypass !== undefined;
    },
    async read(target, position) {
      let done = 0;
      while (done < target.length) {
        const at = position + done;
        const left = target.length - done;
        const blocks = bypass && at % BLOCK === 0 ? left - (left % BLOCK) : 0;
        let bytesRead: number;
        if (blocks > 0) {
          try {
            ({ bytesRead } = await bypass!.read(target, done, blocks, at));
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
            // Refused (alignment, file system): the page cache from here on.
            stopBypass();
            continue;
          }
        } else {
          ({ bytesRead } = await handle.read(target, done, left, at));
        }
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    },
    close: () => (closed ??= Promise.all([handle.close(), bypass?.close()]).then(() => undefined)),
  };
}
