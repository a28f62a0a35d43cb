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
  const parts = splitUrl(url);
  if (parts === undefined) return url;
  const { scheme, user, password, rest } = parts;
  const userinfo = user === undefined ? '' : `${user}${password === undefined ? '' : `:${REDACTED}`}@`;
  const query = rest.indexOf('?');
  if (query < 0) return scheme + userinfo + rest;
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
  return `${scheme}${userinfo}${rest.slice(0, query + 1)}${params}${rest.slice(end)}`;
}

/** A URL's credentials taken out (percent-decoded) and the URL without them, for a client that takes them as options. */
export interface UrlCredentials {
  url: string;
  username?: string;
  password?: string;
}

/**
 * Splits `scheme://user:password@host/...` into the URL without userinfo and the two credentials, by
 * the same reading as redactUrl, so a password with an unencoded `/` is understood alike by the
 * client and the redactor. A client never sees a URL with credentials in it: parsers that cannot read
 * such a URL print it whole in their warnings and errors.
 */
export function splitCredentials(url: string): UrlCredentials {
  const parts = splitUrl(url);
  if (parts?.user === undefined) return { url };
  return {
    url: parts.scheme + parts.rest,
    username: decode(parts.user),
    ...(parts.password === undefined ? {} : { password: decode(parts.password) }),
  };
}

interface UrlParts {
  scheme: string;
  /** Userinfo before its first `:`, undefined without an `@`. */
  user?: string;
  password?: string;
  /** Host onwards. */
  rest: string;
}

function splitUrl(url: string): UrlParts | undefined {
  const scheme = SCHEME.exec(url)?.[0];
  if (scheme === undefined) return undefined;
  const afterScheme = url.slice(scheme.length);
  // The userinfo ends at the last `@` of the authority; a password may hold `/`, `?` or `#` unencoded,
  // so the last `@` before the first `/` that follows it is where the host begins.
  const at = afterScheme.lastIndexOf('@', firstOf(afterScheme, '/?#', afterScheme.lastIndexOf('@') + 1));
  if (at < 0) return { scheme, rest: afterScheme };
  const userinfo = afterScheme.slice(0, at);
  const colon = userinfo.indexOf(':');
  const rest = afterScheme.slice(at + 1);
  return colon < 0 ? { scheme, user: userinfo, rest } : { scheme, user: userinfo.slice(0, colon), password: userinfo.slice(colon + 1), rest };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A lone `%` is meant literally.
    return text;
  }
}

/**
 * Every URL inside a text (an error message, a reason, any string a log line holds) redacted as above.
 * Linear in the text's length: each `://` is found with indexOf and its scheme read backwards, where a
 * regular expression (`[a-z][a-z0-9+.-]*://`) would backtrack quadratically over a long run of letters
 * such as a hostile 60 KB payload quoted in a log line.
 */
export function redactUrlsIn(text: string): string {
  let out = '';
  let copied = 0;
  let search = 0;
  for (let sep = text.indexOf('://'); sep >= 0; sep = text.indexOf('://', search)) {
    search = sep + 3;
    let start = sep;
    while (start > copied && isSchemeChar(text.charCodeAt(start - 1))) start--;
    while (start < sep && !isLetter(text.charCodeAt(start))) start++;
    let end = sep + 3;
    while (end < text.length && !URL_STOP.includes(text[end] ?? ' ')) end++;
    if (start === sep || end === sep + 3) continue;
    out += text.slice(copied, start) + redactUrl(text.slice(start, end));
    copied = end;
    search = end;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** What ends a URL inside a text: white space and the quotes and brackets that usually surround one. */
const URL_STOP = ' \t\n\r\f\v"\'<>';

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

function isSchemeChar(code: number): boolean {
  return isLetter(code) || (code >= 48 && code <= 57) || code === 43 || code === 45 || code === 46;
}

function firstOf(text: string, chars: string, from: number): number {
  for (let i = from; i < text.length; i++) if (chars.includes(text[i]!)) return i;
  return text.length;
}

/** Keys whose values are secrets wherever they appear: config sections, headers, log fields. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password',
  'passwd',
  'token',
  'tokens',
  'secret',
  'client_secret',
  'api_key',
  'apikey',
  'x-api-key',
  'access_token',
  'refresh_token',
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
]);

/** The secret keys, lower case, for matchers that need them spelled out (pino's redact paths). */
export function secretKeys(): readonly string[] {
  return [...SECRET_KEYS];
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase());
}

/** Deeper than any object we print; past it a value is dropped rather than printed unread. */
const MAX_DEPTH = 12;

/**
 * A copy of `value` safe to print: the value under a secret key (at any depth) hidden, a list of
 * secrets kept as a list of `[redacted]` so its length still shows, and every URL in every string
 * redacted as above. Errors become plain `{ type, message, stack, ... }` objects. The original is
 * never touched.
 */
export function redactSecrets<T>(value: T): T {
  return walk(value, 0) as T;
}

function walk(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactUrlsIn(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  if (value instanceof Error) return walk(errorFields(value), depth);
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return walk((json as () => unknown).call(value), depth);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!isSecretKey(key) || v === undefined || v === null) out[key] = walk(v, depth + 1);
    else out[key] = Array.isArray(v) ? v.map(() => REDACTED) : REDACTED;
  }
  return out;
}

function errorFields(error: Error): Record<string, unknown> {
  return {
    type: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...Object.fromEntries(Object.entries(error)),
    ...(error.cause === undefined ? {} : { cause: error.cause }),
  };
}
