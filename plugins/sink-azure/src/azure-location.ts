/**
 * `azblob://account/container/prefix` locations: a storage account, a
 * container in it, and a blob-name prefix (object `name` is blob
 * `prefix/name`).
 *
 * Secrets never travel in a location: a SAS query (`?sv=…&sig=…`) or
 * userinfo is refused, since locations are printed in plans, logs and
 * `--json` output and stay in shell history. `redactAzureLocation` strips
 * both all the same, erring on the side of removing too much, so a location
 * pasted with a SAS is safe to show even in the refusal.
 */
import { errConfigInvalid, redactUrlLocation } from '@shmsnap/core/plugin-kit';

export interface AzureLocation {
  /** The storage account: 3–24 lower-case letters and digits. */
  readonly account: string;
  readonly container: string;
  /** Blob-name prefix without leading or trailing slashes; '' for the container's root. */
  readonly prefix: string;
}

export const AZURE_SCHEME = 'azblob';

// Azure's rules (Naming and Referencing Containers, Blobs, and Metadata).
const ACCOUNT_PATTERN = /^[a-z0-9]{3,24}$/;
const CONTAINER_PATTERN = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const SCHEME = /^azblob:\/\//i;

/** `location` without userinfo, query string or fragment: safe to print. */
export const redactAzureLocation = redactUrlLocation;

export function parseAzureLocation(location: string): AzureLocation {
  const shown = `location ${redactAzureLocation(location)}`;
  if (!SCHEME.test(location)) throw errConfigInvalid(shown, "an Azure Blob location starts with 'azblob://' (azblob://account/container/prefix)");
  const rest = location.slice('azblob://'.length);
  if (/[?#@]/.test(rest)) {
    throw errConfigInvalid(shown, 'credentials do not belong in the location: give sasToken, accountKey or connectionString (or their AZURE_STORAGE_* variables)');
  }
  const [account = '', container = '', ...segments] = rest.split('/');
  if (!ACCOUNT_PATTERN.test(account)) throw errConfigInvalid(shown, `'${account}' is not a storage account name (3 to 24 lower-case letters and digits)`);
  if (container === '') throw errConfigInvalid(shown, 'the location names no container (azblob://account/container/prefix)');
  if (!CONTAINER_PATTERN.test(container)) {
    throw errConfigInvalid(shown, `'${container}' is not a container name (3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit)`);
  }
  const kept = segments.filter((s) => s !== '');
  for (const segment of kept) {
    if (segment === '.' || segment === '..') throw errConfigInvalid(shown, "the prefix may not contain '.' or '..' segments");
    if (/[\u0000-\u001f\u007f\\]/.test(segment)) throw errConfigInvalid(shown, 'the prefix may not contain control characters or backslashes');
  }
  const prefix = kept.join('/');
  // A blob name is at most 1,024 characters; leave room for the object names below the prefix.
  if (prefix.length > 700) throw errConfigInvalid(shown, `the prefix is ${prefix.length} characters; at most 700 leave room for object names (blob names end at 1,024)`);
  return { account, container, prefix };
}

/** The printable, normalised form: `azblob://account/container[/prefix]`. */
export function formatAzureLocation(location: AzureLocation): string {
  const base = `azblob://${location.account}/${location.container}`;
  return location.prefix === '' ? base : `${base}/${location.prefix}`;
}

/** The blob name of object `name` (or of a name prefix) below the location. */
export function blobNameOf(location: AzureLocation, name: string): string {
  return location.prefix === '' ? name : `${location.prefix}/${name}`;
}
