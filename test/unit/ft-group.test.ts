// The fault-tolerance group's pure parts: activeOf / standbyOf in the preflight (a group that does
// not exist is refused naming the field, the value and what is allowed), their resolution at action
// time (the member reporting FT_ACTIVE; a running member that does not), the publisher's record of
// ack times, and the STAN backend's status mapping and stored event shape.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChaosExecutor, LocalMemberDriver, type ChaosWorld, preflightPlan } from '../../lib/chaos/chaos.ts';
import { roleMatches, roleOf, type RoleSelection } from '../../lib/chaos/roles.ts';
import { PROJECT_ROOT } from '../../lib/tools/toolchain.ts';
import { Timeline } from '../../lib/chaos/timeline.ts';
import { ExperimentError, parseExperiment } from '../../lib/experiment/experiment.ts';
import { localPreflightWorld } from '../../lib/run/run.ts';
import { AckTimes } from '../../lib/stack/ack-times.ts';
import { eventIdOf } from '../../lib/stack/stan/stan-client.ts';
import { stanConfig } from '../../lib/stack/stan/stan-cluster.ts';
import { statusForStanError, structuredEvent } from '../../lib/stack/stan/stan-publisher.ts';
import type { PodTermination, StackMember } from '../../lib/stack/stack.ts';

const base = {
  name: 'x',
  scenario: 'jetstream-publish',
  target: { kind: 'local', stack: 'nats-streaming', members: 3 },
  env: { DURATION: '60s' },
  thresholds: 'ft-at-least-once',
};
const parse = (plan: unknown[], extra: Record<string, unknown> = {}): ReturnType<typeof parseExperiment> =>
  parseExperiment({ ...base, ...extra, plan }, 'x.json');
const preflight = (plan: unknown[], extra: Record<string, unknown> = {}): ReturnType<typeof preflightPlan> => {
  const exp = parse(plan, extra);
  return preflightPlan(exp.plan, localPreflightWorld(exp), exp.blastRadius);
};

