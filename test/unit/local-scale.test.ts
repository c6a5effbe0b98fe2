// The local `scale` action: its preflight (an unknown group, a count below 0 or above the group's
// size, the plan-wide blast radius) refuses before anything starts, naming the field, the value and
// what is allowed; the driver stops the members above N and a restore starts them again.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ChaosExecutor,
  LocalMemberDriver,
  type ChaosWorld,
  PlanRefusedError,
  preflightPlan,
} from '../../lib/chaos/chaos.ts';
import { Timeline } from '../../lib/chaos/timeline.ts';
import { ExperimentError, parseExperiment } from '../../lib/experiment/experiment.ts';
import { localPreflightWorld } from '../../lib/run/run.ts';
import type { PodTermination, StackMember } from '../../lib/stack/stack.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = {
  name: 'x',
  scenario: 'http-get',
  target: { kind: 'local', stack: 'postgres-haproxy' },
  env: { DURATION: '60s' },
  thresholds: 'http-observe',
  blastRadius: 3,
};
const parse = (plan: unknown[], extra: Record<string, unknown> = {}): ReturnType<typeof parseExperiment> =>
  parseExperiment({ ...base, ...extra, plan }, 'x.json');
const preflight = (plan: unknown[], blastRadius = 3): ReturnType<typeof preflightPlan> => {
  const exp = parse(plan, { blastRadius });
  return preflightPlan(exp.plan, localPreflightWorld(exp), exp.blastRadius);
};

describe('local scale: preflight', () => {
  it('resolves a group to the members above N', () => {
    const [down, up] = preflight([
      { id: 'A', at: '10s', action: 'scale', target: { group: 'replicas' }, replicas: 1 },
      { id: 'A.restore', at: '20s', action: 'scale', target: { group: 'replicas' }, replicas: 2 },
    ]);
    assert.deepEqual(down?.candidates, ['pg-replica-1']);
    assert.match(down?.note ?? '', /replicas → 1 of 2: stops pg-replica-1/);
    assert.deepEqual(up?.candidates, []);
    assert.match(up?.note ?? '', /starts pg-replica-0, pg-replica-1 if down/);
  });

  it('refuses an unknown group, naming the field, the value and the groups', () => {
    assert.throws(
      () => preflight([{ at: '1s', action: 'scale', target: { group: 'workers' }, replicas: 1 }]),
      (err: unknown) => {
        assert.ok(err instanceof PlanRefusedError);
        assert.match(err.message, /plan refused, nothing was started/);
        assert.match(
          err.message,
          /plan\[0\] \(a1-scale\): target\.group: "workers" is not allowed — expected one of replicas \(pg-replica-0, pg-replica-1\), backends \(backend-0, backend-1\)/,
        );
        return true;
      },
    );
  });

  it('refuses a scale above the group size (preflight) and below 0 (schema)', () => {
    assert.throws(
      () => preflight([{ at: '1s', action: 'scale', target: { group: 'backends' }, replicas: 3 }]),
      /plan\[0\] \(a1-scale\): replicas: 3 is not allowed — expected 0 to 2, the size of group backends \(backend-0, backend-1\)/,
    );
    assert.throws(
      () => parse([{ at: '1s', action: 'scale', target: { group: 'backends' }, replicas: -1 }]),
      (err: unknown) => {
        assert.ok(err instanceof ExperimentError);
        assert.match(err.message, /plan\[0\]\.replicas: -1 is not allowed — expected a number >= 0/);
        return true;
      },
    );
  });

  it('a group on a kubernetes target, a workload on a local one: refused with the form that is allowed', () => {
    assert.throws(
      () => parse([{ at: '1s', action: 'scale', target: { deployment: 'backend' }, replicas: 1 }]),
      /plan\[0\]\.target: \{"deployment":"backend"\} is not allowed — expected a group of the local target's members/,
    );
    assert.throws(
      () =>
        parseExperiment(
          {
            ...base,
            target: { kind: 'kubernetes', context: 'k', namespaces: ['default'] },
            plan: [{ at: '1s', action: 'scale', target: { group: 'backends' }, replicas: 1 }],
          },
          'k.json',
        ),
      /plan\[0\]\.target: \{"group":"backends"\} is not allowed — expected a workload/,
    );
    // a target with no groups says so
    const js = parseExperiment(
      {
        ...base,
        scenario: 'jetstream-publish',
        thresholds: 'steady',
        target: { kind: 'local' },
        plan: [{ at: '1s', action: 'scale', target: { group: 'nats' }, replicas: 1 }],
      },
      'j.json',
    );
    assert.throws(
      () => preflightPlan(js.plan, localPreflightWorld(js), 3),
      /target\.group: "nats" is not allowed — expected nothing: this target declares no groups to scale/,
    );
  });

  it('counts for the plan-wide blast radius until restoreAfter or the next scale of the group', () => {
    const scale = (
      at: string,
      group: string,
      replicas: number,
      extra: Record<string, unknown> = {},
    ): Record<string, unknown> => ({ at, action: 'scale', target: { group }, replicas, ...extra });
    // replicas → 0 (2 down) and backends → 1 (1 more): 3 down at 5s
    assert.throws(
      () => preflight([scale('1s', 'replicas', 0), scale('5s', 'backends', 1)], 2),
      /a1-scale, a2-scale: 3 members would be down at once at 5s, more than blastRadius 2/,
    );
    // one action alone above the cap
    assert.throws(
      () => preflight([scale('1s', 'replicas', 0)], 1),
      /would stop 2 members \(pg-replica-0, pg-replica-1\), more than blastRadius 1/,
    );
    // restoreAfter ends the window; so does a later scale up of the same group
    preflight([scale('1s', 'replicas', 0, { restoreAfter: '3s' }), scale('5s', 'backends', 1)], 2);
    preflight([scale('1s', 'replicas', 0), scale('4s', 'replicas', 2), scale('5s', 'backends', 1)], 2);
    // a kill during a scale-down adds up
    assert.throws(
      () => preflight([scale('1s', 'backends', 1), { at: '2s', action: 'kill', target: { name: 'backend-0' } }], 1),
      /2 members would be down at once at 2s/,
    );
  });
});

