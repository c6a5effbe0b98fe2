// `k6-ha run --runners 3`: three real k6 processes started as k6-operator starts a TestRun's
// runners (execution segments, --paused, instance_id), resumed over their REST API, against the
// real local JetStream stack with the R3 leader killed — one chaos plan, one merged accounting,
// one verdict; and a runner killed with SIGKILL mid-run fails the merged verdict closed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Accounting } from '../../lib/shared/types.ts';
import type { PerSecondData } from '../../lib/report/per-second.ts';
import {
  onlyRunDir,
  readJson,
  readTimeline,
  requireK6,
  runCli,
  scratchDir,
  startCli,
  writeExperiment,
} from '../support/cli.ts';

interface MergedSummary {
  accounting: Accounting;
  metrics: Record<string, { values: Record<string, number>; thresholds: Record<string, { ok: boolean }> }>;
  k6ha: {
    notes: string[];
    derived: Record<string, number | null>;
    merged: {
      runners: number;
      summaries: number[];
      lost: Array<{ index: number; name: string; why: string }>;
      perRunner: Array<{ index: number; iterations: number }>;
    };
  };
}

const idsIn = (file: string): Set<string> =>
  new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== ''),
  );

const experiment = (name: string, plan: unknown[], env: Record<string, string>): Record<string, unknown> => ({
  name,
  scenario: 'jetstream-publish',
  target: { kind: 'local', stack: 'jetstream', replicas: 3 },
  env,
  thresholds: 'ha-strict',
  plan,
});

