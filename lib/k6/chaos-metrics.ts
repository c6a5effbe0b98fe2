// chaos_* metrics: filled by teardown() from the sidecar's results so k6's own thresholds gate them.
import { Counter, Trend } from 'k6/metrics';
import type { ChaosMetricValues } from '../shared/types.ts';

const counters = {
  chaos_acked_lost: new Counter('chaos_acked_lost'),
  chaos_duplicates: new Counter('chaos_duplicates'),
  chaos_unknown: new Counter('chaos_unknown'),
  chaos_unexpected: new Counter('chaos_unexpected'),
  chaos_corrupt: new Counter('chaos_corrupt'),
  chaos_unmeasured: new Counter('chaos_unmeasured'),
};

/** The sidecar was configured but returned nothing: every chaos gate would judge an empty metric. */
export function recordChaosUnmeasured(): void {
  counters.chaos_unmeasured.add(1);
}
const trends = {
  chaos_unavailable_seconds: new Trend('chaos_unavailable_seconds'),
  chaos_leader_failover_seconds: new Trend('chaos_leader_failover_seconds'),
  chaos_failover_seconds: new Trend('chaos_failover_seconds'),
  chaos_recovery_seconds: new Trend('chaos_recovery_seconds'),
};

export function recordChaosMetrics(values: ChaosMetricValues): void {
  // A zero sample is still a sample: `count==0` then judges a measured zero, not an absent metric.
  for (const [name, counter] of Object.entries(counters)) {
    counter.add(values[name as keyof typeof counters]);
  }
  for (const [name, trend] of Object.entries(trends)) {
    for (const sample of values[name as keyof typeof trends] ?? []) trend.add(sample);
  }
}
