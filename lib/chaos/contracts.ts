// The chaos contracts: what a driver is handed and must do, what the world it acts on offers, and
// what a preflight resolves. The executor and the local driver (chaos.ts), the command action,
// the Kubernetes driver (lib/kube) and the targets (lib/targets) all build on these, so none of
// them needs another's code.
import type { ChaosAction } from '../experiment/experiment.ts';
import type { StackMember } from '../stack/stack.ts';
import type { Timeline } from './timeline.ts';

export interface ChaosWorld {
  members(): StackMember[];
  /** names of the members that hold replicas of `stream` (leader first when known) */
  streamMembers(stream: string): Promise<{ leader: string | null; members: string[] }>;
  waitUntil(condition: 'leader' | 'recovered', timeoutMs: number): Promise<boolean>;
  /** the stream leader as last observed, for the record */
  currentLeader(): string | null;
  /** groups of members a local `scale` names (group → members in scale-down order: the last goes first); none when left out */
  groups?(): Record<string, string[]>;
  /**
   * A fault-tolerance group (NATS Streaming's ft_group): its members and the one that reports itself
   * active right now (null: none does, e.g. mid-failover), for `activeOf` / `standbyOf`.
   */
  ftGroupMembers?(group: string): Promise<{ active: string | null; members: string[] }>;
}

export interface ExecutedAction {
  id: string;
  action: ChaosAction['action'];
  scheduledAt: number;
  executedAt: number | null;
  targets: string[];
  leaderBefore: string | null;
  restartedAt: number | null;
  error: string | null;
  /** actions that act in rounds (execKill with `times`): when each round began, epoch ms */
  rounds?: number[];
}

/** What a plan's selectors can match before the stack runs: used by validation and --dry-run. */
export interface PreflightWorld {
  memberNames: string[];
  /** stream name → the members that may hold it */
  streams: Record<string, string[]>;
  /** group name → its members, for a local `scale` (a scale to N keeps the first N); none when left out */
  groups?: Record<string, string[]>;
  /** fault-tolerance group name → its members, for `activeOf` / `standbyOf`; none when left out */
  ftGroups?: Record<string, string[]>;
}

export interface ResolvedPreview {
  id: string;
  at: string;
  action: string;
  target: string;
  candidates: string[];
  note: string;
}

/**
 * What one action keeps down, for the plan-wide blast radius: `count` members, pods or nodes from
 * the action's `at`, for `forMs` when the action brings them back itself, and no longer than the
 * first later action `endedBy` names as bringing them back; with neither, to the end of the plan.
 */
export interface DownSpan {
  count: number;
  unit: 'member' | 'pod' | 'node';
  /** null: the action does not bring them back itself */
  forMs: number | null;
  /** the offset (ms from load start) at which a later action brings them back, else null */
  endedBy: (later: ChaosAction) => number | null;
}

/** One action as a preflight resolved it: its preview row, what it would keep down, why it is refused. */
export interface ResolvedAction {
  preview: ResolvedPreview;
  down: DownSpan | null;
  /** without the plan[i] prefix, which concludePreflight adds */
  problems: string[];
}

/** What a driver gets for one action: the record to fill, an abortable sleep, and the clock. */
export interface ActionContext {
  readonly id: string;
  readonly record: ExecutedAction;
  readonly timeline: Timeline;
  /** aborted when the plan is stopped (Ctrl-C, load finished) */
  readonly signal: AbortSignal;
  /** Records the moment the action touches its targets; the skew is measured here. */
  markExecuted(targets: string[], leaderBefore: string | null, detail?: Record<string, unknown>): void;
  sleep(ms: number): Promise<void>;
}

/** Carries out actions on one kind of target (local processes, Kubernetes objects, …). */
export interface ChaosDriver {
  execute(action: ChaosAction, ctx: ActionContext): Promise<void>;
  /** Brings back everything the plan changed and has not restored itself; returns what it restored. */
  restore(reason: string): Promise<string[]>;
}
