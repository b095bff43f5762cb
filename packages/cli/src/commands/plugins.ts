/**
 * `shmsnap plugins`: every plugin this run has (the built-in ones, then
 * those named by --plugin, SHMSNAP_PLUGINS and the configuration file,
 * plugins.ts), with what each provides and where it was loaded from; one
 * that failed to load is listed with its one-line reason. The exit status is
 * 0 when every plugin loaded, PLUGIN_INVALID's (2) otherwise, after the list
 * (or the JSON document) is printed: a monitoring check can rely on either.
 */
import type { Command } from 'commander';
import { PLUGIN_API_VERSION } from '@shmsnap/core';
import { execute, type CliContext } from '../context.js';
import { EXIT_STATUS_BY_CODE } from '../exit-codes.js';
import type { Output } from '../render/output.js';
import { formatTable } from '../render/table.js';
import { sinkOptionFlags } from '../sink-options.js';

export function runPluginsCommand(context: CliContext, output: Output): number | void {
  const { loaded, failed } = context.registry.plugins();
  const flags = [...sinkOptionFlags(context.registry, true)];
  const rows = [
    ...loaded.map((p) => ({
      name: p.plugin.name,
      version: p.plugin.version,
      apiVersion: p.plugin.apiVersion,
      schemes: [...p.schemes],
      codecs: [...p.codecs],
      options: flags.filter((f) => p.schemes.includes(f.scheme)).map((f) => f.flag),
      requested: p.requested,
      from: p.from,
      status: 'loaded' as const,
      error: null,
    })),
    ...failed.map((f) => ({
      name: null,
      version: null,
      apiVersion: typeof f.error.details.apiVersion === 'number' ? f.error.details.apiVersion : null,
      schemes: [],
      codecs: [],
      options: [],
      requested: f.requested,
      from: f.from === '' ? null : f.from,
      status: 'failed' as const,
      error: { code: f.error.code, message: f.error.message },
    })),
  ];
  const table = rows.map((r) => [r.name ?? r.requested, r.version ?? '-', r.apiVersion === null ? '-' : String(r.apiVersion), r.schemes.join(',') || '-', r.codecs.join(',') || '-', r.from ?? '-', r.status]);
  output.line(`plugin API version ${PLUGIN_API_VERSION}`);
  for (const line of formatTable(['plugin', 'version', 'api', 'schemes', 'codecs', 'from', 'status'], table)) output.line(line);
  for (const f of failed) output.line(`${f.requested}: ${f.error.code}: ${f.error.message}`);
  output.result('plugins', { apiVersion: PLUGIN_API_VERSION, plugins: rows }, failed.length === 0);
  return failed.length === 0 ? undefined : EXIT_STATUS_BY_CODE.PLUGIN_INVALID;
}

export function definePluginsCommand(program: Command, context: CliContext): void {
  program
    .command('plugins')
    .description(
      'List the plugins this run has: the built-in ones, then those named by --plugin, SHMSNAP_PLUGINS and the configuration file ("plugins"), each with its version, plugin API version, schemes, codecs and where it was loaded from; one that failed to load is listed as failed with its reason (exit status 2).',
    )
    .option('--json', 'print the list as JSON')
    .action(async (flags: { json?: boolean }) => {
      await execute(context, flags, 'plugins', async (output) => runPluginsCommand(context, output));
    });
}
