// How many VUs jetstream-publish needs, shared by the scenario (its options) and by the checks
// that refuse a RATE × REQUEST_TIMEOUT k6 could not hold in memory.

/**
 * Enough VUs that every one of them can be stuck in a request for the whole timeout (an outage)
 * while the arrival rate keeps going: otherwise k6 would silently send fewer events exactly when
 * it matters (coordinated omission). 10 % and 5 VUs of margin for scheduling jitter.
 */
export function publishVus(rate: number, requestTimeoutMs: number): number {
  return Math.ceil(rate * (requestTimeoutMs / 1000 + 1) * 1.1) + 5;
}

/** A pre-allocated VU of the built scenario costs k6 ≈ 350 KB (2,205 VUs: 782 MB RSS), so ≈ 7 GB. */
export const MAX_PUBLISH_VUS = 20_000;
