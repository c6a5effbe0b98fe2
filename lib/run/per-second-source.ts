// Where a run's per-second data comes from: k6's web dashboard, recording only — k6 aggregates
// every metric per 1 s period itself and writes one snapshot a period to
// <run dir>/k6-dashboard-record.ndjson.gz (the environment below, set by run.ts; the standalone
// sidecar prints it for the user's k6) — and the sidecar's outcome reports. After k6 exits
// lib/report/per-second.ts folds both into per-second rows. Why this source, and what it costs
// k6: BENCHMARKS.md, "Per-second data".
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { OutcomeRecord } from '../shared/control-api.ts';
import type { ScenarioEnv } from '../shared/scenario-config.ts';
import { SCENARIOS, type ScenarioModule, type ScenarioName } from '../shared/scenarios.ts';
import { foldPerSecond, type PerSecondData, readDashboardRecording } from '../report/per-second.ts';
import { K6_DASHBOARD_FILE } from '../report/model.ts';

export const K6_RECORDING_FILE = 'k6-dashboard-record.ndjson.gz';

export interface PerSecondEnvOptions {
  /** also export k6's own dashboard page (K6_WEB_DASHBOARD_EXPORT) */
  dashboard?: boolean;
  /** tags whose values get their own submetric per period besides `name` (http-get: its attributes) */
  tags?: readonly string[];
}

/**
 * The environment that makes k6 record its per-period aggregates. The dashboard's web server
 * cannot be switched off; K6_WEB_DASHBOARD_PORT=-1 would still listen, on every interface at a
 * random port, so it listens on a random port of 127.0.0.1 (nothing connects to it).
 */
export function perSecondEnv(runDir: string, opts: PerSecondEnvOptions = {}): Record<string, string> {
  return {
    K6_WEB_DASHBOARD: 'true',
    K6_WEB_DASHBOARD_HOST: '127.0.0.1',
    K6_WEB_DASHBOARD_PORT: '0',
    K6_WEB_DASHBOARD_PERIOD: '1s',
    K6_WEB_DASHBOARD_TAGS: ['name', ...(opts.tags ?? [])].join(','),
    K6_WEB_DASHBOARD_RECORD: join(runDir, K6_RECORDING_FILE),
    ...(opts.dashboard === true ? { K6_WEB_DASHBOARD_EXPORT: join(runDir, K6_DASHBOARD_FILE) } : {}),
  };
}

/** What a scenario's per-second data needs: the tags to split by, and which series its outcome reports describe. */
export function scenarioPerSecond(
  scenario: ScenarioName,
  env: ScenarioEnv,
): {
  tags: string[];
  reportedRequest: string;
  split: { metric: string; tags: string[] } | null;
  /** rate × duration of a fixed-rate scenario, else null */
  requests: number | null;
} {
  const entry = SCENARIOS[scenario] as ScenarioModule;
  let tags: string[] = [];
  let requests: number | null = null;
  try {
    tags = entry.perSecondTags?.(env) ?? [];
    const config = entry.parse(env) as { rate?: unknown; durationMs?: unknown };
    if (typeof config.rate === 'number' && typeof config.durationMs === 'number')
      requests = Math.round((config.rate * config.durationMs) / 1000);
  } catch {
    // an env the scenario refuses stops k6 at init anyway (and prepare checked it before the run)
  }
  return {
    tags,
    requests,
    reportedRequest: entry.reportedRequest,
    split:
      entry.attributionMetric === undefined || tags.length === 0 ? null : { metric: entry.attributionMetric, tags },
  };
}

export interface ReadPerSecondOptions {
  /** how long to retry a file k6 may still be writing (the standalone sidecar stops when the summary arrives, before k6 closes it) */
  waitMs?: number;
  /** the sidecar's outcome reports and the request name they describe */
  outcomes?: readonly OutcomeRecord[];
  reportedRequest?: string | null;
  split?: { metric: string; tags: readonly string[] } | null;
}

/** The run's per-second data, or null (with a line in the log) when k6 wrote no recording or it cannot be read. */
export async function readPerSecond(
  runDir: string,
  zeroMs: number | null,
  log: (line: string) => void,
  opts: ReadPerSecondOptions = {},
): Promise<PerSecondData | null> {
  const file = join(runDir, K6_RECORDING_FILE);
  // No file: k6 ran without the recording (--no-per-second, or the user's own k6 without it).
  if (!existsSync(file)) return null;
  const until = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const t0 = Date.now();
    try {
      const rec = await readDashboardRecording(file, opts.split?.metric ?? null);
      const data = foldPerSecond(rec, {
        zeroMs,
        outcomes: opts.outcomes ?? [],
        reportedRequest: opts.reportedRequest ?? null,
        split: opts.split ?? null,
      });
      log(
        `per-second data: ${data.counts.requests.toLocaleString('en-US')} requests in ${data.counts.periods.toLocaleString('en-US')} k6 periods and ${data.counts.outcomeRecords.toLocaleString('en-US')} outcome reports, folded in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      return data;
    } catch (err) {
      // A k6 that has not closed the file yet leaves its gzip stream unfinished.
      if (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      log(`per-second data: cannot read ${file}: ${(err as Error).message} (report.html has no charts)`);
      return null;
    }
  }
}
