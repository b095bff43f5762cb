// The plugin: a plain object, nothing registered or opened on import.
import { definePlugin, PLUGIN_API_VERSION } from '@shmsnap/core/plugin-kit';
import { dirSinkProvider } from './dir-sink.js';

export default definePlugin({
  name: 'shmsnap-sink-dir',
  version: '1.0.0',
  apiVersion: PLUGIN_API_VERSION,
  sinks: [dirSinkProvider],
});
