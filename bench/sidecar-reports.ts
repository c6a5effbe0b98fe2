// Benchmark — how many failure reports one sidecar absorbs with none lost. Every publish that is
// not acked is one POST /v1/outcomes from the VU that saw it, so during an outage the sidecar
// takes the whole event rate as reports. One `k6-ha run` per rate, each the seed's scenario 2
// shape (the R1 stream leader's member down for 20 s) at 1,000, 1,400, 2,000 and 3,000 events/s
// (a rate whose VUs would need more open files than `ulimit -n` allows is refused, and recorded so):
//   undelivered: k6's outcome_reports_undelivered at the end (goal 0) — and LOST (goal 0);
//   the sidecar's CPU: the `k6-ha run` process (sidecar, control API, observers), in cores over
//     the run and in µs per report received;
//   handling: p99 of arrival → response for POST /v1/outcomes, and the sidecar's event-loop delay
//     p99 (requests wait behind it), both from the run's `control-api` timeline entry.
//
//   node --import tsx bench/sidecar-reports.ts [--rates 1000,1400,2000,3000] [--outage 20]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { parseExperiment } from '../lib/experiment/experiment.ts';
import { openFilesLimit, openFilesProblem } from '../lib/run/prepare.ts';
import type { Accounting } from '../lib/shared/types.ts';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';
import { buildScenarios } from '../lib/run/k6-process.ts';
import { CpuMeter, loadNow, machineInfo, out, readTimeline, runK6Ha, saveResult } from './support.ts';

const opts = new Command('bench/sidecar-reports.ts')
  .description('failure reports one sidecar absorbs with none lost: an R1 leader outage at several event rates')
  .option(
    '--rates <list>',
    'events per second, comma-separated',
    (v) => {
      const rates = v.split(',').map((x) => Number(x.trim()));
      if (rates.length === 0 || rates.some((r) => !Number.isInteger(r) || r < 1 || r > 3029))
        throw new InvalidArgumentError(
          `"${v}": whole numbers from 1 to 3029 (the most k6 holds VUs for at a 5 s timeout), comma-separated`,
        );
      return rates;
    },
    [1000, 1400, 2000, 3000],
  )
  .option(
    '--outage <seconds>',
    'how long the leader stays down',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 5 || n > 120)
        throw new InvalidArgumentError(`"${v}": whole seconds from 5 to 120`);
      return n;
    },
    20,
  )
  .parse()
  .opts<{ rates: number[]; outage: number }>();
const command = `node --import tsx bench/sidecar-reports.ts --rates ${opts.rates.join(',')} --outage ${opts.outage}`;

interface RateResult {
  rate: number;
  k6haExit: number;
  runDir: string;
  reports: number;
  undelivered: number | null;
  lost: number;
  dropped: number | null;
  sidecarCores: number;
  machineCores: number;
  cpuUsPerReport: number | null;
  handlingP99Ms: number | null;
  handlingMaxMs: number | null;
  loopDelayP99Ms: number | null;
  loopDelayMaxMs: number | null;
  met: boolean;
  /** why k6-ha refused this rate before starting (the open-file limit) */
  refused?: string;
}

