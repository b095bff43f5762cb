/**
 * What every URL-shaped sink location needs for logs: the location without
 * userinfo, query string or fragment, where credentials and signatures hide
 * (`s3://KEY:SECRET@bucket/p`, `azblob://acct/c?sv=...&sig=...`).
 */
export function redactUrlLocation(location: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(location)?.[0] ?? '';
  let rest = location.slice(scheme.length);
  const cut = rest.search(/[?#]/);
  if (cut >= 0) rest = rest.slice(0, cut);
  // The last '@': a secret may itself contain '/', so the first '/' is no boundary.
  const at = rest.lastIndexOf('@');
  if (at >= 0) rest = rest.slice(at + 1);
  return scheme + rest;
}
