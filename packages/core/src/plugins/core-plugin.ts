/**
 * Core's own codec (`none`: ASMT's plain `.dat`) as a plugin, so a host
 * registers it the way it registers every other (contracts/plugin.ts). Its
 * version is package.json's (checked by a test).
 */
import { definePlugin, PLUGIN_API_VERSION } from '../contracts/plugin.js';
import { codecNone } from '../pipeline/codec-none.js';

export const corePlugin = definePlugin({ name: '@shmsnap/core', version: '0.1.0', apiVersion: PLUGIN_API_VERSION, codecs: [codecNone] });