const machine = await machineInfo();
await buildScenarios();
const dir = mkdtempSync(join(tmpdir(), 'bench-sidecar-reports-'));
const results: RateResult[] = [];
try {
  for (const rate of opts.rates) {
    const durationS = 5 + opts.outage + 10;
    const experiment = {
      name: `bench-sidecar-reports-${rate}`,
      description: `benchmark: the R1 stream leader down for ${opts.outage} s at ${rate} events/s; every failed publish is a report`,
      scenario: 'jetstream-publish',
      target: { kind: 'local', stack: 'jetstream', replicas: 1 },
      env: { RATE: String(rate), DURATION: `${durationS}s`, REQUEST_TIMEOUT: '5s' },
      thresholds: 'ha-observe',
      plan: [
        { id: 'lose-leader', at: '5s', action: 'kill', target: { leaderOf: 'sap' }, restartAfter: `${opts.outage}s` },
      ],
    };
    const file = join(dir, `${experiment.name}.json`);
    writeFileSync(file, JSON.stringify(experiment, null, 2));
    out(`\n${rate} events/s, leader down ${opts.outage} s of ${durationS} s (load average ${loadNow()})`);
    let pid: number | undefined;
    const cpu = new CpuMeter(() => ({ sidecar: pid }));
    // Every VU holds a connection to the publisher and one to the sidecar during the outage: past
    // what `ulimit -n` allows k6-ha refuses the run before it starts (lib/run/prepare.ts), and
    // that refusal is this rate's result.
    const refused = openFilesProblem(parseExperiment(experiment, file));
    if (refused !== null) {
      out(`  refused before anything started: ${refused}`);
      results.push({
        rate,
        k6haExit: 2,
        runDir: '-',
        reports: 0,
        undelivered: null,
        lost: 0,
        dropped: null,
        sidecarCores: 0,
        machineCores: 0,
        cpuUsPerReport: null,
        handlingP99Ms: null,
        handlingMaxMs: null,
        loopDelayP99Ms: null,
        loopDelayMaxMs: null,
        met: false,
        refused,
      });
      continue;
    }
    const run = await runK6Ha([file], (p) => {
      pid = p;
      cpu.begin();
    });
    const cores = cpu.end();
    const summary = JSON.parse(readFileSync(join(run.runDir, 'summary.json'), 'utf8')) as {
      accounting: Accounting | null;
      k6ha?: { notes?: string[] };
    };
    // No accounting: the sidecar never got k6's finish (it is then unmeasured, and so is this rate).
    const a: Accounting =
      summary.accounting ?? ({ reportsUndelivered: null, lost: 0, dropped: null } as unknown as Accounting);
    if (summary.accounting === null)
      out(
        `  no accounting: ${(summary.k6ha?.notes ?? []).join(' | ') || "the sidecar did not get k6's finish"} (see ${relative(PROJECT_ROOT, run.runDir)}/k6.log)`,
      );
    const control = readTimeline(run.runDir).find((e) => e.kind === 'control-api')?.detail ?? {};
    const reports = Number(control['outcomeRecords'] ?? 0);
    const runSeconds = durationS + 15;
    const sidecarCores = cores['sidecar'] ?? 0;
    const result: RateResult = {
      rate,
      k6haExit: run.code,
      runDir: relative(PROJECT_ROOT, run.runDir),
      reports,
      undelivered: a.reportsUndelivered ?? null,
      lost: a.lost,
      dropped: a.dropped,
      sidecarCores,
      machineCores: cores['machine'] ?? 0,
      // CPU over the whole run divided by the reports: an upper bound (the run also observes the stream).
      cpuUsPerReport: reports > 0 ? Math.round((sidecarCores * runSeconds * 1e6) / reports) : null,
      handlingP99Ms: (control['outcomesHandlingP99Ms'] as number | null) ?? null,
      handlingMaxMs: (control['outcomesHandlingMaxMs'] as number | null) ?? null,
      loopDelayP99Ms: (control['eventLoopDelayP99Ms'] as number | null) ?? null,
      loopDelayMaxMs: (control['eventLoopDelayMaxMs'] as number | null) ?? null,
      met: summary.accounting !== null && a.reportsUndelivered === 0 && a.lost === 0,
    };
    results.push(result);
    out(
      `  reports received ${reports.toLocaleString('en-US')}, undelivered ${result.undelivered}, LOST ${result.lost}, dropped iterations ${result.dropped}, k6-ha exit ${run.code}`,
    );
    out(
      `  sidecar CPU ${sidecarCores} cores (machine ${result.machineCores} of ${machine.nproc}), ≤ ${result.cpuUsPerReport} µs per report`,
    );
    out(
      `  POST /v1/outcomes handling p99 ${result.handlingP99Ms} ms (max ${result.handlingMaxMs}); event-loop delay p99 ${result.loopDelayP99Ms} ms (max ${result.loopDelayMaxMs})`,
    );
    out(`  run: ${result.runDir}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const absorbed = results.filter((r) => r.met).map((r) => r.rate);
const highest = absorbed.length === 0 ? null : Math.max(...absorbed);
for (const r of results) {
  out(
    r.refused !== undefined
      ? `RESULT reports at ${r.rate}/s: refused before start (open files: ulimit -n ${openFilesLimit() ?? '?'})`
      : `RESULT reports at ${r.rate}/s: ${r.reports} received, ${r.undelivered} undelivered, ${r.lost} lost; handling p99 ${r.handlingP99Ms} ms; sidecar ${r.sidecarCores} cores (${r.met ? 'none lost' : 'SOME LOST or unmeasured'})`,
  );
}
out(`RESULT highest rate with no report lost: ${highest === null ? 'none of the rates' : `${highest}/s`}`);
out(`load average after: ${loadNow()}`);
out(`command: ${command}`);
saveResult('sidecar-reports', {
  command,
  machine,
  openFilesLimit: openFilesLimit(),
  loadAfter: loadNow(),
  outageSeconds: opts.outage,
  results,
  highestAbsorbed: highest,
});
// The goal: every rate this machine lets k6 hold is absorbed with nothing lost.
process.exitCode = results.every((r) => r.met || r.refused !== undefined) ? 0 : 1;
