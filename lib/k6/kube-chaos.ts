// Chaos from inside k6, for runs where no sidecar is reachable (a lone k6 pod, k6 Cloud private
// load zones): a one-iteration `chaos` scenario that executes the experiment's Kubernetes plan at
// its offsets from the load start — deletePod by name, labelSelector or leaderOf (the JetStream
// stream leader read from NATS monitoring, GET /jsz?streams=true over k6/http) — waits until the
// pod (or the selector's count) is Ready again, and records each step with its time. Under
// execution segments its single VU lands in one runner, so the plan runs once.
//
// Safety as with the sidecar: only namespaces of target.namespaces (checked when the plan is
// parsed), at most blastRadius pods per action (more matches → the action is refused, nothing is
// deleted), and a dry run (CHAOS_DRY_RUN=true) that resolves the targets and asks the API server
// for a server-side dry run of the DELETE (backend 2) — it deletes nothing.
//
// The timeline reaches handleSummary() as check names (`k6ha-chaos {…}`): a VU has no other
// channel to the end-of-test summary; lib/k6/summary-handler.ts turns them back into entries.
import { check, sleep } from 'k6';
import http from 'k6/http';
import {
  appliedGracePeriod,
  chaosEventCheckName,
  type InK6Action,
  type InK6ChaosConfig,
  type InK6ChaosEvent,
  type InK6Plan,
} from '../shared/in-k6-plan.ts';
import type { KubeBackend, PodView } from './kube-backend.ts';

const POLL_S = 0.5;

/** The scenario entry for options.scenarios: one VU, one iteration, long enough for the whole plan. */
export function chaosScenario(plan: InK6Plan, cfg: InK6ChaosConfig): Record<string, unknown> {
  const last = plan.actions.reduce((max, a) => Math.max(max, a.atMs), 0);
  const maxMs = last + plan.actions.length * cfg.readyTimeoutMs + 60_000;
  return {
    executor: 'per-vu-iterations',
    vus: 1,
    iterations: 1,
    maxDuration: `${Math.ceil(maxMs / 1000)}s`,
    exec: 'chaos',
    tags: { k6ha: 'chaos' },
  };
}

function record(zeroMs: number, e: Omit<InK6ChaosEvent, 'offset_ms' | 'ts'>): void {
  const now = Date.now();
  const event: InK6ChaosEvent = { offset_ms: now - zeroMs, ts: new Date(now).toISOString(), ...e };
  console.log(
    `k6-ha chaos: t+${(event.offset_ms / 1000).toFixed(1)}s ${e.kind} ${e.action_id}${e.target ? ` ${e.target}` : ''}`,
  );
  // The check always passes: it carries the entry, a failed action says so in its kind.
  check(null, { [chaosEventCheckName(event)]: () => true }, { k6ha: 'chaos' });
}

/** The JetStream leader of `stream` from NATS monitoring (the first endpoint that knows one). */
export function jetstreamLeader(monitorUrls: string[], stream: string): string | null {
  for (const url of monitorUrls) {
    const res = http.get(`${url}/jsz?streams=true`, { timeout: '5s', tags: { k6ha: 'control', name: 'nats-jsz' } });
    if (res.status !== 200) continue;
    try {
      const body = JSON.parse(String(res.body)) as {
        account_details?: Array<{ stream_detail?: Array<{ name?: string; cluster?: { leader?: string } }> }>;
      };
      for (const acc of body.account_details ?? [])
        for (const s of acc.stream_detail ?? []) if (s.name === stream && s.cluster?.leader) return s.cluster.leader;
    } catch {
      // try the next endpoint
    }
  }
  return null;
}

/** The pods an action targets now, sorted by name; a reason string when it cannot say. */
function resolve(action: InK6Action, plan: InK6Plan, cfg: InK6ChaosConfig, backend: KubeBackend): PodView[] | string {
  const t = action.target;
  if ('name' in t) {
    const pod = backend.getPod(t.namespace, t.name);
    return pod === null ? `pod ${t.namespace}/${t.name} not found` : [pod];
  }
  if ('labelSelector' in t) {
    const pods = backend
      .listPods(t.namespace, t.labelSelector)
      .filter((p) => !p.deleting)
      .sort((a, b) => a.name.localeCompare(b.name));
    return pods.length === 0 ? `no pod in ${t.namespace} matches ${t.labelSelector}` : pods;
  }
  if (cfg.natsMonitorUrls.length === 0)
    return 'leaderOf needs NATS_MONITOR_URL (the NATS monitoring endpoint, port 8222)';
  const server = jetstreamLeader(cfg.natsMonitorUrls, t.leaderOf);
  if (server === null) return `no leader of stream ${t.leaderOf} in ${cfg.natsMonitorUrls.join(', ')}`;
  const podName = plan.serverPods[server] ?? server;
  const pod = backend.getPod(t.namespace, podName);
  return pod === null ? `the leader ${server} has no pod ${t.namespace}/${podName}` : [pod];
}

