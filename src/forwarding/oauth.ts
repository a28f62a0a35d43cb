import * as oauth from 'oauth4webapi';

export interface TokenSourceOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  timeoutMs: number;
  now?: () => number;
}

export interface AccessToken {
  value: string;
  /** Fetched for this call rather than taken from the cache. */
  fresh: boolean;
}

/** The token endpoint refused our credentials (400/401 with an OAuth error), or could not be reached. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    message: string,
    /** The credentials were refused: retrying without a configuration change will not help. */
    readonly refused: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Renew this long before expiry, so no request leaves with a token about to run out: a tenth of the lifetime, at most a minute. */
function renewalMarginMs(expiresInS: number): number {
  return Math.min(60_000, expiresInS * 100);
}

/**
 * OAuth2 client-credentials tokens (oauth4webapi): one fetch at a time however many stations ask,
 * cached until shortly before expiry, dropped when the cloud answers 401 to it.
 */
export class TokenSource {
  private cached: { value: string; renewAt: number } | undefined;
  private inFlight: Promise<string> | undefined;
  private readonly as: oauth.AuthorizationServer;
  private readonly client: oauth.Client;
  private readonly auth: oauth.ClientAuth;
  private readonly now: () => number;

  constructor(private readonly options: TokenSourceOptions) {
    const url = new URL(options.tokenUrl);
    this.as = { issuer: url.origin, token_endpoint: url.href };
    this.client = { client_id: options.clientId };
    // Credentials in the form body: what Azure AD style endpoints document; most servers accept both.
    this.auth = oauth.ClientSecretPost(options.clientSecret);
    this.now = options.now ?? Date.now;
  }

  async token(): Promise<AccessToken> {
    const cached = this.cached;
    if (cached && this.now() < cached.renewAt) return { value: cached.value, fresh: false };
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return { value: await this.inFlight, fresh: true };
  }

  /** The cloud said 401 to this token: forget it (unless a newer one already replaced it). */
  invalidate(value: string): void {
    if (this.cached?.value === value) this.cached = undefined;
  }

  private async fetch(): Promise<string> {
    const { scope, timeoutMs, tokenUrl } = this.options;
    const params = new URLSearchParams(scope === undefined ? {} : { scope });
    let result: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.clientCredentialsGrantRequest(this.as, this.client, this.auth, params, {
        signal: () => AbortSignal.timeout(timeoutMs),
        // TLS for https (the default); plain http only when configured so, for a cloud on loopback.
        [oauth.allowInsecureRequests]: tokenUrl.startsWith('http://'),
      });
      result = await oauth.processClientCredentialsResponse(this.as, this.client, response);
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError) {
        const refused = err.status === 400 || err.status === 401 || err.status === 403;
        throw new TokenError(`token endpoint answered ${err.status} ${err.error}`, refused, { cause: err });
      }
      throw new TokenError(`token endpoint unreachable: ${(err as Error).message}`, false, { cause: err });
    }
    const expiresIn = result.expires_in;
    this.cached = {
      value: result.access_token,
      renewAt: expiresIn === undefined ? Number.POSITIVE_INFINITY : this.now() + expiresIn * 1000 - renewalMarginMs(expiresIn),
    };
    return result.access_token;
  }
}