describe('FT group: preflight', () => {
  it('activeOf and standbyOf name the members of the ft_group, resolved at action time', () => {
    const [kill, del] = preflight([
      { at: '10s', action: 'kill', target: { activeOf: 'test-cluster' }, restartAfter: '5s' },
      { at: '20s', action: 'deletePod', target: { standbyOf: 'test-cluster' }, gracePeriod: '30s' },
    ]);
    assert.deepEqual(kill?.candidates, ['stan-0', 'stan-1', 'stan-2']);
    assert.match(kill?.note ?? '', /FT_ACTIVE/);
    assert.match(del?.note ?? '', /FT_STANDBY/);
  });

  it('a group that does not exist, leaderOf on this target, and standbyOf of all over the blast radius are refused', () => {
    assert.throws(
      () => preflight([{ at: '10s', action: 'kill', target: { activeOf: 'nope' } }]),
      /plan\[0\] \(a1-kill\): target\.activeOf: "nope" is not allowed — expected one of "test-cluster", the ft_group under test/,
    );
    assert.throws(
      () => preflight([{ at: '10s', action: 'kill', target: { leaderOf: 'sap' } }]),
      /stream "sap" is not under test; streams are none/,
    );
    assert.throws(
      () => preflight([{ at: '10s', action: 'kill', target: { standbyOf: 'test-cluster' }, pick: 'all' }]),
      /would touch 2 members, more than blastRadius 1/,
    );
  });

  const kubeTarget = (stan?: Record<string, unknown>): Record<string, unknown> => ({
    target: {
      kind: 'kubernetes',
      context: 'kind-x',
      namespaces: ['default'],
      ...(stan === undefined ? {} : { stan }),
    },
  });
  const stan = {
    ftGroup: 'test-cluster',
    monitorUrls: { 'stan-0': 'http://127.0.0.1:8222', 'stan-1': 'http://127.0.0.1:8223' },
    natsUrl: 'nats://127.0.0.1:4222,nats://127.0.0.1:4223',
  };
  const refusal = (re: RegExp) => (err: unknown) => err instanceof ExperimentError && re.test(err.message);

  it('activeOf on a kubernetes target without target.stan, or naming another group, is refused when the experiment is read', () => {
    assert.throws(
      () => parse([{ at: '10s', action: 'deletePod', target: { activeOf: 'test-cluster' } }], kubeTarget()),
      refusal(
        /plan\[0\]\.target\.activeOf: "test-cluster" is not allowed — expected nothing: this target has no fault-tolerance group \(set target\.stan/,
      ),
    );
    assert.throws(
      () => parse([{ at: '10s', action: 'deletePod', target: { standbyOf: 'nope' } }], kubeTarget(stan)),
      refusal(
        /plan\[0\]\.target\.standbyOf: "nope" is not allowed — expected "test-cluster", the ft_group of target\.stan/,
      ),
    );
    assert.throws(
      () =>
        parse([], {
          target: { ...(kubeTarget(stan)['target'] as object), natsUrl: 'nats://127.0.0.1:4222' },
        }),
      refusal(/target\.natsUrl: not allowed next to target\.stan/),
    );
  });

  it("target.stan takes the seed defaults and the shipped kubernetes experiment names the local one's plan", () => {
    const exp = parse([{ at: '10s', action: 'deletePod', target: { activeOf: 'test-cluster' } }], kubeTarget(stan));
    assert.equal(exp.target.kind, 'kubernetes');
    if (exp.target.kind !== 'kubernetes') return;
    assert.deepEqual(
      { clusterId: exp.target.stan?.clusterId, channel: exp.target.stan?.channel, durable: exp.target.stan?.durable },
      { clusterId: 'test-cluster', channel: 'kyma.events', durable: 'k6-ha-sink' },
    );
    const read = (f: string): { plan: unknown[] } =>
      JSON.parse(readFileSync(join(PROJECT_ROOT, 'experiments', f), 'utf8')) as { plan: unknown[] };
    // A plan rehearsed locally runs unchanged on the cluster: the same deletePod of activeOf, the same grace period.
    assert.deepEqual(read('stan-ft-kube-active-pod-deleted.json').plan, read('stan-ft-active-pod-deleted.json').plan);
    parseExperiment(read('stan-ft-kube-active-pod-deleted.json'), 'stan-ft-kube-active-pod-deleted.json');
  });
});

describe('role selectors: one table', () => {
  it('leaderOf / activeOf select the holder, notLeaderOf / standbyOf the others (standbys only while running)', () => {
    const view = { holder: 'b', members: ['a', 'b', 'c'] };
    const pick = (sel: object, running?: (n: string) => boolean): string[] =>
      roleMatches(roleOf(sel) as RoleSelection, view, running);
    assert.deepEqual(pick({ leaderOf: 's' }), ['b']);
    assert.deepEqual(pick({ activeOf: 'g' }), ['b']);
    assert.deepEqual(
      pick({ notLeaderOf: 's' }, (n) => n !== 'c'),
      ['a', 'c'],
    );
    assert.deepEqual(
      pick({ standbyOf: 'g' }, (n) => n !== 'c'),
      ['a'],
    );
    assert.deepEqual(roleMatches(roleOf({ activeOf: 'g' }) as RoleSelection, { holder: null, members: ['a'] }), []);
    assert.equal(roleOf({ name: 'x' }), null);
    assert.equal(roleOf({ labelSelector: 'a=b' }), null);
  });
});

class FakeMember implements StackMember {
  running = true;
  constructor(readonly name: string) {}
  get pid(): number | undefined {
    return this.running ? 1 : undefined;
  }
  async kill(): Promise<void> {
    this.running = false;
  }
  async stop(): Promise<void> {
    this.running = false;
  }
  async terminate(graceMs: number): Promise<PodTermination> {
    this.running = false;
    return {
      preStop: null,
      preStopError: null,
      stopSignal: 'SIGTERM',
      graceMs,
      tookMs: 0,
      killed: false,
      code: 143,
      signal: null,
    };
  }
  async start(): Promise<void> {
    this.running = true;
  }
  wipe(): void {}
  onExit(): void {}
  onStart(): void {}
}

describe('FT group: resolution at action time', () => {
  const setup = (active: string | null) => {
    const members = ['stan-0', 'stan-1', 'stan-2'].map((n) => new FakeMember(n));
    const world: ChaosWorld = {
      members: () => members,
      streamMembers: async () => ({ leader: null, members: [] }),
      waitUntil: async () => true,
      currentLeader: () => active,
      ftGroupMembers: async (group) =>
        group === 'test-cluster' ? { active, members: members.map((m) => m.name) } : { active: null, members: [] },
    };
    const timeline = new Timeline(join(mkdtempSync(join(tmpdir(), 'k6ha-ft-')), 'timeline.jsonl'));
    return { members, world, timeline };
  };
  const run = async (world: ChaosWorld, timeline: Timeline, plan: unknown[]) => {
    const executor = new ChaosExecutor(parse(plan).plan, new LocalMemberDriver(world, 1), timeline);
    executor.start(Date.now());
    await new Promise((r) => setTimeout(r, 30));
    await executor.settle();
    return executor.executed;
  };

  it('activeOf kills the member that reports FT_ACTIVE', async () => {
    const { members, world, timeline } = setup('stan-1');
    const [done] = await run(world, timeline, [{ at: '1ms', action: 'kill', target: { activeOf: 'test-cluster' } }]);
    assert.deepEqual(done?.targets, ['stan-1']);
    assert.equal(done?.leaderBefore, 'stan-1');
    assert.deepEqual(
      members.map((m) => m.running),
      [true, false, true],
    );
  });

  it('standbyOf picks a running member that is not active; with no active member activeOf matches nothing', async () => {
    const { members, world, timeline } = setup('stan-0');
    (members[1] as FakeMember).running = false; // down already: it stands by for nothing
    const [done] = await run(world, timeline, [{ at: '1ms', action: 'kill', target: { standbyOf: 'test-cluster' } }]);
    assert.deepEqual(done?.targets, ['stan-2']);
    const none = setup(null);
    const [failed] = await run(none.world, none.timeline, [
      { at: '1ms', action: 'kill', target: { activeOf: 'test-cluster' } },
    ]);
    assert.match(failed?.error ?? '', /matches nothing right now/);
  });
});

describe('FT group: publisher and store shapes', () => {
  it('AckTimes answers the first ack at or after a moment', () => {
    const t = new AckTimes(4);
    for (const at of [10, 20, 20, 30]) t.push(at);
    assert.equal(t.firstAtOrAfter(0), 10);
    assert.equal(t.firstAtOrAfter(15), 20);
    assert.equal(t.firstAtOrAfter(30), 30);
    assert.equal(t.firstAtOrAfter(31), null);
    t.push(40); // past the cap the older half goes
    assert.equal(t.size, 3);
    assert.equal(t.firstAtOrAfter(0), 20);
  });

  it("maps STAN's errors to the proxy's statuses and stores a structured CloudEvent with its id", () => {
    assert.equal(statusForStanError(new Error('stan: publish ack timeout')).status, 504);
    assert.equal(statusForStanError(new Error('stan: Connection closed')).status, 502);
    assert.equal(statusForStanError(new Error('stan: invalid publish request')).status, 500);
    const stored = structuredEvent({
      id: 'run-7',
      type: 'order.created.v1',
      source: 'k6-ha',
      specversion: '1.0',
      extra: { time: '2026-01-01T00:00:00Z' },
      contentType: 'application/json',
      data: new TextEncoder().encode('{"n":7}'),
    });
    assert.deepEqual(JSON.parse(stored), {
      specversion: '1.0',
      id: 'run-7',
      type: 'order.created.v1',
      source: 'k6-ha',
      time: '2026-01-01T00:00:00Z',
      datacontenttype: 'application/json',
      data: { n: 7 },
    });
    assert.equal(eventIdOf(Buffer.from(stored)), 'run-7');
    assert.equal(eventIdOf(Buffer.from('not json')), null);
  });

  it("writes the seed's streaming block: cluster id, file store, ft_group_name and its store limits", () => {
    const conf = stanConfig({ client: 1, monitor: 2, route: 3, routes: ['nats://127.0.0.1:3'], storeDir: '/x/store' });
    for (const line of [
      'id: test-cluster',
      'store: file',
      'dir: "/x/store"',
      'ft_group_name: "test-cluster"',
      'buffer_size: 32mb',
      'sync_on_flush: false',
      'slice_max_bytes: 512mb',
      'parallel_recovery: 64',
      'max_channels: 10',
      'max_msgs: 0',
      'max_bytes: 256gb',
      'max_age: 1h',
      'max_subs: 128',
    ])
      assert.ok(conf.includes(line), `${line} in:\n${conf}`);
  });
});
