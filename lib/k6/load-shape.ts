// The load shape of the fixed-rate scenarios, apart from their scripts: a constant arrival rate
// with enough VUs pre-allocated to ride out an outage of REQUEST_TIMEOUT (see publishVus), so none
// is initialised mid-outage and k6 does not quietly send fewer events exactly when it matters.
import { formatDuration } from '../shared/env-parse.ts';
import { publishVus } from '../shared/publish-load.ts';

export interface ArrivalRateConfig {
  rate: number;
  duration: string;
  requestTimeoutMs: number;
}

export function arrivalRateScenario(config: ArrivalRateConfig) {
  const vus = publishVus(config.rate, config.requestTimeoutMs);
  return {
    executor: 'constant-arrival-rate',
    rate: config.rate,
    timeUnit: '1s',
    duration: config.duration,
    preAllocatedVUs: vus,
    maxVUs: vus,
    // In-flight requests may finish their whole timeout after the last arrival.
    gracefulStop: formatDuration(config.requestTimeoutMs + 5000),
  };
}