class FakeMember implements StackMember {
  running = true;
  starts = 0;
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
      code: 0,
      signal: null,
    };
  }
  async start(): Promise<void> {
    this.starts++;
    this.running = true;
  }
  wipe(): void {}
  onExit(): void {}
  onStart(): void {}
}

describe('local scale: driver', () => {
  const setup = (): { members: FakeMember[]; world: ChaosWorld; timeline: Timeline } => {
    const members = ['backend-0', 'backend-1', 'backend-2'].map((n) => new FakeMember(n));
    const world: ChaosWorld = {
      members: () => members,
      streamMembers: async () => ({ leader: null, members: [] }),
      waitUntil: async () => true,
      currentLeader: () => null,
      groups: () => ({ backends: members.map((m) => m.name) }),
    };
    return {
      members,
      world,
      timeline: new Timeline(join(mkdtempSync(join(tmpdir(), 'k6ha-scale-')), 'timeline.jsonl')),
    };
  };

  it('stops the members above N, restoreAfter starts them again', async () => {
    const { members, world, timeline } = setup();
    const plan = parse([
      { id: 'S', at: '1ms', action: 'scale', target: { group: 'backends' }, replicas: 1, restoreAfter: '50ms' },
    ]).plan;
    const executor = new ChaosExecutor(plan, new LocalMemberDriver(world, 3), timeline);
    executor.start(Date.now());
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      members.map((m) => m.running),
      [true, false, false],
    );
    await executor.settle();
    assert.deepEqual(
      members.map((m) => m.running),
      [true, true, true],
    );
    assert.ok(executor.executed[0]?.restartedAt !== null);
    assert.ok(timeline.events.some((e) => e.kind === 'scaled-back'));
  });

  it('a later scale up starts them; restore() (Ctrl-C) starts what a scale down left down', async () => {
    const { members, world, timeline } = setup();
    const driver = new LocalMemberDriver(world, 3);
    const plan = parse([
      { id: 'down', at: '1ms', action: 'scale', target: { group: 'backends' }, replicas: 0 },
      { id: 'up', at: '30ms', action: 'scale', target: { group: 'backends' }, replicas: 2 },
    ]).plan;
    const executor = new ChaosExecutor(plan, driver, timeline);
    executor.start(Date.now());
    await new Promise((r) => setTimeout(r, 80));
    await executor.settle();
    assert.deepEqual(
      members.map((m) => m.running),
      [true, true, false],
    );
    const restored = await executor.restore('interrupted');
    assert.deepEqual(restored, ['backend-2']);
    assert.deepEqual(
      members.map((m) => m.running),
      [true, true, true],
    );
  });
});
