// Finding and loading plugins (plugins.ts) on a real file system in a temp directory: the order names are taken
// in, how a name resolves (path, package directory and its exports, pluginPaths, NODE_PATH, the global prefix), and
// that every way a plugin can fail is one PLUGIN_INVALID line. Also: a plugin with its own copy of @shmsnap/core
// (installed elsewhere) is accepted, and its errors are recognised and mapped to exit statuses.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { isShmsnapError, PLUGIN_API_VERSION } from '@shmsnap/core';
import type { ConfigFile } from './config.js';
import { BUILTIN_PLUGINS } from './default-registry.js';
import { EXIT_USAGE } from './exit-codes.js';
import { globalRoots, importPlugin, loadPlugins, packageEntry, pluginFlags, pluginRequests, resolvePlugin, type PluginSearch } from './plugins.js';
import { Output } from './render/output.js';

const root = mkdtempSync(join(tmpdir(), 'shmsnap-plugins-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));

const CORE_DIST = fileURLToPath(new URL('../../core/dist/', import.meta.url));
const CORE_PACKAGE = fileURLToPath(new URL('../../core/package.json', import.meta.url));

function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A plugin module's source; `apiVersion` as given. */
const pluginSource = (name: string, apiVersion: number | string = PLUGIN_API_VERSION, scheme = name.replace(/[^a-z]/g, '')) =>
  `export default { name: ${JSON.stringify(name)}, version: '0.0.1', apiVersion: ${apiVersion}, sinks: [{ schemes: [${JSON.stringify(scheme)}], create() { return { name: ${JSON.stringify(scheme)} }; } }] };\n`;

const noFile: ConfigFile = { path: null, fromEnv: true, present: false, values: {} };
const search = (extra: Partial<PluginSearch> = {}): PluginSearch => ({ pluginPaths: [], env: {}, execPath: join(root, 'nowhere', 'bin', 'node'), ...extra });

describe('plugin names', () => {
  it('takes --plugin x and --plugin=x anywhere before --, then SHMSNAP_PLUGINS, then the file; each once', () => {
    assert.deepEqual(pluginFlags(['ls', '/x', '--plugin', 'a', '--plugin=./b', '--', '--plugin', 'c']), ['a', './b']);
    const file: ConfigFile = { path: '/etc/shmsnap/config.json', fromEnv: false, present: true, values: {} };
    const requests = pluginRequests(['--plugin', 'a', 'ls'], { SHMSNAP_PLUGINS: ' b, ,a,./c ' }, file, ['d', './c', '/cwd/c'], '/cwd');
    assert.deepEqual(
      requests.map((r) => [r.name, r.source, r.base]),
      [
        ['a', 'flag', '/cwd'],
        ['b', 'env', '/cwd'],
        ['./c', 'env', '/cwd'],
        ['d', 'file', '/etc/shmsnap'],
        ['./c', 'file', '/etc/shmsnap'],
      ],
      "a path in the file is relative to the file; '/cwd/c' is './c' from the environment",
    );
  });
});

describe('resolving a plugin', () => {
  it('a path: a file as it is, a directory as a package (exports by condition, else main, else index.js)', () => {
    const file = write(join(root, 'p1', 'sink.mjs'), pluginSource('p-one'));
    assert.deepEqual(resolvePlugin({ name: file, source: 'flag', base: '/' }, search()), { file });
    assert.deepEqual(resolvePlugin({ name: './p1/sink.mjs', source: 'flag', base: root }, search()), { file });
    write(join(root, 'p2', 'package.json'), JSON.stringify({ name: 'p2', exports: { '.': { types: './x.d.ts', import: './dist/index.js' } } }));
    assert.equal(packageEntry(join(root, 'p2')), join(root, 'p2', 'dist', 'index.js'));
    write(join(root, 'p3', 'package.json'), JSON.stringify({ name: 'p3', exports: './main.js' }));
    assert.equal(packageEntry(join(root, 'p3')), join(root, 'p3', 'main.js'));
    write(join(root, 'p4', 'package.json'), JSON.stringify({ name: 'p4', main: 'lib/m.js' }));
    assert.equal(packageEntry(join(root, 'p4')), join(root, 'p4', 'lib', 'm.js'));
    write(join(root, 'p5', 'package.json'), JSON.stringify({ name: 'p5', exports: { './sub': './sub.js' } }));
    assert.throws(() => packageEntry(join(root, 'p5')), /exports no "\." entry/);
    assert.deepEqual(resolvePlugin({ name: './missing', source: 'flag', base: root }, search()), { lookedIn: [join(root, 'missing')] });
  });

  it('a package name: each pluginPaths dir (as node_modules, or holding one), NODE_PATH, then the global prefix', () => {
    const paths = join(root, 'paths');
    write(join(paths, 'a', 'node_modules', 'shmsnap-sink-x', 'package.json'), JSON.stringify({ name: 'shmsnap-sink-x', exports: './i.js' }));
    write(join(paths, 'b', 'shmsnap-sink-y', 'package.json'), JSON.stringify({ name: 'shmsnap-sink-y' }));
    write(join(paths, 'np', 'shmsnap-sink-z', 'package.json'), JSON.stringify({ name: 'shmsnap-sink-z' }));
    write(join(paths, 'prefix', 'lib', 'node_modules', '@acme', 'shmsnap-sink-w', 'package.json'), JSON.stringify({ name: '@acme/shmsnap-sink-w' }));
    const where = search({ pluginPaths: [join(paths, 'a'), join(paths, 'b')], env: { NODE_PATH: join(paths, 'np') }, execPath: join(paths, 'prefix', 'bin', 'node') });
    const found = (name: string) => resolvePlugin({ name, source: 'env', base: '/' }, where);
    assert.deepEqual(found('shmsnap-sink-x'), { file: join(paths, 'a', 'node_modules', 'shmsnap-sink-x', 'i.js') });
    assert.deepEqual(found('shmsnap-sink-y'), { file: join(paths, 'b', 'shmsnap-sink-y', 'index.js') });
    assert.deepEqual(found('shmsnap-sink-z'), { file: join(paths, 'np', 'shmsnap-sink-z', 'index.js') });
    assert.deepEqual(found('@acme/shmsnap-sink-w'), { file: join(paths, 'prefix', 'lib', 'node_modules', '@acme', 'shmsnap-sink-w', 'index.js') });
    assert.deepEqual(found('shmsnap-sink-none'), {
      lookedIn: [join(paths, 'a', 'node_modules'), join(paths, 'a'), join(paths, 'b', 'node_modules'), join(paths, 'b'), join(paths, 'np'), join(paths, 'prefix', 'lib', 'node_modules')],
    });
    assert.deepEqual(globalRoots({ npm_config_prefix: '/opt/npm' }, '/usr/bin/node'), ['/opt/npm/lib/node_modules'], "npm's own prefix setting wins over Node's");
    assert.deepEqual(globalRoots({}, '/usr/local/bin/node'), ['/usr/local/lib/node_modules']);
  });
});

describe('loading a plugin', () => {
  async function failure(name: string, where = search()): Promise<string> {
    try {
      await importPlugin({ name, source: 'env', base: root }, where);
    } catch (error) {
      assert.ok(isShmsnapError(error, 'PLUGIN_INVALID'), String(error));
      assert.doesNotMatch(error.message, /\n/, 'one line');
      return error.message;
    }
    assert.fail(`${name} loaded`);
  }

  it('loads a default export, or a `plugin` export', async () => {
    write(join(root, 'l1.mjs'), pluginSource('l-one'));
    write(join(root, 'l2.mjs'), `export const plugin = ${pluginSource('l-two').replace(/^export default /, '')}`);
    assert.equal((await importPlugin({ name: './l1.mjs', source: 'flag', base: root }, search())).plugin.name, 'l-one');
    assert.equal((await importPlugin({ name: './l2.mjs', source: 'flag', base: root }, search())).plugin.name, 'l-two');
  });

  it('not found, throwing on import, not a plugin, wrong API version: one PLUGIN_INVALID line each', async () => {
    assert.equal(await failure('shmsnap-sink-nope'), `plugin shmsnap-sink-nope: not found (looked in ${join(root, 'nowhere', 'lib', 'node_modules')})`);
    write(join(root, 'throws.mjs'), "throw new TypeError('cannot start: no config\\n    at somewhere');\n");
    assert.equal(await failure('./throws.mjs'), `plugin ./throws.mjs: importing ${join(root, 'throws.mjs')} failed: TypeError: cannot start: no config`);
    write(join(root, 'syntax.mjs'), 'export default {;\n');
    assert.match(await failure('./syntax.mjs'), /^plugin \.\/syntax\.mjs: importing .* failed: SyntaxError: /);
    write(join(root, 'none.mjs'), 'export const x = 1;\n');
    assert.match(await failure('./none.mjs'), /its default export is not a plugin object/);
    write(join(root, 'old.mjs'), pluginSource('shmsnap-sink-old', 0));
    assert.equal(await failure('./old.mjs'), `plugin ./old.mjs: shmsnap-sink-old 0.0.1 is built for plugin API version 0; this shmsnap speaks version ${PLUGIN_API_VERSION}`);
  });

  it('registers the built-in plugins first; a plugin named by --plugin that fails is fatal, by the environment or file a warning', async () => {
    write(join(root, 'ok.mjs'), pluginSource('shmsnap-sink-okay'));
    write(join(root, 'dup.mjs'), pluginSource('shmsnap-sink-dup', PLUGIN_API_VERSION, 's3'));
    const loaded = await loadPlugins(
      [
        { name: './ok.mjs', source: 'env', base: root },
        { name: './dup.mjs', source: 'file', base: root },
        { name: './gone.mjs', source: 'flag', base: root },
      ],
      search(),
    );
    assert.deepEqual(loaded.registry.plugins().loaded.map((p) => p.plugin.name), [...BUILTIN_PLUGINS.map((p) => p.name), 'shmsnap-sink-okay']);
    assert.deepEqual(loaded.warnings.map((e) => [e.code, e.message]), [['REGISTRY_DUPLICATE', "a sink scheme named 's3' is already registered: plugins @shmsnap/sink-s3 and shmsnap-sink-dup both provide it"]]);
    assert.deepEqual(loaded.fatal.map((e) => e.code), ['PLUGIN_INVALID']);
    assert.deepEqual(loaded.registry.plugins().failed.map((f) => f.requested), ['./dup.mjs', './gone.mjs']);
  });
});

describe('a plugin with its own copy of @shmsnap/core', () => {
  it('is accepted, and its errors are recognised as shmsnap errors and mapped to exit statuses', async () => {
    // Installed elsewhere: its node_modules holds a second copy of core's build, which this process has not loaded.
    const elsewhere = join(root, 'elsewhere');
    cpSync(CORE_DIST, join(elsewhere, 'node_modules', '@shmsnap', 'core', 'dist'), { recursive: true });
    write(join(elsewhere, 'node_modules', '@shmsnap', 'core', 'package.json'), readFileSync(CORE_PACKAGE, 'utf8'));
    write(
      join(elsewhere, 'node_modules', 'shmsnap-sink-own', 'package.json'),
      JSON.stringify({ name: 'shmsnap-sink-own', type: 'module', exports: './index.js', peerDependencies: { '@shmsnap/core': '*' } }),
    );
    write(
      join(elsewhere, 'node_modules', 'shmsnap-sink-own', 'index.js'),
      [
        "import { definePlugin, errConfigInvalid, PLUGIN_API_VERSION } from '@shmsnap/core/plugin-kit';",
        'export const made = () => errConfigInvalid("tier", "must be hot or cool");',
        "export default definePlugin({ name: 'shmsnap-sink-own', version: '3.0.0', apiVersion: PLUGIN_API_VERSION, sinks: [{ schemes: ['own'], create() { throw made(); } }] });",
      ].join('\n'),
    );
    const { plugin, file } = await importPlugin({ name: 'shmsnap-sink-own', source: 'file', base: '/' }, search({ pluginPaths: [elsewhere] }));
    const theirs = (await import(pathToFileURL(file).href)) as { made: () => Error };
    const error = theirs.made();
    const ours = await import('@shmsnap/core');
    assert.ok(!(error instanceof ours.ShmsnapError), 'made by the other copy: instanceof cannot tell');
    assert.ok(isShmsnapError(error, 'CONFIG_INVALID'), 'the brand (Symbol.for) does');
    const lines: string[] = [];
    const streams = { stdout: { write: () => true }, stderr: { write: (text: string) => lines.push(text) > 0 } } as unknown as ConstructorParameters<typeof Output>[1];
    assert.equal(new Output(false, streams).error(error), EXIT_USAGE);
    assert.deepEqual(lines, ['shmsnap: CONFIG_INVALID: tier: must be hot or cool\n']);
    const loaded = await loadPlugins([{ name: 'shmsnap-sink-own', source: 'file', base: '/' }], search({ pluginPaths: [elsewhere] }));
    assert.equal(loaded.registry.plugins().loaded.at(-1)?.plugin, plugin);
    await assert.rejects(loaded.registry.openSink('own://x'), (e) => isShmsnapError(e, 'CONFIG_INVALID'));
  });
});

describe('built-in plugins', () => {
  it("carry their package's name and version", () => {
    for (const plugin of BUILTIN_PLUGINS) {
      const dir = plugin.name.replace('@shmsnap/', '');
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(`../../${dir}/package.json`, import.meta.url)), 'utf8')) as { name: string; version: string };
      assert.deepEqual([plugin.name, plugin.version, plugin.apiVersion], [pkg.name, pkg.version, PLUGIN_API_VERSION]);
    }
  });
});