/** Waits until every deleted pod is back Ready (same name, new uid) or the selector has as many Ready pods as before. */
function waitReady(
  action: InK6Action,
  deleted: PodView[],
  readyBefore: number,
  backend: KubeBackend,
  timeoutMs: number,
): boolean {
  const deadline = Date.now() + timeoutMs;
  const t = action.target;
  const gone = new Set(deleted.map((p) => p.uid));
  while (Date.now() < deadline) {
    let done: boolean;
    if ('labelSelector' in t) {
      const pods = backend.listPods(t.namespace, t.labelSelector);
      done = pods.filter((p) => p.ready && !p.deleting && !gone.has(p.uid)).length >= readyBefore;
    } else {
      done = deleted.every((d) => {
        const now = backend.getPod(d.namespace, d.name);
        return now !== null && now.uid !== d.uid && now.ready && !now.deleting;
      });
    }
    if (done) return true;
    sleep(POLL_S);
  }
  return false;
}

function runAction(
  action: InK6Action,
  plan: InK6Plan,
  cfg: InK6ChaosConfig,
  backend: KubeBackend,
  zeroMs: number,
): void {
  const base = { action_id: action.id };
  const selector = JSON.stringify(action.target);
  let found: PodView[] | string;
  try {
    found = resolve(action, plan, cfg, backend);
  } catch (err) {
    found = String(err);
  }
  if (typeof found === 'string') {
    record(zeroMs, { ...base, kind: 'failed', target: null, detail: { selector, error: found } });
    return;
  }
  const chosen = action.pick === 'one' ? found.slice(0, 1) : found;
  if (chosen.length > plan.blastRadius) {
    record(zeroMs, {
      ...base,
      kind: 'refused',
      target: null,
      detail: {
        selector,
        matched: chosen.length,
        blast_radius: plan.blastRadius,
        reason: `${chosen.length} pods match, more than blastRadius ${plan.blastRadius}: nothing deleted`,
      },
    });
    return;
  }
  const t = action.target;
  const readyBefore = 'labelSelector' in t ? found.filter((p) => p.ready).length : chosen.length;
  const started = Date.now();
  const grace = appliedGracePeriod(action.gracePeriodS, backend.canGracePeriod, backend.name);
  for (const pod of chosen) {
    const res = backend.deletePod(pod.namespace, pod.name, action.gracePeriodS, cfg.dryRun);
    record(zeroMs, {
      ...base,
      kind: !res.ok ? 'failed' : cfg.dryRun ? 'dry-run' : 'executed',
      target: `${pod.namespace}/${pod.name}`,
      detail: {
        action: 'deletePod',
        selector,
        uid: pod.uid,
        backend: backend.name,
        grace_period_s: grace.grace_period_s,
        ...(grace.note === null ? {} : { note: grace.note }),
        skew_ms: Date.now() - zeroMs - action.atMs,
        server_dry_run: cfg.dryRun ? backend.canDryRun : null,
        error: res.error,
      },
    });
    if (!res.ok) return;
  }
  if (cfg.dryRun) return;
  const ok = waitReady(action, chosen, readyBefore, backend, cfg.readyTimeoutMs);
  record(zeroMs, {
    ...base,
    kind: ok ? 'ready' : 'not-ready',
    target: chosen.map((p) => `${p.namespace}/${p.name}`).join(','),
    detail: { after_ms: Date.now() - started, timeout_ms: ok ? null : cfg.readyTimeoutMs },
  });
}

/** The chaos VU's one iteration: every action at its offset from `zeroMs` (the load start). */
export function runChaosPlan(plan: InK6Plan, cfg: InK6ChaosConfig, backend: KubeBackend, zeroMs: number): void {
  for (const action of plan.actions) {
    record(zeroMs, {
      action_id: action.id,
      kind: 'scheduled',
      target: null,
      detail: { at: action.at, selector: JSON.stringify(action.target), dry_run: cfg.dryRun },
    });
  }
  for (const action of plan.actions) {
    const wait = zeroMs + action.atMs - Date.now();
    if (wait > 0) sleep(wait / 1000);
    runAction(action, plan, cfg, backend, zeroMs);
  }
}
