#!/usr/bin/env node
// npm run dist: the artifact an operator installs on a production host,
//   npm i -g ./shmsnap-<version>.tgz
// with no compiler, no repository and no network.
//
// - dist/packages/*.tgz: every package, packed by pnpm (workspace ranges
//   become real versions), @shmsnap/shm-native with its addon prebuilt for
//   this platform under prebuilds/<platform>-<arch>/;
// - shmsnap-<version>.tgz: one package, `shmsnap`, whose bins are the CLI's,
//   with every dependency bundled (bundleDependencies), zstd-napi's binary
//   included both where it loads it and as the local prebuild its install
//   script looks for, so that npm has nothing to compile or download whether
//   it runs dependency install scripts or not.
//
// Run after the build (`npm run dist` builds first). Works in .dist/, which it
// replaces; touches nothing in packages/ but prebuilds/.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// --out DIR: where the artifacts go (the install test writes into its scratch directory). @default the repository
const outFlag = process.argv.indexOf('--out');
const out = outFlag === -1 ? root : resolve(process.argv[outFlag + 1] ?? '');
const work = join(out, '.dist');
const packed = join(out, 'dist', 'packages');
const pnpm = join(root, '.tools', 'pnpm', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const platform = `${process.platform}-${process.arch}`;
// Dependencies first, the CLI last (the order does not matter to pnpm pack; it reads well).
const PACKAGES = ['core', 'shm-native', 'codec-gzip', 'codec-zstd', 'sink-local', 'sink-s3', 'cli'];

function say(message) {
  process.stderr.write(`dist: ${message}\n`);
}
function run(what, command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
  if (result.status !== 0) {
    process.stderr.write(result.stdout ?? '');
    process.stderr.write(result.stderr ?? '');
    throw new Error(`dist: FAILED at ${what}: exit status ${result.status}${result.error ? ` (${result.error.message})` : ''}`);
  }
  return result.stdout;
}
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

if (!existsSync(pnpm) || !existsSync(join(root, 'packages', 'cli', 'dist', 'bin', 'shmsnap.js'))) {
  throw new Error('dist: build first (npm run dist does: node scripts/bootstrap.mjs)');
}
rmSync(work, { recursive: true, force: true });
rmSync(packed, { recursive: true, force: true });
mkdirSync(packed, { recursive: true });

// 1. The shm addon, prebuilt for this platform, inside the package that loads it.
const addon = join(root, 'packages', 'shm-native', 'build', 'Release', 'shmsnap_shm.node');
const prebuilds = join(root, 'packages', 'shm-native', 'prebuilds');
rmSync(prebuilds, { recursive: true, force: true });
mkdirSync(join(prebuilds, platform), { recursive: true });
copyFileSync(addon, join(prebuilds, platform, 'shmsnap_shm.node'));

// linux-arm64 too, where Debian's cross compiler is installed (apt-get install
// g++-aarch64-linux-gnu): N-API addons link against nothing of Node's, so
// Node's headers and node-gyp --arch=arm64 are all it takes. --no-cross skips it.
const CROSS = { arch: 'arm64', triple: 'aarch64-linux-gnu', elfMachine: 0xb7 };
const crossCompiler = `${CROSS.triple}-g++`;
const cross =
  process.platform === 'linux' && process.arch === 'x64' && !process.argv.includes('--no-cross') && spawnSync('sh', ['-c', `command -v ${crossCompiler}`]).status === 0;
const nodeGyp = createRequire(join(root, 'packages', 'shm-native', 'package.json')).resolve('node-gyp/bin/node-gyp.js');
/** Builds the node-gyp project in `dir` (a scratch copy) for CROSS.arch; returns the built addon, checked to be an aarch64 ELF. */
function crossBuild(dir, addon) {
  const tools = { CC: `${CROSS.triple}-gcc`, CXX: crossCompiler, LINK: crossCompiler, AR: `${CROSS.triple}-ar` };
  const nodedir = [dirname(dirname(process.execPath)), '/usr'].find((d) => existsSync(join(d, 'include', 'node', 'node.h')));
  run(`cross build in ${dir}`, process.execPath, [nodeGyp, 'rebuild', `--arch=${CROSS.arch}`, '--loglevel=warn'], { cwd: dir, env: { ...process.env, ...tools, ...(nodedir ? { npm_config_nodedir: nodedir } : {}) } });
  const built = join(dir, 'build', 'Release', addon);
  const elf = readFileSync(built);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf.readUInt16LE(18) !== CROSS.elfMachine) throw new Error(`dist: ${built} is not a linux-${CROSS.arch} ELF`);
  return built;
}
if (cross) {
  const scratch = join(work, 'cross-shm');
  mkdirSync(scratch, { recursive: true });
  cpSync(join(root, 'packages', 'shm-native', 'binding.gyp'), join(scratch, 'binding.gyp'));
  cpSync(join(root, 'packages', 'shm-native', 'native'), join(scratch, 'native'), { recursive: true });
  symlinkSync(join(root, 'packages', 'shm-native', 'node_modules'), join(scratch, 'node_modules'));
  mkdirSync(join(prebuilds, `linux-${CROSS.arch}`), { recursive: true });
  copyFileSync(crossBuild(scratch, 'shmsnap_shm.node'), join(prebuilds, `linux-${CROSS.arch}`, 'shmsnap_shm.node'));
}
say(`prebuilt the shared-memory addon for ${platform}${cross ? ` and linux-${CROSS.arch}` : ''} (${cross ? 'others' : `linux-${CROSS.arch} (no ${crossCompiler}) and others`} build from source at install)`);

