import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter } from '../../../src/api/http/auth-limiter.js';

describe('AuthFailureLimiter', () => {
  it('limits an address after N failures until its minute is over, others unaffected', () => {
    let now = 1_000_000;
    const limiter = new AuthFailureLimiter(3, () => now);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterS('10.0.0.1')).toBe(0);
      limiter.fail('10.0.0.1');
    }
    expect(limiter.retryAfterS('10.0.0.1')).toBe(60);
    expect(limiter.retryAfterS('10.0.0.2')).toBe(0);
    now += 59_500;
    expect(limiter.retryAfterS('10.0.0.1')).toBe(1);
    now += 500;
    expect(limiter.retryAfterS('10.0.0.1')).toBe(0);
  });

  it('remembers a bounded number of addresses', () => {
    const limiter = new AuthFailureLimiter(1, () => 0, 100);
    for (let i = 0; i < 1000; i++) limiter.fail(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.trackedAddresses).toBeLessThanOrEqual(100);
    expect(limiter.retryAfterS('10.0.3.231')).toBe(60);
  });
});
