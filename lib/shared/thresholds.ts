// Gate profiles are data with a reason on every line; this turns them into k6 `thresholds`.

export interface GateLine {
  /** A k6 threshold expression, e.g. `count==0` or `p(95)<500`. */
  threshold: string;
  /** Why this gate exists: printed in reports next to a failed gate. */
  reason: string;
  abortOnFail?: boolean;
}

export interface ThresholdProfile {
  description: string;
  /** Metric name (optionally with a tag filter, `checks{check:is status 204}`) → its gates. */
  gates: Record<string, GateLine[]>;
}

type K6Threshold = string | { threshold: string; abortOnFail: boolean };

/**
 * k6's thresholds for a profile. Without a sidecar (`withChaos` false) the chaos_* gates are left
 * out: nothing fills those metrics, and an empty counter would show a `count==0` gate as passed.
 */
export function toK6Thresholds(
  profile: ThresholdProfile,
  opts: { withChaos: boolean } = { withChaos: true },
): Record<string, K6Threshold[]> {
  const out: Record<string, K6Threshold[]> = {};
  for (const [metric, lines] of Object.entries(profile.gates)) {
    if (!opts.withChaos && metric.startsWith('chaos_')) continue;
    out[metric] = lines.map((line) =>
      line.abortOnFail === true ? { threshold: line.threshold, abortOnFail: true } : line.threshold,
    );
  }
  return out;
}
