/** User and group names for display, from /etc/passwd and /etc/group (numbers when unknown, as ASMT). */
import { readFileSync } from 'node:fs';

function readNames(path: string): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id && /^\d+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
    }
  } catch {
    // No file: numbers it is.
  }
  return names;
}

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

export function userName(uid: number): string {
  users ??= readNames('/etc/passwd');
  return users.get(uid) ?? String(uid);
}

export function groupName(gid: number): string {
  groups ??= readNames('/etc/group');
  return groups.get(gid) ?? String(gid);
}
