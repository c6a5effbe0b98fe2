// The setup() and teardown() halves every k6-ha scenario shares: tell the sidecar that load starts
// (the zero of its chaos schedule) and, at the end, record its results as chaos_* metrics.
import type { StartRequest } from '../shared/control-api.ts';
import { recordChaosMetrics, recordChaosUnmeasured } from './chaos-metrics.ts';
import { sidecarFinish, sidecarStart } from './sidecar-client.ts';

export interface SidecarSetupData {
  runTag: string;
  /** the sidecar's URL when it answered setup(), else null (plain load) */
  sidecar: string | null;
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
  if (sidecarUrl === undefined) {
    console.log(`k6-ha: no SIDECAR_URL — ${plainNote}`);
    return { runTag: start.runTag, sidecar: null };
  }
  const started = sidecarStart(sidecarUrl, start);
  if (started !== null)
    console.log(
      `k6-ha: sidecar run ${started.runId}, plan "${started.planName}" with ${started.actions} action(s); load starts now`,
    );
  return { runTag: start.runTag, sidecar: started === null ? null : sidecarUrl };
}

export function finishWithSidecar(data: SidecarSetupData): void {
  if (data.sidecar === null) return;
  // teardown() cannot read k6's iteration counters; the sidecar asks k6's REST API instead.
  const finished = sidecarFinish(data.sidecar, { runTag: data.runTag, attempted: null });
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
