// The one URL redactor: every URL that reaches a log line, an error message, the debug config dump or
// check-config passes through here.

export const REDACTED = '[redacted]';

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/**
 * Hides the secrets a URL can carry: the password of `scheme://user:password@host` (also one with an
 * unencoded `/`, `?` or `#`, which a URL parser would mistake for the path) and every query value
 * (`?key=...`). Scheme, user name, host, port, path and query keys stay readable. Works on text no URL
 * parser accepts, and never throws.
 */
export function redactUrl(url: string): string {
  const scheme = SCHEME.exec(url)?.[0];
  if (scheme === undefined) return url;
  let rest = url.slice(scheme.length);
  // The userinfo ends at the last `@` of the authority; a password may hold `/`, `?` or `#` unencoded,
  // so the last `@` before the first `/` that follows it is where the host begins.
  const at = rest.lastIndexOf('@', firstOf(rest, '/?#', rest.lastIndexOf('@') + 1));
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) rest = `${userinfo.slice(0, colon)}:${REDACTED}${rest.slice(at)}`;
  }
  const query = rest.indexOf('?');
  if (query < 0) return scheme + rest;
  const hash = rest.indexOf('#', query);
  const end = hash < 0 ? rest.length : hash;
  const params = rest
    .slice(query + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? pair : `${pair.slice(0, eq)}=${REDACTED}`;
    })
    .join('&');
  return `${scheme}${rest.slice(0, query + 1)}${params}${rest.slice(end)}`;
}

/** Every URL inside a text (an error message, a reason) redacted as above. */
export function redactUrlsIn(text: string): string {
  return text.replace(/[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>]+/g, (url) => redactUrl(url));
}

function firstOf(text: string, chars: string, from: number): number {
  for (let i = from; i < text.length; i++) if (chars.includes(text[i]!)) return i;
  return text.length;
}
