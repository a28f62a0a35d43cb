export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  random: () => number;
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a fleet of
 * clients that lost the same broker does not reconnect in lock-step, yet no client waits near zero.
 */
export function backoffDelay(attempt: number, { minMs, maxMs, random }: BackoffOptions): number {
  const exp = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}
