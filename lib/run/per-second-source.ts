// Where a run's per-second data comes from: k6's built-in `experimental-prometheus-rw` output,
// trends as native histograms, pushing every 1 s to a receiver k6-ha runs on 127.0.0.1 for the run
// (lib/sidecar/remote-write-receiver.ts), which differences the cumulative pushes into periods in
// <run dir>/k6-remote-write.ndjson.gz — and the sidecar's outcome reports. After k6 exits
// lib/report/per-second.ts folds both into per-second rows. The standalone sidecar (`k6-ha
// sidecar`, the user's k6, maybe on another host) still prints k6's web-dashboard recording
// environment (K6_RECORDING_FILE), which readPerSecond reads when there is no receiver file. Why
// this source, and what each costs k6: BENCHMARKS.md, "Per-second data".
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { OutcomeRecord } from '../shared/control-api.ts';
import type { ScenarioEnv } from '../shared/scenario-config.ts';
import { SCENARIOS, type ScenarioModule, type ScenarioName } from '../shared/scenarios.ts';
import {
  type DashboardRecording,
  foldPerSecond,
  type PerSecondData,
  readDashboardRecording,
} from '../report/per-second.ts';
import { readRemoteWriteRecording } from '../report/remote-write.ts';
import { K6_DASHBOARD_FILE } from '../report/model.ts';
import {
  remoteWriteEnv,
  startRemoteWriteReceiver,
  type RemoteWriteReceiver,
} from '../sidecar/remote-write-receiver.ts';

export const K6_RECORDING_FILE = 'k6-dashboard-record.ndjson.gz';
export const K6_REMOTE_WRITE_FILE = 'k6-remote-write.ndjson.gz';

export interface PerSecondEnvOptions {
  /** also export k6's own dashboard page (K6_WEB_DASHBOARD_EXPORT) */
  dashboard?: boolean;
  /** tags whose values get their own submetric per period besides `name` (http-get: its attributes) */
  tags?: readonly string[];
}

/**
 * The environment that makes k6 record its per-period aggregates with its web dashboard (the
 * standalone sidecar's source; and bench/per-second-source.ts `--with-dashboard`). The dashboard's
 * web server cannot be switched off; K6_WEB_DASHBOARD_PORT=-1 would still listen, on every
 * interface at a random port, so it listens on a random port of 127.0.0.1 (nothing connects to it).
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

/** `--dashboard`: k6's own dashboard page of the run, no recording (the dashboard's cost, BENCHMARKS.md, is then the user's choice). */
export function dashboardExportEnv(runDir: string): Record<string, string> {
  return {
    K6_WEB_DASHBOARD: 'true',
    K6_WEB_DASHBOARD_HOST: '127.0.0.1',
    K6_WEB_DASHBOARD_PORT: '0',
    // k6 skips the export of a run shorter than a few periods; its default period is 10 s
    K6_WEB_DASHBOARD_PERIOD: '1s',
    K6_WEB_DASHBOARD_EXPORT: join(runDir, K6_DASHBOARD_FILE),
  };
}

/** The per-second source of one `k6-ha run`: the receiver, and what k6 needs to push to it. */
export interface PerSecondSource {
  receiver: RemoteWriteReceiver;
  /** k6's flags: `--out experimental-prometheus-rw` */
  args: string[];
  /** k6's process environment (k6 reads its outputs' settings there, not from -e) */
  processEnv: Record<string, string>;
}

/** Starts the run's remote-write receiver (close it after k6 has exited: k6 pushes one last time as it stops). */
export async function startPerSecondSource(
  runDir: string,
  split: { metric: string; tags: readonly string[] } | null,
): Promise<PerSecondSource> {
  const receiver = await startRemoteWriteReceiver(join(runDir, K6_REMOTE_WRITE_FILE), { split });
  return { receiver, args: ['--out', 'experimental-prometheus-rw'], processEnv: remoteWriteEnv(receiver.url) };
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

/** The run's per-second data, or null (with a line in the log) when there is no receiver file or recording, or it cannot be read. */
export async function readPerSecond(
  runDir: string,
  zeroMs: number | null,
  log: (line: string) => void,
  opts: ReadPerSecondOptions = {},
): Promise<PerSecondData | null> {
  const rwFile = join(runDir, K6_REMOTE_WRITE_FILE);
  const fromReceiver = existsSync(rwFile);
  const file = fromReceiver ? rwFile : join(runDir, K6_RECORDING_FILE);
  // No file: k6 ran without a per-second source (--no-per-second, or the user's own k6 without it).
  if (!existsSync(file)) return null;
  const until = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const t0 = Date.now();
    try {
      const rec: DashboardRecording = fromReceiver
        ? await readRemoteWriteRecording(file)
        : await readDashboardRecording(file, opts.split?.metric ?? null);
      const data = foldPerSecond(rec, {
        zeroMs,
        outcomes: opts.outcomes ?? [],
        reportedRequest: opts.reportedRequest ?? null,
        split: opts.split ?? null,
        source: fromReceiver ? 'remote-write' : 'dashboard',
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
