// The setup() and teardown() halves every k6-ha scenario shares: tell the sidecar that load starts
// (the zero of its chaos schedule) and, at the end, record its results as chaos_* metrics.
import exec from 'k6/execution';
import type { StartRequest } from '../shared/control-api.ts';
import { runnerName, slotOf } from '../shared/runners.ts';
import { recordChaosMetrics, recordChaosUnmeasured } from './chaos-metrics.ts';
import { sidecarFinish, sidecarStart } from './sidecar-client.ts';

export interface SidecarSetupData {
  runTag: string;
  /** the sidecar's URL when it answered setup(), else null (plain load) */
  sidecar: string | null;
  /** which runner this k6 is (1 of 1 unless started with an execution segment): event ids are `iterationInInstance × count + index − 1` */
  runner: { index: number; count: number };
}

/** This k6's runner index and the run's runner count (1 of 1 without execution segments). */
export function runnerOfThisK6(): { index: number; count: number } {
  const me = thisRunner();
  return { index: me.index, count: me.count };
}

/** This k6's place among the run's runners, from its own options (k6-operator's --execution-segment flags). */
function thisRunner(): { identity: NonNullable<StartRequest['runner']>; index: number; count: number; name: string } {
  const options = exec.test.options as unknown as {
    executionSegment?: string | null;
    executionSegmentSequence?: string | null;
    tags?: Record<string, string> | null;
  };
  const identity = {
    segment: options.executionSegment ?? null,
    sequence: options.executionSegmentSequence ?? null,
    instanceId: options.tags?.['instance_id'] ?? null,
  };
  const slot = slotOf(identity.segment, identity.sequence);
  if (typeof slot === 'string') {
    // Ids would collide or leave gaps the accounting reads as loss: no load rather than a wrong verdict.
    exec.test.abort(`k6-ha: ${slot}`);
    throw new Error(slot);
  }
  return { identity, index: slot.index, count: slot.count, name: runnerName(slot) };
}

/** A run tag shared by all VUs: made once in setup(), since init code runs once per VU. */
export function newRunTag(): string {
  return `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export function startWithSidecar(
  sidecarUrl: string | undefined,
  start: StartRequest,
  plainNote: string,
): SidecarSetupData {
  const me = thisRunner();
  const runner = { index: me.index, count: me.count };
  if (sidecarUrl === undefined) {
    console.log(`k6-ha: no SIDECAR_URL — ${plainNote}`);
    return { runTag: start.runTag, sidecar: null, runner };
  }
  // With several runners the sidecar answers once all of them registered (or its wait ran out):
  // the load starts together, and that moment is the chaos schedule's zero for all of them.
  const started = sidecarStart(sidecarUrl, me.count === 1 ? start : { ...start, runner: me.identity });
  if (started !== null)
    console.log(
      `k6-ha: sidecar run ${started.runId}, plan "${started.planName}" with ${started.actions} action(s)${me.count === 1 ? '' : `, ${me.name}`}; load starts now`,
    );
  return { runTag: started?.runTag ?? start.runTag, sidecar: started === null ? null : sidecarUrl, runner };
}

export function finishWithSidecar(data: SidecarSetupData): void {
  if (data.sidecar === null) return;
  // teardown() cannot read k6's iteration counters; the sidecar asks k6's REST API instead.
  // With several runners the answer comes when all of them finished (or are known dead): the
  // merged results, the same for every runner, so each one's thresholds judge the whole run.
  const finished = sidecarFinish(data.sidecar, {
    runTag: data.runTag,
    attempted: null,
    ...(data.runner.count === 1 ? {} : { runner: data.runner.index }),
  });
  if (finished === null) {
    console.warn(
      'k6-ha: the sidecar did not return results; chaos_* metrics stay empty and chaos_unmeasured fails the run (see results/<run-id>/timeline.jsonl)',
    );
    recordChaosUnmeasured();
    return;
  }
  recordChaosMetrics(finished.metrics);
  for (const note of finished.notes) console.log(`k6-ha: ${note}`);
}
