/**
 * What must hold on this host before shmsnap touches an instance's segments,
 * in one object the frontends create and core's prepare calls use:
 * the host lock (`instance-lock.ts`), no asd alive for the instance
 * (`asd-process.ts`), and what aerospike.conf says about the index
 * checkpoint (`aerospike-conf.ts`, warnings only).
 *
 * `acquire(instance)` is idempotent per instance (a frontend that backs up
 * several namespaces of one instance takes the lock once); `release()` drops
 * every lock taken. A dry run acquires too, and releases at once: it then
 * refuses exactly when the real run would.
 */
import { errAsdRunning } from '../errors.js';
import { readCheckpointedNamespaces, DEFAULT_AEROSPIKE_CONF } from './aerospike-conf.js';
import { findRunningAsd, DEFAULT_ASD_PID_FILE } from './asd-process.js';
import { acquireInstanceLock, type HeldInstanceLock, type TryLockFile } from './instance-lock.js';

export interface InstanceGuardOptions {
  /** flock for the host lock (`loadFileLock()` of @shmsnap/shm-native). */
  readonly tryLock: TryLockFile;
  /** @default DEFAULT_LOCK_DIR */
  readonly lockDir?: string;
  /** Aerospike's pid file. @default DEFAULT_ASD_PID_FILE */
  readonly asdPidFile?: string;
  /** Run even while an asd is alive for the instance. Not part of `force`. @default false */
  readonly allowRunningAsd?: boolean;
  /** @default DEFAULT_AEROSPIKE_CONF */
  readonly aerospikeConf?: string;
  /** For tests: another /proc. */
  readonly procRoot?: string;
  readonly isAlive?: (pid: number) => boolean;
}

export interface InstanceGuard {
  /** Takes the host lock of `instance` and refuses while an asd is alive for it (ASD_RUNNING, unless `allowRunningAsd`). */
  acquire(instance: number): Promise<void>;
  /** Warnings for the namespaces Aerospike checkpoints itself, per aerospike.conf. */
  checkpointWarnings(namespaces: readonly string[]): string[];
  /** What the operator should know: a lock outside the default directory, an asd let run by `allowRunningAsd`. */
  readonly notes: readonly string[];
  release(): void;
}

export function createInstanceGuard(options: InstanceGuardOptions): InstanceGuard {
  const held = new Map<number, HeldInstanceLock>();
  const notes: string[] = [];
  const procRoot = options.procRoot === undefined ? {} : { procRoot: options.procRoot };
  return {
    notes,
    async acquire(instance) {
      if (held.has(instance)) return;
      const lock = acquireInstanceLock(instance, { tryLock: options.tryLock, ...procRoot, ...(options.lockDir === undefined ? {} : { lockDir: options.lockDir }) });
      held.set(instance, lock);
      if (lock.note) notes.push(lock.note);
      const running = findRunningAsd(instance, { ...procRoot, pidFile: options.asdPidFile ?? DEFAULT_ASD_PID_FILE, ...(options.isAlive ? { isAlive: options.isAlive } : {}) });
      if (running.length === 0) return;
      const error = errAsdRunning(instance, running, options.asdPidFile ?? DEFAULT_ASD_PID_FILE);
      if (options.allowRunningAsd !== true) {
        lock.release();
        held.delete(instance);
        throw error;
      }
      notes.push(`allowRunningAsd: going on anyway: ${error.message}`);
    },
    checkpointWarnings(namespaces) {
      const path = options.aerospikeConf ?? DEFAULT_AEROSPIKE_CONF;
      const { namespaces: found, note } = readCheckpointedNamespaces(path);
      const warnings = note === undefined ? [] : [note];
      for (const ns of found) {
        if (!namespaces.includes(ns.namespace)) continue;
        warnings.push(
          `namespace '${ns.namespace}': ${path} sets index-checkpoint-path ${ns.path}, so Aerospike saves this namespace's index itself (the 8.2 index checkpoint) and may hydrate it from a checkpoint there at the next start (deleting it then): make sure the start uses the copy you mean`,
        );
      }
      return warnings;
    },
    release() {
      for (const lock of held.values()) lock.release();
      held.clear();
    },
  };
}
