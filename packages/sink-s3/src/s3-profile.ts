/**
 * The settings of one profile of the AWS shared files (`~/.aws/config` and
 * `~/.aws/credentials`, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE),
 * read with the SDK's own loader.
 *
 * The SDK takes credentials from the profile it is given, but reads a
 * profile's `endpoint_url` only from AWS_PROFILE (or `default`), never from
 * the one passed to the client, and reads `ca_bundle` not at all. So the
 * sink reads them here, from the profile it was told (the `profile` option,
 * else AWS_PROFILE, else `default`), and passes the client explicit values:
 * a profile chosen by the option and one chosen by AWS_PROFILE then behave
 * the same in every respect.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadSharedConfigFiles } from '@smithy/core/config';
import { errConfigInvalid } from '@shmsnap/core/plugin-kit';

export interface S3Profile {
  readonly name: string;
  /** Who chose the profile: the `profile` option, AWS_PROFILE, or nobody (`default`). */
  readonly chosenBy: 'profile' | 'AWS_PROFILE' | 'default';
  /** Whether either file has a section for it (only `default` may be missing). */
  readonly found: boolean;
  readonly region?: string;
  /** The `s3` endpoint_url of the profile's `services` section, else the profile's own endpoint_url. */
  readonly endpointUrl?: string;
  /** Where `endpointUrl` was found, for messages. */
  readonly endpointUrlFrom?: string;
  readonly caBundle?: string;
  /** The `s3` sub-setting `addressing_style` (`path`, `virtual`, `auto`), as the AWS CLI reads it. */
  readonly addressingStyle?: string;
  /** `ignore_configured_endpoint_urls`: the files' and the environment's endpoint URLs are not used. */
  readonly ignoreConfiguredEndpointUrls: boolean;
}

const display = (path: string): string => {
  const home = homedir();
  return home !== '/' && path.startsWith(`${home}/`) ? `~/${path.slice(home.length + 1)}` : path;
};

/** The two files, as the SDK finds them (its loader expands a leading `~/`). */
export function sharedFilePaths(env: NodeJS.ProcessEnv): { config: string; credentials: string } {
  return {
    config: env['AWS_CONFIG_FILE'] || join(homedir(), '.aws', 'config'),
    credentials: env['AWS_SHARED_CREDENTIALS_FILE'] || join(homedir(), '.aws', 'credentials'),
  };
}

/** `~/x` → under the home directory; AWS tools accept it in file settings. */
export function expandHome(path: string): string {
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

/**
 * Reads profile `option ?? AWS_PROFILE ?? 'default'`. A profile other than
 * `default` that is in neither file is CONFIG_INVALID
 * naming it and the files, before any request: the SDK would otherwise fail
 * later with "no credentials". A `services` section the profile names but the
 * config file lacks is refused the same way.
 */
export async function loadS3Profile(option: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<S3Profile> {
  const fromEnv = env['AWS_PROFILE'] || undefined;
  const name = option || fromEnv || 'default';
  const chosenBy = option ? 'profile' : fromEnv ? 'AWS_PROFILE' : 'default';
  const paths = sharedFilePaths(env);
  // ignoreCache: a long-lived process (or a test) may see the files change between sinks.
  const files = await loadSharedConfigFiles({ filepath: paths.credentials, configFilepath: paths.config, ignoreCache: true });
  const inConfig = files.configFile[name];
  const inCredentials = files.credentialsFile[name];
  // `default` may be absent even when named, as for the AWS CLI: credentials may come from elsewhere (a role).
  if (name !== 'default' && inConfig === undefined && inCredentials === undefined) {
    throw errConfigInvalid(chosenBy, `profile '${name}' not found in ${display(expandHome(paths.config))} or ${display(expandHome(paths.credentials))}`);
  }
  // As the SDK merges them: the credentials file wins where both set a value.
  const settings: Readonly<Record<string, string | undefined>> = { ...inConfig, ...inCredentials };
  const value = (key: string): string | undefined => settings[key] || undefined;
  const shown = `profile '${name}'`;

  let endpointUrl = value('endpoint_url');
  let endpointUrlFrom = endpointUrl === undefined ? undefined : `endpoint_url of ${shown}`;
  const services = value('services');
  if (services !== undefined) {
    const section = files.configFile[`services.${services}`];
    if (section === undefined) throw errConfigInvalid(`services of ${shown}`, `section [services ${services}] not found in ${display(expandHome(paths.config))}`);
    const forS3 = section['s3.endpoint_url'] || undefined;
    if (forS3 !== undefined) {
      endpointUrl = forS3;
      endpointUrlFrom = `s3 endpoint_url of [services ${services}]`;
    }
  }
  const ignore = value('ignore_configured_endpoint_urls');
  return {
    name,
    chosenBy,
    found: inConfig !== undefined || inCredentials !== undefined,
    ...(value('region') === undefined ? {} : { region: value('region') }),
    ...(endpointUrl === undefined ? {} : { endpointUrl, endpointUrlFrom }),
    ...(value('ca_bundle') === undefined ? {} : { caBundle: value('ca_bundle') }),
    ...(value('s3.addressing_style') === undefined ? {} : { addressingStyle: value('s3.addressing_style') }),
    ignoreConfiguredEndpointUrls: ignore?.toLowerCase() === 'true',
  };
}
