/**
 * What a location holds, as far as shmsnap is concerned: a complete backup
 * (a manifest), an interrupted one (the pending marker without a manifest),
 * or neither (empty, or files some other tool wrote, such as ASMT).
 */
import { MANIFEST_MAX_BYTES, MANIFEST_NAME, PENDING_NAME, parseManifest, type Manifest } from './manifest.js';
import { readObject } from './sink-io.js';
import type { ObjectInfo, Sink } from './sink.js';
import { withPluginContext } from './errors.js';

export type LocationState =
  | { readonly kind: 'complete'; readonly manifest: Manifest; readonly objects: readonly ObjectInfo[] }
  | { readonly kind: 'interrupted'; readonly objects: readonly ObjectInfo[] }
  | { readonly kind: 'other'; readonly objects: readonly ObjectInfo[] };

export async function readLocation(sink: Sink, signal?: AbortSignal): Promise<LocationState> {
  let objects: readonly ObjectInfo[];
  try {
    objects = await sink.list('', signal ? { signal } : {});
  } catch (error) {
    throw withPluginContext(error, sink.name, 'list');
  }
  if (objects.some((o) => o.name === MANIFEST_NAME)) {
    const bytes = await readObject(sink, MANIFEST_NAME, MANIFEST_MAX_BYTES, signal);
    if (bytes) {
      return { kind: 'complete', manifest: parseManifest(bytes, { where: `${sink.location}/${MANIFEST_NAME}` }), objects };
    }
  }
  if (objects.some((o) => o.name === PENDING_NAME)) return { kind: 'interrupted', objects };
  return { kind: 'other', objects };
}
