// Per-second attribution for scenarios that count each response by its attribute values
// (http-get: http_get_ok{phase,pod|db}). Two ways were measured (BENCHMARKS.md, "per-second
// attribution"): k6 writing every sample to an output (`--out csv`) for Node to bucket afterwards,
// and this — the sidecar reading k6's cumulative per-phase counters from k6's REST API every
// 500 ms and taking differences. The output costs k6 a write per sample (about a dozen per
// request), which grows with the rate; a read of /v1/metrics costs the same at any rate, and the
// counters are the ones the per-phase table is already made of, so the VUs do no extra work.
// The price is resolution: a first response is known to within one poll (500 ms).
import { readK6Counts } from './k6-api.ts';
import type { CounterSample } from '../measure/rebalance.ts';

export const ATTRIBUTION_POLL_MS = 500;

export class AttributionSampler {
  readonly samples: CounterSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;

  constructor(
    private readonly apiUrl: string,
    readonly metric: string,
    readonly pollMs = ATTRIBUTION_POLL_MS,
  ) {}

  private read(): Promise<void> {
    this.reading ??= readK6Counts(this.apiUrl, `${this.metric}{`)
      .then((counts) => {
        if (counts !== null) this.samples.push({ t: Date.now(), counts });
      })
      .finally(() => {
        this.reading = null;
      });
    return this.reading;
  }

  start(): void {
    if (this.timer !== null) return;
    void this.read();
    this.timer = setInterval(() => void this.read(), this.pollMs);
  }

  /** Stops polling after one last read (the counts up to the end of the load). */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.reading;
    await this.read();
  }
}
