interface Window {
  startMs: number;
  failures: number;
}

const WINDOW_MS = 60_000;

/**
 * Failed authentications per client address in fixed one-minute windows. Past the limit every
 * authenticated request from that address gets 429 until the window ends — a valid token too, or
 * the difference between 429 and 200 would still tell a guesser when it found one.
 */
export class AuthFailureLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    /** Addresses remembered at most; the oldest are forgotten first, so a flood of addresses cannot grow memory. */
    private readonly maxAddresses = 10_000,
  ) {}

  /** Whole seconds until `address` may try again; 0 when it may now. */
  retryAfterS(address: string): number {
    const window = this.current(address);
    if (!window || window.failures < this.perMinute) return 0;
    return Math.max(1, Math.ceil((window.startMs + WINDOW_MS - this.now()) / 1000));
  }

  fail(address: string): void {
    const window = this.current(address);
    if (window) {
      window.failures += 1;
      return;
    }
    if (this.windows.size >= this.maxAddresses) this.forgetOldest();
    this.windows.set(address, { startMs: this.now(), failures: 1 });
  }

  get trackedAddresses(): number {
    return this.windows.size;
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window && this.now() - window.startMs >= WINDOW_MS) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }

  private forgetOldest(): void {
    // Insertion order is start order: expired windows come first, then the oldest live one.
    for (const [address, window] of this.windows) {
      this.windows.delete(address);
      if (this.now() - window.startMs < WINDOW_MS) break;
    }
  }
}
