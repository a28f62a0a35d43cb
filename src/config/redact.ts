import { REDACTED, redactSecrets, redactUrl } from '../log/redact.js';
import type { Config } from './types.js';

export { REDACTED, redactUrl };

/** A copy safe to log or print (the debug dump, check-config): the one redactor over the whole configuration. */
export function redactConfig(config: Config): Config {
  return redactSecrets(config);
}
