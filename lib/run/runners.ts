// `k6-ha run --runners N`: N k6 processes started exactly as k6-operator starts a TestRun's runner
// pods — `--execution-segment=(i-1)/N:i/N --execution-segment-sequence=0,1/N,…,1 --paused --address
// <its API> --tag instance_id=i` (the operator adds `--quiet` and `--tag testrun_name=…` too) — then
// resumed through k6's REST API the way its starter job does (PATCH /v1/status, paused: false).
// Each runner writes its own log and samples under <run dir>/runner-<i>/; after they exit the
// samples are joined into the run's one k6-samples.json.gz (gzip members concatenate) and the raw
// trend samples of all runners are read back for the merged summary's percentiles.
import type { ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ProcessRegistry } from '../stack/processes.ts';
import { readK6Status, resumeK6 } from '../sidecar/k6-api.ts';
import { runnerSlot, segmentFlags } from '../shared/runners.ts';
import type { TrendSamples } from '../shared/summary-merge.ts';
import { ProcessStartError } from '../shared/errors.ts';
import { startK6, type K6Exit } from './k6-process.ts';

/** Each runner's raw samples (`--out json`): the merged summary's percentiles are computed from them. */
export const K6_SAMPLES_FILE = 'k6-samples.json.gz';

export interface RunnerProcess {
  index: number;
  api: string;
  dir: string;
  child: ChildProcess;
  done: Promise<K6Exit>;
}

export interface FleetOptions {
  k6: string;
  script: string;
  env: Record<string, string>;
  count: number;
  /** host:port of each runner's REST API, by index − 1 */
  addresses: string[];
  runDir: string;
  perSecond: boolean;
  /** the per-second source's k6 flags and process environment (every runner pushes to one receiver) */
  source?: { args: string[]; processEnv: Record<string, string> } | null;
  onLine?: (index: number, line: string) => void;
  onExit?: (index: number, exit: K6Exit) => void;
}

/** Starts N paused k6 runners (k6-operator's runner command line). Resume them with resumeFleet(). */
export function startFleet(opts: FleetOptions): RunnerProcess[] {
  const runners: RunnerProcess[] = [];
  for (let index = 1; index <= opts.count; index++) {
    const slot = runnerSlot(index, opts.count);
    const dir = join(opts.runDir, `runner-${index}`);
    mkdirSync(dir, { recursive: true });
    const address = opts.addresses[index - 1] as string;
    const started = startK6({
      k6: opts.k6,
      script: opts.script,
      env: opts.env,
      args: [
        '--quiet',
        ...segmentFlags(slot),
        '--paused',
        '--tag',
        `instance_id=${index}`,
        ...(opts.perSecond ? ['--out', `json=${join(dir, K6_SAMPLES_FILE)}`] : []),
        ...(opts.source?.args ?? []),
      ],
      ...(opts.source == null ? {} : { processEnv: opts.source.processEnv }),
      address,
      logFile: join(dir, 'k6.log'),
      ...(opts.onLine === undefined ? {} : { onLine: (line: string) => opts.onLine?.(index, line) }),
      stdout: 'log',
      detached: true,
    });
    // Detached, a runner would outlive a kill -9 of k6-ha and keep loading the target: the watchdog kills it.
    const watchdog = new ProcessRegistry(dir, 'k6.pid');
    if (started.child.pid !== undefined) watchdog.register(started.child.pid);
    started.child.on('exit', () => watchdog.dispose());
    const done = started.done.then((exit) => {
      opts.onExit?.(index, exit);
      return exit;
    });
    runners.push({ index, api: `http://${address}`, dir, child: started.child, done });
  }
  return runners;
}

/**
 * Waits until every runner's REST API answers (k6 initialised its VUs and sits paused), then
 * resumes them all, as k6-operator's starter does once every runner pod is ready. Throws when a
 * runner exits or is not up within waitMs — naming it; the caller stops the others.
 */
