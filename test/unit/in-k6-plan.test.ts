// The plan as the in-k6 chaos scenario reads it: the experiment format, refused where the
// executor inside k6 cannot follow it, before any load.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appliedGracePeriod,
  chaosEventCheckName,
  chaosEventsOfChecks,
  durationMs,
  inK6ChaosConfigFrom,
  labelSelectorMatcher,
  parseInK6Plan,
} from '../../lib/shared/in-k6-plan.ts';
import { buildFailureReason } from '../../lib/tools/xk6.ts';

const exp = (plan: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'x',
  target: { kind: 'kubernetes', context: 'c', namespaces: ['kyma-system', 'other'], serverPods: { s1: 'pod-1' } },
  blastRadius: 2,
  plan,
  ...extra,
});

describe('in-k6 chaos plan', () => {
  it('reads deletePod by name, labelSelector and leaderOf, sorted by offset, namespace defaulting to the first', () => {
    const p = parseInK6Plan(
      exp([
        { id: 'b', at: '1m30s', action: 'deletePod', target: { leaderOf: 'sap' }, gracePeriod: '5s' },
        { at: '10s', action: 'deletePod', target: { labelSelector: 'app=x', namespace: 'other' }, pick: 'all' },
        { id: 'a', at: '500ms', action: 'deletePod', target: { name: 'pod-0' } },
      ]),
    );
    assert.deepEqual(
      p.actions.map((a) => [a.id, a.atMs, a.target.namespace, a.pick, a.gracePeriodS]),
      [
        ['a', 500, 'kyma-system', 'one', null],
        ['deletePod-1', 10_000, 'other', 'all', null],
        ['b', 90_000, 'kyma-system', 'one', 5],
      ],
    );
    assert.equal(p.blastRadius, 2);
    assert.deepEqual(p.serverPods, { s1: 'pod-1' });
  });

  it('refuses, naming the field, the value and what is allowed', () => {
    assert.throws(
      () => parseInK6Plan({ ...exp([]), target: { kind: 'local' } }),
      /target\.kind: "local" is not allowed — expected "kubernetes"/,
    );
    assert.throws(
      () => parseInK6Plan(exp([{ at: '1s', action: 'deletePod', target: { name: 'p', namespace: 'kube-system' } }])),
      /plan\[0\]\.target\.namespace: "kube-system" is not allowed — expected one of target\.namespaces \(kyma-system, other\)/,
    );
    assert.throws(
      () => parseInK6Plan(exp([{ at: '1s', action: 'kill', target: { name: 'p' } }])),
      /plan\[0\]\.action: "kill" is not allowed — expected "deletePod"/,
    );
    assert.throws(
      () => parseInK6Plan(exp([{ at: 'soon', action: 'deletePod', target: { name: 'p' } }])),
      /plan\[0\]\.at: "soon" is not allowed — expected a duration/,
    );
    assert.throws(
      () => parseInK6Plan(exp([{ at: '1s', action: 'deletePod', target: { notLeaderOf: 'sap' } }])),
      /notLeaderOf needs the sidecar/,
    );
  });

  it('reads its settings from the environment, refusing bad values by name', () => {
    assert.equal(inK6ChaosConfigFrom({}), null, 'no CHAOS_PLAN: no chaos scenario');
    const c = inK6ChaosConfigFrom({ CHAOS_PLAN: '/e.json', NATS_MONITOR_URL: 'http://a:8222,http://b:8222' });
    assert.equal(c?.apiServer, 'https://kubernetes.default.svc');
    assert.equal(c?.tokenFile, '/var/run/secrets/kubernetes.io/serviceaccount/token');
    assert.deepEqual(c?.natsMonitorUrls, ['http://a:8222', 'http://b:8222']);
    assert.equal(c?.readyTimeoutMs, 120_000);
    assert.throws(
      () => inK6ChaosConfigFrom({ CHAOS_PLAN: '/e', CHAOS_DRY_RUN: 'yes' }),
      /invalid CHAOS_DRY_RUN="yes": true or false/,
    );
    assert.throws(() => inK6ChaosConfigFrom({ CHAOS_PLAN: '/e', KUBE_API: 'https://k/x' }), /invalid KUBE_API/);
  });

  it('in-cluster only in a pod with the defaults (k6/x/kubernetes then checks the API server certificate)', () => {
    const pod = { CHAOS_PLAN: '/e', KUBERNETES_SERVICE_HOST: '10.0.0.1' };
    assert.equal(inK6ChaosConfigFrom(pod)?.inCluster, true);
    assert.equal(inK6ChaosConfigFrom({ CHAOS_PLAN: '/e' })?.inCluster, false, 'not in a pod');
    for (const extra of [{ KUBE_API: 'https://k:6443' }, { KUBE_TOKEN: 't' }, { KUBE_TOKEN_FILE: '/t' }])
      assert.equal(inK6ChaosConfigFrom({ ...pod, ...extra })?.inCluster, false, JSON.stringify(extra));
  });

  it('carries timeline entries through check names and back', () => {
    const e = {
      offset_ms: 3000,
      ts: 't',
      kind: 'executed' as const,
      action_id: 'a',
      target: 'ns/p',
      detail: { uid: 'u' },
    };
    assert.deepEqual(chaosEventsOfChecks(['is status 204', chaosEventCheckName(e)]), [e]);
    assert.equal(durationMs('1h2m3s4ms'), 3_723_004);
    assert.equal(durationMs('3 s'), null);
  });

  it("names a module proxy's refusal in one line", () => {
    const stderr =
      'go: github.com/grafana/xk6-kubernetes@v0.12.1: reading https://proxy.golang.org/github.com/grafana/xk6-kubernetes/@v/v0.12.1.info: 403 Forbidden\n\tserver response: This module version is not available.';
    assert.equal(
      buildFailureReason(stderr),
      'the Go module proxy refuses github.com/grafana/xk6-kubernetes@v0.12.1 (403 Forbidden from https://proxy.golang.org/github.com/grafana/xk6-kubernetes)',
    );
  });

  it('filters by label selector client-side (k6/x/kubernetes) as the API server would, or refuses', () => {
    const pods = [
      { name: 'nats-0', labels: { app: 'nats', role: 'js' } },
      { name: 'backend', labels: { app: 'backend' } },
      { name: 'bare', labels: {} },
    ];
    const pick = (sel: string): string[] => {
      const m = labelSelectorMatcher(sel);
      return pods.filter((p) => m(p.labels as Record<string, string>)).map((p) => p.name);
    };
    assert.deepEqual(pick('app=nats'), ['nats-0']);
    assert.deepEqual(pick('app==backend'), ['backend']);
    assert.deepEqual(pick('app=nats,role=js'), ['nats-0']);
    assert.deepEqual(pick('app!=nats'), ['backend', 'bare']);
    // A bare key means "has the label" (the first version matched the pods WITHOUT it).
    assert.deepEqual(pick('app'), ['nats-0', 'backend']);
    assert.deepEqual(pick('!role'), ['backend', 'bare']);
    assert.deepEqual(pick(' app = nats , role '), ['nats-0']);
    for (const bad of ['app in (nats)', 'app notin (x)', '(app)', 'app=nats,', '=nats', 'app=a b'])
      assert.throws(() => labelSelectorMatcher(bad), /labelSelector ".*": ".*" (is set-based|has|is not)/, bad);
  });

  it('says when a backend cannot send the plan’s grace period instead of recording it as applied', () => {
    assert.deepEqual(appliedGracePeriod(1, true, 'k6/http'), { grace_period_s: 1, note: null });
    assert.deepEqual(appliedGracePeriod(null, false, 'k6/x/kubernetes'), { grace_period_s: null, note: null });
    assert.deepEqual(appliedGracePeriod(1, false, 'k6/x/kubernetes'), {
      grace_period_s: null,
      note: "gracePeriod 1 s not applied: k6/x/kubernetes deletes with the pod's own grace period",
    });
  });
});