describe(
  'several k6 runners, one merged verdict (real k6 ×3, real nats-server)',
  { timeout: 600_000, concurrency: false },
  () => {
    it('R3 leader kill with --runners 3: the plan runs once, the merged accounting is exact, every acked id is in the stream, one verdict', async () => {
      await requireK6();
      const dir = scratchDir('runners3');
      const file = writeExperiment(
        dir,
        experiment(
          't-runners3-leader-kill',
          [{ id: 'kill-leader', at: '6s', action: 'kill', target: { leaderOf: 'sap' }, restartAfter: '6s' }],
          { RATE: '150', DURATION: '18s', REQUEST_TIMEOUT: '3s' },
        ),
      );
      const res = await runCli(['run', file, '--runners', '3', '--out-dir', dir], { timeoutMs: 240_000 });
      assert.equal(res.code, 0, `ha-strict should pass with 3 runners:\n${res.stdout}\n${res.stderr}`);
      const runDir = onlyRunDir(dir);
      const s = readJson<MergedSummary>(join(runDir, 'summary.json'));
      const a = s.accounting;

      // One plan execution, one load start, every runner registered and finished.
      const timeline = readTimeline(runDir);
      assert.equal(timeline.filter((e) => e.source === 'plan' && e.kind === 'executed').length, 1, 'the plan ran once');
      assert.equal(timeline.filter((e) => e.kind === 'load-started').length, 1, 'one shared load start');
      const registered = timeline.filter((e) => e.kind === 'runner-registered');
      assert.deepEqual(
        registered.map((e) => e.detail['segment']).sort(),
        ['0:1/3', '1/3:2/3', '2/3:1'],
        "each runner registered with k6-operator's segment",
      );
      assert.deepEqual(registered.map((e) => e.detail['instance_id']).sort(), ['1', '2', '3']);
      const finished = timeline.filter((e) => e.kind === 'runner-finished');
      assert.equal(finished.length, 3);

      // Exact merged accounting: the runners' sent adds up to acked + failed + unknown.
      const sentByRunners = finished.reduce((sum, e) => sum + Number(e.detail['iterations']), 0);
      assert.equal(a.attempted, sentByRunners, 'attempted is the sum of what each runner sent');
      assert.equal(a.acked + a.failed + a.unknown, sentByRunners, 'every event of every runner has one outcome');
      assert.equal(a.lost, 0);
      assert.equal(a.duplicates, 0);
      assert.equal(a.unexpected, 0, 'no id outside the runners’ own numbering');
      assert.ok(a.unknown + a.failed > 0, `the kill cost some publishes (${a.failed} failed, ${a.unknown} unknown)`);
      assert.deepEqual(
        a.runners?.map((r) => [r.index, r.finished]),
        [
          [1, true],
          [2, true],
          [3, true],
        ],
      );
      // The merged k6 counters agree with the accounting.
      assert.equal(s.metrics['iterations']?.values['count'], sentByRunners, 'merged iterations = sum of runners');
      assert.deepEqual(s.k6ha.merged.summaries, [1, 2, 3], 'one summary from each runner');
      assert.equal(
        s.k6ha.merged.perRunner.reduce((sum, r) => sum + r.iterations, 0),
        sentByRunners,
        "the runners' own summaries add up",
      );

      // Every id the publisher acked is in the stream (the sink read all of it), and ids follow the
      // per-runner numbering: runner i owns seq ≡ i−1 (mod 3).
      const publisherAcked = idsIn(join(runDir, 'publisher-acked-ids.log'));
      const inStream = idsIn(join(runDir, 'sink-ids.log'));
      assert.equal(a.missingAtSink, 0);
      assert.equal(inStream.size, a.inStream, 'the sink holds exactly what the stream holds');
      for (const id of publisherAcked) assert.ok(inStream.has(id), `acked ${id} is in the stream`);
      const perResidue = [0, 0, 0];
      for (const id of inStream) {
        const seq = Number(id.slice(id.lastIndexOf('-') + 1));
        perResidue[seq % 3] = (perResidue[seq % 3] ?? 0) + 1;
      }
      assert.ok(
        perResidue.every((n) => n > 0),
        `each runner's events reached the stream: ${perResidue.join(', ')}`,
      );

      // Merged latency from all runners' raw samples: percentiles in order and the p95 in the derived figures.
      const lat = s.metrics['http_req_duration{name:publish}']?.values ?? {};
      assert.ok(lat['p(95)'] !== undefined && lat['p(99)'] !== undefined && lat['max'] !== undefined);
      assert.ok((lat['med'] ?? 0) <= (lat['p(95)'] ?? 0) && (lat['p(95)'] ?? 0) <= (lat['p(99)'] ?? 0));
      assert.equal(s.k6ha.derived['publish_latency_p95_ms'], lat['p(95)']);
      assert.equal(s.k6ha.derived['publish_attempted'], sentByRunners);
      // One merged junit and report.
      const junit = readFileSync(join(runDir, 'junit.xml'), 'utf8');
      assert.ok(!junit.includes('<failure'), 'no gate failed in the merged junit');
      assert.ok(existsSync(join(runDir, 'report.html')));
      for (const i of [1, 2, 3])
        assert.ok(existsSync(join(runDir, `runner-${i}`, 'k6.log')), `runner ${i} has its log`);
      // Per-second data of the whole fleet: all runners pushed to one receiver; each second's rows
      // add up exactly to the merged accounting (publishes by k6, not acked by the sidecar).
      const perSecond = readJson<PerSecondData>(join(runDir, 'per-second.json'));
      const ps = perSecond.series['publish'];
      assert.ok(ps !== undefined, 'a fleet has per-second charts');
      const total = (c: number[]): number => c.reduce((x, y) => x + y, 0);
      assert.equal(total(ps.sent), sentByRunners, "the fleet's seconds add up to every runner's publishes");
      assert.equal(total(ps.failed) + total(ps.unknown), a.failed + a.unknown);
      assert.ok(
        ps.t.length >= 16 && ps.t.length <= 24,
        `one row a second for the 18 s load, the runners merged: ${ps.t.length} rows`,
      );
    });

    it('kill -9 of one runner mid-run: the merged verdict fails closed (chaos_unmeasured) and names the runner', async () => {
      await requireK6();
      const dir = scratchDir('runners3-kill');
      const file = writeExperiment(
        dir,
        experiment('t-runners3-runner-killed', [], { RATE: '90', DURATION: '14s', REQUEST_TIMEOUT: '3s' }),
      );
      const cli = startCli(['run', file, '--runners', '3', '--out-dir', dir], { timeoutMs: 240_000 });
      // Runner 2's k6 pid, from the watchdog file its start wrote, once its load runs.
      let killed = false;
      const started = Date.now();
      while (!killed && Date.now() - started < 120_000) {
        await new Promise((r) => setTimeout(r, 500));
        let runDir: string;
        try {
          runDir = onlyRunDir(dir);
        } catch {
          continue;
        }
        const timelineFile = join(runDir, 'timeline.jsonl');
        if (!existsSync(timelineFile) || !readFileSync(timelineFile, 'utf8').includes('"load-started"')) continue;
        await new Promise((r) => setTimeout(r, 5000));
        const pid = Number(readFileSync(join(runDir, 'runner-2', 'k6.pid'), 'utf8').trim());
        assert.ok(pid > 0, 'runner 2 has a pid');
        process.kill(pid, 'SIGKILL');
        killed = true;
      }
      assert.ok(killed, 'runner 2 was killed during the load');
      const res = await cli.result;
      assert.equal(res.code, 99, `a lost runner fails the merged verdict:\n${res.stdout}\n${res.stderr}`);
      const runDir = onlyRunDir(dir);
      const s = readJson<MergedSummary>(join(runDir, 'summary.json'));
      assert.ok((s.metrics['chaos_unmeasured']?.values['count'] ?? 0) >= 1, 'chaos_unmeasured counts the lost runner');
      assert.equal(s.metrics['chaos_unmeasured']?.thresholds['count==0']?.ok, false, 'its gate failed');
      assert.deepEqual(
        s.k6ha.merged.lost.map((l) => l.index),
        [2],
        'the merge names runner 2 as lost',
      );
      assert.ok(
        s.k6ha.notes.some((n) => n.includes('runner 2/3 (segment 1/3:2/3)')),
        `a note names the runner: ${s.k6ha.notes.join(' | ')}`,
      );
      const a = s.accounting;
      assert.equal(a.lost, 0, 'nothing counts as lost: a dead runner’s unreported events are unknown');
      assert.equal(a.acked + a.failed + a.unknown, a.attempted);
      assert.equal(a.runners?.[1]?.finished, false);
      const junit = readFileSync(join(runDir, 'junit.xml'), 'utf8');
      assert.ok(junit.includes('<failure'), 'the merged junit has the failed gate');
      const lostEvent = readTimeline(runDir).find((e) => e.kind === 'runner-lost');
      assert.equal(lostEvent?.detail['runner'], 2);
      assert.match(res.stderr, /runners exited [0-9]+, 137, [0-9]+ → 99/);
    });
  },
);