export async function resumeFleet(runners: RunnerProcess[], waitMs = 120_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  const exited = new Map<number, K6Exit>();
  for (const r of runners) void r.done.then((e) => exited.set(r.index, e)).catch(() => undefined);
  for (const r of runners) {
    for (;;) {
      const e = exited.get(r.index);
      if (e !== undefined)
        throw new ProcessStartError(
          `runner ${r.index} (k6) exited with code ${e.exitCode} before it could be resumed: ${e.lastLines.slice(-3).join(' | ')} (see ${join(r.dir, 'k6.log')})`,
        );
      const status = await readK6Status(r.api, 1000);
      if (status !== null) break;
      if (Date.now() > deadline)
        throw new ProcessStartError(
          `runner ${r.index}'s k6 REST API (${r.api}) did not answer within ${waitMs / 1000} s`,
        );
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  const codes = await Promise.all(runners.map((r) => resumeK6(r.api)));
  const refused = runners.filter((_, i) => codes[i] !== 200);
  if (refused.length > 0)
    throw new ProcessStartError(
      `k6 refused to resume runner(s) ${refused.map((r) => `${r.index} (HTTP ${codes[runners.indexOf(r)]})`).join(', ')}`,
    );
}

/**
 * The run's verdict from its runners' exit codes: 0 when every runner passed; 99 when a gate
 * failed on any runner (they all judged the same merged chaos_* values) and the others passed,
 * failed a gate or were killed — a killed runner is already in the merged verdict
 * (chaos_unmeasured); otherwise the first other code (k6 could not run, a script error).
 */
export function fleetExitCode(codes: number[]): number {
  if (codes.every((c) => c === 0)) return 0;
  const killed = (c: number): boolean => c > 128 && c < 160;
  if (codes.some((c) => c === 99) && codes.every((c) => c === 0 || c === 99 || killed(c))) return 99;
  return codes.find((c) => c !== 0 && c !== 99) ?? 99;
}

/**
 * Joins the samples files of the runners that exited by themselves (`complete`; a killed k6 leaves
 * its gzip stream cut off) into <run dir>/k6-samples.json.gz: concatenated gzip members are one
 * gzip stream.
 */
export async function joinSamples(
  runners: RunnerProcess[],
  runDir: string,
  complete: number[],
): Promise<string | null> {
  const files = runners
    .filter((r) => complete.includes(r.index))
    .map((r) => join(r.dir, K6_SAMPLES_FILE))
    .filter((f) => existsSync(f));
  if (files.length === 0) return null;
  const out = join(runDir, K6_SAMPLES_FILE);
  const sink = createWriteStream(out);
  for (const f of files) await pipeline(createReadStream(f), sink, { end: false });
  await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return out;
}

/** `http_req_duration{name:publish,status:204}` → the metric and its tag filter. */
export function parseMetricKey(key: string): { metric: string; tags: Array<[string, string]> } {
  const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key);
  if (m === null) return { metric: key, tags: [] };
  const tags = (m[2] ?? '')
    .split(',')
    .filter((t) => t.includes(':'))
    .map((t): [string, string] => {
      const at = t.indexOf(':');
      return [t.slice(0, at).trim(), t.slice(at + 1).trim()];
    });
  return { metric: m[1] as string, tags };
}

/**
 * Every sample of the samples file for each of `keys` — summary metric keys, with or without a
 * tag filter (`http_req_duration`, `http_req_duration{name:publish}`) — what the merged
 * percentiles are computed from.
 */
export async function readTrendSamples(file: string, keys: readonly string[]): Promise<TrendSamples> {
  const wanted = keys.map((key) => ({ key, ...parseMetricKey(key) }));
  const byMetric = new Map<string, typeof wanted>();
  for (const w of wanted) byMetric.set(w.metric, [...(byMetric.get(w.metric) ?? []), w]);
  const out: TrendSamples = new Map(keys.map((k) => [k, []]));
  let failure: Error | null = null;
  const gunzip = createGunzip();
  const rl = createInterface({ input: createReadStream(file).pipe(gunzip), crlfDelay: Infinity });
  // readline's iterator does not end on an input error by itself.
  gunzip.on('error', (err) => {
    failure = err;
    rl.close();
  });
  for await (const line of rl) {
    const metric = /^\{"metric":"([^"]+)","type":"Point"/.exec(line)?.[1];
    if (metric === undefined) continue;
    const forMetric = byMetric.get(metric);
    if (forMetric === undefined) continue;
    const point = JSON.parse(line) as { data: { value: number; tags?: Record<string, string> } };
    const tags = point.data.tags ?? {};
    for (const w of forMetric) if (w.tags.every(([k, v]) => tags[k] === v)) out.get(w.key)?.push(point.data.value);
  }
  if (failure !== null) throw new Error(`cannot read ${file}: ${(failure as Error).message}`, { cause: failure });
  return out;
}
