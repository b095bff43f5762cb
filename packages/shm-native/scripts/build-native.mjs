#!/usr/bin/env node
// Builds the addon from source with node-gyp, against the headers of the Node
// that runs this script (nothing is downloaded). Skips the build when the
// addon is newer than its sources. Fails loudly: a missing addon would only
// show up later, at the first backup.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const addon = join(root, 'build', 'Release', 'shmsnap_shm.node');
const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((n) => join(root, 'native', n))];

const upToDate = existsSync(addon) && sources.every((s) => statSync(s).mtimeMs <= statSync(addon).mtimeMs);
if (upToDate && process.env.SHMSNAP_REBUILD_NATIVE !== '1') process.exit(0);

// An installed package (npm run dist) carries the addon prebuilt for its
// platform: when it loads here, there is nothing to compile, and a host
// without a compiler installs. Only a missing or broken prebuild builds.
const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'shmsnap_shm.node');
if (existsSync(prebuilt) && !existsSync(addon) && process.env.SHMSNAP_REBUILD_NATIVE !== '1') {
  try {
    createRequire(import.meta.url)(prebuilt);
    process.exit(0);
  } catch (error) {
    process.stderr.write(`@shmsnap/shm-native: the prebuilt addon for ${process.platform}-${process.arch} does not load here (${String(error?.message ?? error).split('\n')[0]}); building from source\n`);
  }
}

const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const nodedir = [dirname(dirname(process.execPath)), '/usr'].find((d) => existsSync(join(d, 'include', 'node', 'node.h')));
  if (nodedir) env.npm_config_nodedir = nodedir;
}
const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', '--loglevel=warn'], { cwd: root, env, stdio: 'inherit' });
if (result.status !== 0 || !existsSync(addon)) {
  process.stderr.write(
    `@shmsnap/shm-native: FAILED to build the shared-memory addon (node-gyp exit ${result.status}).\n` +
      '  It needs python3, make and g++, and the Node headers (include/node/node.h next to the node binary or in /usr).\n',
  );
  process.exit(1);
}
