import { definePlugin, PLUGIN_API_VERSION } from '@shmsnap/core/plugin-kit';
import { localSinkProvider } from './local-sink.js';

/** This package as a plugin (contracts/plugin.ts): the CLI registers it like any other. Its version is package.json's (checked by a test). */
export const plugin = definePlugin({ name: '@shmsnap/sink-local', version: '0.1.0', apiVersion: PLUGIN_API_VERSION, sinks: [localSinkProvider] });

export { createLocalSink, localPathOf, localSinkProvider, type LocalSinkOptions } from './local-sink.js';
export default localSinkProvider;
