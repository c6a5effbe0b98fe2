// The contract between the sidecar and a target under test. The sidecar owns the timeline, the
// chaos schedule and the control API; everything that depends on what is being tested — what its
// members are, what `leaderOf` means, what follows an action onto the timeline, how loss is
// counted — comes from the target (lib/targets/*), so the sidecar names no system.
import type { OutcomeRecord } from '../shared/control-api.ts';
import type { Accounting, KubernetesReport, RecoveryReport } from '../shared/types.ts';
import type { StackMember } from '../stack/stack.ts';
import type { ChaosDriver, ChaosWorld, ExecutedAction } from './chaos.ts';
import type { ConsumerSnapshot, LeaderChange, StreamSnapshot } from './signals.ts';
import type { Timeline } from './timeline.ts';

/**
 * What the plan's role selectors mean for this target: `leaderOf: <group>` is the member holding
 * that group's lead (the JetStream stream leader; later a PostgreSQL primary, the active member
 * of a fault-tolerance group), `notLeaderOf` the other members of the group.
 */
export type TargetRoles = Pick<
  ChaosWorld,
  'streamMembers' | 'waitUntil' | 'currentLeader' | 'groups' | 'ftGroupMembers'
>;

/** What the sidecar knows when the load is over, for the target's reconciliation. */
export interface AccountingRequest {
  runTag: string;
  /** events sent, from k6's REST API; null when it could not be asked */
  attempted: number | null;
  notAcked: Map<number, OutcomeRecord>;
  inFlightWindow: number;
  reportsUndelivered: number;
  /**
   * Several k6 runners: each one's events sent (null when it could not be asked: it died) and
   * whether it finished; event ids per runner as lib/shared/runners.ts numbers them. `attempted`
   * is then their sum where known. Left out with one runner.
   */
  runners?: Array<{ attempted: number | null; finished: boolean }>;
  /** where the accountant says what it could not do */
  notes: string[];
}

/** How loss is counted for a target that can read back what was written. */
export interface TargetAccountant {
  /** Just before load starts: a baseline (e.g. the stream's last sequence), returned for the timeline. */
  atLoadStart(notes: string[]): Promise<Record<string, unknown>>;
  /** The final reconciliation by id; throws when the read-back failed (the run is then unmeasured). */
  account(request: AccountingRequest): Promise<Accounting>;
}

/** The target's signals for the recovery figures (leader failover, full recovery). */
export interface RecoverySignals {
  leaderHistory: LeaderChange[];
  streamSamples: StreamSnapshot[];
  consumerSamples: ConsumerSnapshot[];
  /** false: there is no view of replicas, so full recovery cannot be measured */
  hasStreamView: boolean;
}

/** A cluster under test: the driver of its plan, the watches that put it on the timeline, and its report section. */
export interface ClusterUnderTest {
  driver: ChaosDriver;
  start(): Promise<void>;
  stop(): Promise<void>;
  report(actions: ExecutedAction[]): KubernetesReport;
  /** adds per-action figures (time to reschedule, to Ready) to the recovery reports */
  enrich?(reports: RecoveryReport[], report: KubernetesReport): RecoveryReport[];
}

/** A target bound to one run's timeline: its roles, observers, accountant and (clusters) driver. */
export interface BoundTarget {
  roles: TargetRoles;
  /** null: this target cannot count loss itself (the scenario does, e.g. EventStore's read-back in k6) */
  accountant: TargetAccountant | null;
  recoverySignals(): RecoverySignals;
  /** Starts the observers before load starts, so the timeline shows the initial state. */
  prepare(): Promise<void>;
  /** Adds the target's own figures to the recovery reports (e.g. the first acked publish after a failover). */
  enrichRecovery?(reports: RecoveryReport[], actions: ExecutedAction[]): Promise<RecoveryReport[]>;
  stop(): Promise<void>;
  /** kubernetes: the driver and the watches of the cluster; local targets leave it out (members are processes) */
  cluster?(world: ChaosWorld): ClusterUnderTest;
}

/** A started target: its members ("pods"), the k6 environment that points a scenario at it, and how to bind it to a run. */
export interface TargetUnderTest {
  /** the registry key (lib/targets/index.ts) */
  readonly kind: string;
  members(): StackMember[];
  /** Environment for `k6 run -e K=V` so the scenario targets this target. */
  k6Env(): Record<string, string>;
  bind(timeline: Timeline): BoundTarget;
  /** Stops what the target started (processes, connections). */
  stop(): Promise<void>;
}

/** Roles of a target that has none: selectors by role match nothing. */
export const NO_ROLES: TargetRoles = {
  streamMembers: async () => ({ leader: null, members: [] }),
  waitUntil: async () => false,
  currentLeader: () => null,
};

export const NO_RECOVERY_SIGNALS: RecoverySignals = {
  leaderHistory: [],
  streamSamples: [],
  consumerSamples: [],
  hasStreamView: false,
};
