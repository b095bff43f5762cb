/**
 * Certificates made at test time with the `openssl` command (node:crypto
 * makes keys but not X.509 certificates): a private CA and the certificates
 * it issues, or a self-signed one, for a store behind https
 * (`startFaultProxy(..., { tls })`). Keys are P-256, valid for two days.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A key and certificate (PEM), and the certificate's file. */
export interface TestCertificate {
  readonly key: string;
  readonly cert: string;
  readonly certFile: string;
}

export interface TestPki {
  /** The CA's certificate file: what a client is given as its CA bundle. */
  readonly caFile: string;
  /** A certificate issued by the CA for `names` (`IP:127.0.0.1`, `DNS:store.test`). */
  issue(names: readonly string[]): Promise<TestCertificate>;
  /** A certificate that signs itself, for `names`. */
  selfSigned(names: readonly string[]): Promise<TestCertificate>;
  remove(): Promise<void>;
}

/** Why TLS tests cannot run here, or undefined when they can. */
export async function opensslMissing(): Promise<string | undefined> {
  try {
    await run('openssl', ['version']);
    return undefined;
  } catch (error) {
    return `the openssl command is not available (${(error as Error).message})`;
  }
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'shmsnap-pki-'));
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  await run('openssl', ['req', '-x509', ...KEY, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=shmsnap test CA']);
  let made = 0;
  const read = async (keyFile: string, certFile: string): Promise<TestCertificate> => ({ key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile });
  return {
    caFile,
    async issue(names) {
      made += 1;
      const [keyFile, csr, certFile, ext] = ['key', 'csr', 'pem', 'ext'].map((suffix) => join(dir, `issued-${made}.${suffix}`)) as [string, string, string, string];
      await run('openssl', ['req', ...KEY, '-keyout', keyFile, '-out', csr, '-subj', '/CN=shmsnap test store']);
      await writeFile(ext, `basicConstraints = CA:FALSE\nsubjectAltName = ${names.join(', ')}\n`);
      await run('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
      return read(keyFile, certFile);
    },
    async selfSigned(names) {
      made += 1;
      const [keyFile, certFile] = ['key', 'pem'].map((suffix) => join(dir, `self-${made}.${suffix}`)) as [string, string];
      await run('openssl', ['req', '-x509', ...KEY, '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=shmsnap self-signed store', '-addext', `subjectAltName = ${names.join(', ')}`]);
      return read(keyFile, certFile);
    },
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
