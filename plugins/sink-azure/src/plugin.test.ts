// The plugin object, and what loading it costs: nothing but plain objects.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { PLUGIN_API_VERSION } from '@shmsnap/core/plugin-kit';
import plugin from './index.js';
import { VERSION } from './version.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The modules `file` imports at load time (type-only and dynamic imports do not load anything). */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('the plugin', () => {
  it('is a plain object with its name, version and the core API version', () => {
    assert.equal(plugin.name, 'shmsnap-sink-azure');
    assert.equal(plugin.apiVersion, PLUGIN_API_VERSION);
    const manifest = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string>; peerDependencies: Record<string, string> };
    assert.equal(plugin.version, manifest.version);
    assert.equal(VERSION, manifest.version);
    assert.equal(manifest.name, plugin.name);
    assert.deepEqual(Object.keys(manifest.dependencies), ['@azure/storage-blob'], 'the SDK is its only dependency');
    assert.deepEqual(Object.keys(manifest.peerDependencies), ['@shmsnap/core']);
    assert.deepEqual(plugin.sinks?.map((s) => s.schemes), [['azblob']]);
    assert.equal(plugin.codecs, undefined);
  });

  it('loading it does not load the Azure SDK: no module reachable from index.ts imports it at load time', () => {
    const seen = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of staticImports(file)) {
        assert.notEqual(spec, '@azure/storage-blob', `${file} loads the SDK at import time`);
        if (spec.startsWith('.')) walk(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    };
    walk(join(here, 'index.ts'));
    assert.ok(seen.has(join(here, 'provider.ts')) && seen.has(join(here, 'azure-options.ts')), `walked: ${[...seen].join(', ')}`);
    assert.ok(!seen.has(join(here, 'azure-sink.ts')), 'the sink (and the SDK) come in only with the first location');
    // The plugin's own code uses core's plugin-kit only (its tests also use the testkit and core's prepare/run API).
    const sources = ['', 'testing'].flatMap((dir) => readdirSync(join(here, dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(here, dir, f)));
    assert.ok(sources.length >= 10, `sources: ${sources.length}`);
    for (const file of sources) {
      for (const spec of staticImports(file)) if (spec.startsWith('@shmsnap/')) assert.equal(spec, '@shmsnap/core/plugin-kit', `${file} imports ${spec}`);
    }
  });
});
