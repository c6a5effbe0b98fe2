// The embedded postgres-haproxy target (seed 002 on one machine): nginx → backend-0/1 → HAProxy →
// pg-replica-0/1, streaming from pg-primary; a local DNS (dnsmasq) publishes the backends under
// the headless Service name, each restarted backend on a new loopback address. Roles: `leaderOf:
// "postgres"` is the primary, `notLeaderOf: "postgres"` a replica. An observer puts HAProxy's
// UP/DOWN verdict on every replica onto the timeline, and each backend's new address. The
// scenario (http-get) counts every response itself, so there is no accountant.
import type { Timeline } from '../chaos/timeline.ts';
import type { BoundTarget } from '../chaos/target.ts';
import { NO_RECOVERY_SIGNALS } from '../chaos/target.ts';
import { durationMs } from '../chaos/chaos.ts';
import type { Experiment } from '../experiment/experiment.ts';
import { actionId } from '../experiment/experiment.ts';
import { waitFor } from '../stack/processes.ts';
import {
  BACKENDS,
  MEMBER_NAMES,
  PRIMARY,
  REPLICAS,
  type PostgresHaproxyStack,
  startPostgresHaproxyStack,
} from '../stack/postgres-haproxy/stack.ts';
import type { LocalPostgresHaproxyTarget, TargetModule } from './target-module.ts';
import type { TimelineKinds } from '../shared/types.ts';

/** The group `leaderOf` / `notLeaderOf` name: the primary leads, the replicas follow. */
export const POSTGRES_GROUP = 'postgres';

/** The groups a local `scale` names, as the seed's StatefulSet of replicas and Deployment of backends: a scale to N keeps the first N. */
export const GROUPS: Record<string, string[]> = { replicas: [...REPLICAS], backends: [...BACKENDS] };

/** Phase marks for the scenario: every plan action with an id starts a phase at its offset (a `wait` with an id is a bare mark); before the first one, phase "0". */
export function phasesOf(experiment: Experiment): string {
  const marks = experiment.plan
    .map((a, i) => ({ id: a.id ?? null, name: actionId(a, i), at: durationMs('at', a.at) }))
    .filter((m) => m.id !== null);
  const first = marks[0];
  const phases = first !== undefined && first.at === 0 ? [] : [{ name: '0', at: 0 }];
  for (const m of marks) {
    const last = phases[phases.length - 1];
    // Several actions at one offset (C: a backend and a replica) are one phase, named by the first.
    if (last !== undefined && last.at === m.at) continue;
    phases.push({ name: m.name, at: m.at });
  }
  return phases.map((p) => `${p.name}@${p.at}`).join(',');
}

/** Polls HAProxy's stats and records every change of a replica's state (UP, DOWN, NOLB, MAINT). */
/** HAProxy's status word (UP, DOWN, MAINT, NOLB, or a transitional one) as a timeline kind. */
function balancerKind(word: string): TimelineKinds['balancer'] {
  const kind = `haproxy-${word.toLowerCase()}`;
  return kind === 'haproxy-up' || kind === 'haproxy-down' || kind === 'haproxy-maint' || kind === 'haproxy-nolb'
    ? kind
    : 'haproxy-other';
}

class HaproxyObserver {
  private timer: NodeJS.Timeout | null = null;
  private readonly last = new Map<string, string>();
  private polling = false;

  constructor(
    private readonly stack: PostgresHaproxyStack,
    private readonly timeline: Timeline,
    private readonly intervalMs = 200,
  ) {}

  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const states = await this.stack.haproxyStats();
      for (const s of states) {
        const word = s.status.split(' ')[0] ?? s.status;
        if (this.last.get(s.server) === word) continue;
        const before = this.last.get(s.server) ?? null;
        this.last.set(s.server, word);
        const { interMs, fall, rise } = this.stack.check;
        this.timeline.record('balancer', balancerKind(word), s.server, {
          status: s.status,
          before,
          check: `inter ${interMs}ms fall ${fall} rise ${rise}`,
        });
      }
    } catch {
      // HAProxy itself is down (a plan may stop it): its member events say so
    } finally {
      this.polling = false;
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  upCount(): number {
    return [...this.last.values()].filter((w) => w === 'UP').length;
  }
}

function bind(stack: PostgresHaproxyStack, timeline: Timeline): BoundTarget {
  const observer = new HaproxyObserver(stack, timeline);
  for (const b of stack.backends) {
    b.onStart(() =>
      timeline.record('member', 'backend-address', b.name, { address: b.address, service: 'backend-headless' }),
    );
  }
  return {
    roles: {
      streamMembers: async (group) =>
        group === POSTGRES_GROUP ? { leader: PRIMARY, members: [PRIMARY, ...REPLICAS] } : { leader: null, members: [] },
      waitUntil: async (condition, timeoutMs) => {
        try {
          await waitFor(
            condition === 'leader' ? 'the primary' : 'every member running and both replicas UP in HAProxy',
            async () => {
              if (condition === 'leader') return stack.primary.running;
              return (
                stack.members().every((m) => m.running) && (await stack.haproxyStats()).every((s) => s.status === 'UP')
              );
            },
            timeoutMs,
            200,
          );
          return true;
        } catch {
          return false;
        }
      },
      currentLeader: () => PRIMARY,
      groups: () => GROUPS,
    },
    accountant: null,
    recoverySignals: () => NO_RECOVERY_SIGNALS,
    prepare: async () => {
      await observer.poll();
      observer.start();
    },
    stop: async () => observer.stop(),
  };
}

export const postgresHaproxyTarget: TargetModule<LocalPostgresHaproxyTarget> = {
  description:
    'local: PostgreSQL primary + 2 streaming replicas behind HAProxy, 2 backends behind nginx, a DNS for the backends (OS packages)',
  preflightWorld: () => ({
    memberNames: [...MEMBER_NAMES],
    streams: { [POSTGRES_GROUP]: [PRIMARY, ...REPLICAS] },
    groups: GROUPS,
  }),
  async start({ experiment, target, runDir, log }) {
    const stack = await startPostgresHaproxyStack({
      runDir,
      log,
      nginx: target.nginx,
      check: {
        interMs: durationMs('healthCheck.inter', target.healthCheck.inter),
        fall: target.healthCheck.fall,
        rise: target.healthCheck.rise,
      },
      resolverValidS: Math.max(1, Math.round(durationMs('resolverValid', target.resolverValid) / 1000)),
      backendConnection: target.backendConnection,
    });
    const phases = phasesOf(experiment);
    return {
      kind: 'postgres-haproxy',
      members: () => stack.members(),
      k6Env: () => ({
        ...stack.k6Env(),
        PHASES: phases,
        ATTRIBUTE_EXPECT: `pod=${BACKENDS.join('|')};db=${REPLICAS.join('|')}`,
      }),
      bind: (timeline) => bind(stack, timeline),
      stop: () => stack.stop(),
    };
  },
};
