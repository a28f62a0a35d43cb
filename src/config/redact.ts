import { REDACTED, redactUrl } from '../log/redact.js';
import type { Config } from './types.js';

export { REDACTED, redactUrl };

/** A copy safe to log or print: every secret the schema knows of is replaced by `[redacted]`. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  copy.mqtt.url = redactUrl(copy.mqtt.url);
  if (copy.mqtt.password !== undefined) copy.mqtt.password = REDACTED;
  // Kept as a list so the reader still sees how many tokens are configured.
  copy.http.tokens = copy.http.tokens.map(() => REDACTED);
  if (copy.http.public_base_url !== undefined) copy.http.public_base_url = redactUrl(copy.http.public_base_url);
  copy.webhooks = copy.webhooks.map((w) => ({ ...w, url: redactUrl(w.url), secret: REDACTED }));
  const fwd = copy.forwarding;
  if (fwd.url !== undefined) fwd.url = redactUrl(fwd.url);
  if (fwd.token_url !== undefined) fwd.token_url = redactUrl(fwd.token_url);
  if (fwd.client_secret !== undefined) fwd.client_secret = REDACTED;
  if (fwd.api_key !== undefined) fwd.api_key = REDACTED;
  return copy;
}
