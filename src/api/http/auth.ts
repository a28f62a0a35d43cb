import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Bearer token check. Tokens are compared as SHA-256 digests with timingSafeEqual: digests have equal
 * length whatever the token length, and every configured token is compared, so timing reveals neither
 * the token nor which one matched.
 */
export class TokenVerifier {
  private readonly digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.filter((t) => t !== '').map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Index of the configured token that matches, or -1. */
  match(presented: string): number {
    const candidate = digest(presented);
    let found = -1;
    this.digests.forEach((d, i) => {
      if (timingSafeEqual(candidate, d) && found === -1) found = i;
    });
    return found;
  }
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
