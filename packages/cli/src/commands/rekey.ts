/**
 * `shmsnap rekey <location> --old-key-file … --new-key-file …`: every
 * encrypted backup at the location gets its data key rewrapped under the new
 * key and its manifest rewritten (core's rekeyLocation); no object is
 * re-encrypted. The old key opens nothing there afterwards.
 */
import type { Command } from 'commander';
import { errConfigInvalid, rekeyLocation } from '@shmsnap/core';
import { locationArgument } from '../cli-options.js';
import { execute, sinkOpener, type CliContext } from '../context.js';
import { addKeyOptions, keyFrom } from '../key-options.js';
import { addSinkOptions, type SinkFlags } from '../sink-options.js';

export function defineRekeyCommand(program: Command, context: CliContext): void {
  const command = program
    .command('rekey')
    .description(
      'Rewrap the data key of every encrypted backup at a location under a new key, and rewrite their manifests (each replaced in atomic steps; an interrupted rekey is finished by running it again with the same keys). No object is re-encrypted, so it takes as long as reading and writing the manifests. Afterwards only the new key opens them. Unencrypted backups are left as they are.',
    )
    .addArgument(locationArgument())
    .option('--dry-run', 'check that the old key opens every encrypted backup (key and manifest MAC), change nothing')
    .option('--json', 'print the result as JSON');
  addKeyOptions(command, 'the key the backups are encrypted with now', 'old-');
  addKeyOptions(command, 'the key to encrypt them with from now on', 'new-');
  addSinkOptions(command, context.registry, false).action(async (location: string, flags: SinkFlags & { dryRun?: boolean; json?: boolean }) => {
    await execute(context, flags, 'rekey', async (output, signal) => {
      const oldKey = await keyFrom(flags, 'old-');
      const newKey = await keyFrom(flags, 'new-');
      if (!oldKey) throw errConfigInvalid('--old-key-file', 'rekey needs the key the backups are encrypted with now (--old-key-file, --old-key-env, --old-passphrase-file or --old-passphrase-env)');
      if (!newKey) throw errConfigInvalid('--new-key-file', 'rekey needs the new key (--new-key-file, --new-key-env, --new-passphrase-file or --new-passphrase-env)');
      const sink = await sinkOpener(context.registry, flags, false, process.env, (attribute) => command.getOptionValueSource(attribute))(location);
      const result = await rekeyLocation({ sink, oldKey, newKey, dryRun: flags.dryRun === true, signal });
      for (const name of result.rekeyed) output.line(`rekey: ${flags.dryRun === true ? 'would rewrap' : 'rewrapped'} ${result.location}/${name} (key from ${newKey.describe})`);
      for (const name of result.skipped) output.note(`rekey: note: ${name} is not encrypted; left as it is`);
      output.result('rekey', { dryRun: flags.dryRun === true, location: result.location, rekeyed: result.rekeyed, skipped: result.skipped });
    });
  });
}
