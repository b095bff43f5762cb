/**
 * Who made a backup: the host name, the installation's machine id (stable
 * across reboots) and the boot id (new at every boot). A restore compares
 * the first two to refuse another host's index; the boot id only tells the
 * operator whether the backup predates the last reboot, which is the normal
 * case and must not be refused.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { HostIdentity } from './format/manifest.js';

async function firstLine(path: string): Promise<string | null> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text.length > 0 ? text : null;
  } catch {
    return null;
  }
}

export async function readHostIdentity(): Promise<HostIdentity> {
  const [machineId, bootId] = await Promise.all([
    firstLine('/etc/machine-id').then((id) => id ?? firstLine('/var/lib/dbus/machine-id')),
    firstLine('/proc/sys/kernel/random/boot_id'),
  ]);
  return { hostname: hostname(), machineId, bootId };
}

/** Why `backup` does not come from `current`, or `undefined` when it is the same host. */
export function foreignHostReason(backup: HostIdentity, current: HostIdentity): string | undefined {
  if (backup.hostname !== current.hostname) {
    return `backup was made on host '${backup.hostname}', this is '${current.hostname}'`;
  }
  if (backup.machineId !== null && current.machineId !== null && backup.machineId !== current.machineId) {
    return `backup was made on another machine named '${backup.hostname}' (machine id ${backup.machineId}, this is ${current.machineId})`;
  }
  return undefined;
}