// 2. Every package, packed with real version ranges.
const tarballs = new Map();
for (const name of PACKAGES) {
  const dir = join(root, 'packages', name);
  const manifest = readJson(join(dir, 'package.json'));
  run(`pnpm pack ${manifest.name}`, process.execPath, [pnpm, 'pack', '--pack-destination', packed], { cwd: dir });
  const file = `${manifest.name.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`;
  if (!existsSync(join(packed, file))) throw new Error(`dist: pnpm pack did not write ${file}`);
  tarballs.set(manifest.name, file);
}
say(`packed ${tarballs.size} packages into dist/packages`);

// 3. The operator's package: everything bundled.
const cli = readJson(join(root, 'packages', 'cli', 'package.json'));
const stage = join(work, 'shmsnap');
mkdirSync(stage, { recursive: true });
const dependencies = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${join(packed, file)}`]));
const binOf = (bin) => `node_modules/@shmsnap/cli/${cli.bin[bin].replace(/^\.\//, '')}`;
writeFileSync(
  join(stage, 'package.json'),
  `${JSON.stringify(
    {
      name: 'shmsnap',
      version: cli.version,
      description: cli.description,
      license: cli.license,
      type: 'module',
      bin: Object.fromEntries(Object.keys(cli.bin).map((bin) => [bin, binOf(bin)])),
      // npm links it into <prefix>/share/man/man1 on a global install: `man shmsnap` works.
      man: ['man/shmsnap.1'],
      os: ['linux'],
      engines: cli.engines,
      dependencies,
      bundleDependencies: Object.keys(dependencies),
    },
    null,
    2,
  )}\n`,
);
// The man page, generated from the command definitions of this build (`shmsnap man`).
mkdirSync(join(stage, 'man'), { recursive: true });
writeFileSync(join(stage, 'man', 'shmsnap.1'), run('man page', process.execPath, [join(root, 'packages', 'cli', 'dist', 'bin', 'shmsnap.js'), 'man'], { env: { ...process.env, SHMSNAP_CONFIG: '' } }));
// Scripts are not run here: the addons are put in place below, from this build.
run('npm install (bundle)', 'npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: stage });

// zstd-napi: its binary from this workspace's build (same version), where its
// binding.js loads it, and as the local prebuild `prebuild-install` finds
// before it would try GitHub, then node-gyp.
{
  const requireFromCodec = createRequire(join(root, 'packages', 'codec-zstd', 'package.json'));
  const built = requireFromCodec.resolve('zstd-napi/package.json');
  const builtManifest = readJson(built);
  const bundled = join(stage, 'node_modules', 'zstd-napi');
  const bundledManifest = readJson(join(bundled, 'package.json'));
  if (bundledManifest.version !== builtManifest.version) throw new Error(`dist: the bundle has zstd-napi ${bundledManifest.version}, the build ${builtManifest.version}`);
  const binary = join(dirname(built), 'build', 'Release', 'binding.node');
  if (!existsSync(binary)) throw new Error(`dist: zstd-napi is not built in the workspace (${binary})`);
  mkdirSync(join(bundled, 'build', 'Release'), { recursive: true });
  copyFileSync(binary, join(bundled, 'build', 'Release', 'binding.node'));
  const napi = Math.max(...(bundledManifest.binary?.napi_versions ?? [8]).filter((v) => v <= Number(process.versions.napi)));
  mkdirSync(join(bundled, 'prebuilds'), { recursive: true });
  const prebuild = `zstd-napi-v${bundledManifest.version}-napi-v${napi}-${process.platform}-${process.arch}.tar.gz`;
  run('zstd-napi prebuild', 'tar', ['-czf', join(bundled, 'prebuilds', prebuild), '-C', bundled, 'build/Release/binding.node']);
  if (cross) {
    // Its install script (prebuild-install) unpacks this on an arm64 host, offline; an npm that runs no
    // install scripts leaves the x64 binary, and zstd alone is then ADDON_MISSING there.
    const scratch = join(work, 'cross-zstd');
    const skip = ['build', 'node_modules', 'prebuilds'].map((d) => join(dirname(built), d));
    cpSync(dirname(built), scratch, { recursive: true, filter: (path) => !skip.some((d) => path === d || path.startsWith(`${d}/`)) });
    mkdirSync(join(scratch, 'node_modules'), { recursive: true });
    symlinkSync(dirname(createRequire(built).resolve('node-addon-api/package.json')), join(scratch, 'node_modules', 'node-addon-api'));
    crossBuild(scratch, 'binding.node');
    const armPrebuild = `zstd-napi-v${bundledManifest.version}-napi-v${napi}-linux-${CROSS.arch}.tar.gz`;
    run('zstd-napi cross prebuild', 'tar', ['-czf', join(bundled, 'prebuilds', armPrebuild), '-C', scratch, 'build/Release/binding.node']);
  }
}

// Both addons load from the bundle, as they will once installed.
run('load check', process.execPath, [
  '--input-type=module',
  '-e',
  "const { loadShmBinding } = await import('@shmsnap/shm-native'); loadShmBinding(); const { createRequire } = await import('node:module'); createRequire(process.cwd() + '/node_modules/@shmsnap/codec-zstd/package.json')('zstd-napi/binding');",
], { cwd: stage });

const file = run('npm pack', 'npm', ['pack', '--pack-destination', out, '--loglevel=error'], { cwd: stage }).trim().split('\n').pop();
const artifact = join(out, file);
say(`wrote ${artifact} (${(readFileSync(artifact).length / 1e6).toFixed(1)} MB): npm i -g ./${file}`);
process.stdout.write(`${artifact}\n`);
rmSync(work, { recursive: true, force: true });
