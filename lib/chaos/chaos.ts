// Runs a chaos plan against a stack's members at offsets from load start. Targets are resolved
// at action time from JetStream's own view (leaderOf / notLeaderOf); nothing the plan does not
// name is touched, no action touches more members than the blast-radius cap, and stop()
// cancels what is still pending while restore() brings back every member we took down.
import { parseDurationMs } from '../shared/env-parse.ts';
import { PlanRefusedError } from '../shared/errors.ts';
import type { StackMember } from '../stack/stack.ts';
import { executeCommandAction } from './command-action.ts';
import { roleHits, roleMatches, roleOf, type RoleSelection, type RoleView } from './roles.ts';
import {
  actionId,
  type ChaosAction,
  isLocalAction,
  LOCAL_POD_GRACE_PERIOD,
  type LocalChaosAction,
  type LocalScaleAction,
} from '../experiment/experiment.ts';
import type { Timeline } from './timeline.ts';
import type {
  ActionContext,
  ChaosDriver,
  ChaosWorld,
  DownSpan,
  ExecutedAction,
  PreflightWorld,
  ResolvedAction,
  ResolvedPreview,
} from './contracts.ts';

export type {
  ActionContext,
  ChaosDriver,
  ChaosWorld,
  DownSpan,
  ExecutedAction,
  PreflightWorld,
  ResolvedAction,
  ResolvedPreview,
} from './contracts.ts';

// Re-exported for the importers that predate lib/shared/errors.ts (the unit tests).
export { PlanRefusedError };

/** `leaderOf=sap`, `nodeOf(leaderOf=sap),notNodeOf(name=x)`, `deployment=api`: how a target reads on the timeline. */
function describeTarget(t: Record<string, unknown>): string {
  return Object.entries(t)
    .map(([k, v]) =>
      v !== null && typeof v === 'object'
        ? `${k}(${describeTarget(v as Record<string, unknown>)})`
        : `${k}=${String(v)}`,
    )
    .join(',');
}

export function selectorText(a: ChaosAction): string {
  if (a.action === 'wait') return `until ${a.until}`;
  if (a.action === 'command') return `command=${a.command[0] ?? ''}`;
  return describeTarget(a.target);
}

/** Like parseDurationMs, but "0s" is a valid answer (a wipe's restartAfter, a zero grace period). */
export function durationMs(field: string, text: string): number {
  return /^0+(?:\.0+)?(?:ms|s|m|h)$/.test(text) ? 0 : parseDurationMs(field, text);
}

/**
 * The end of every preflight, local or Kubernetes: refuses the plan when an action is refused on
 * its own (a selector matching nothing or more than the cap) or else when the whole plan would
 * keep more than blastRadius down at once; returns what each action would hit.
 */
export function concludePreflight(input: {
  plan: ChaosAction[];
  resolved: ResolvedAction[];
  blastRadius: number;
  hint: string;
}): ResolvedPreview[] {
  const { plan, resolved, blastRadius, hint } = input;
  const problems = resolved.flatMap((r, i) => r.problems.map((p) => `plan[${i}] (${r.preview.id}): ${p}`));
  // Windows of actions that were refused would be guesses; those problems come first.
  if (problems.length === 0)
    problems.push(...concurrentDownProblems({ plan, spans: resolved.map((r) => r.down), blastRadius, hint }));
  if (problems.length > 0) throw new PlanRefusedError(`plan refused, nothing was started:\n  ${problems.join('\n  ')}`);
  return resolved.map((r) => r.preview);
}

/**
 * The cap holds across the plan, not only per action: three one-member kills a second apart with
 * no restart take a whole R3 cluster down. Each action's DownSpan says how long what it takes down
 * stays down; the first moment more than blastRadius are down at once refuses the plan.
 */
function concurrentDownProblems(input: {
  plan: ChaosAction[];
  spans: Array<DownSpan | null>;
  blastRadius: number;
  hint: string;
}): string[] {
  const { plan, spans, blastRadius, hint } = input;
  // The schema has checked every duration already; only a zero (a wipe's default restartAfter) is left.
  const offsets = plan.map((a) => durationMs('at', a.at));
  const windows = plan.flatMap((a, i) => {
    const span = spans[i];
    const at = offsets[i] ?? 0;
    if (span === null || span === undefined || span.count === 0) return [];
    const ends = plan
      .filter((_, j) => (offsets[j] ?? 0) > at)
      .map((b) => span.endedBy(b))
      .filter((end): end is number => end !== null);
    const until = Math.min(span.forMs === null ? Infinity : at + span.forMs, ...ends);
    return [{ id: actionId(a, i), at, until: Math.max(until, at + 1), count: span.count, unit: span.unit }];
  });
  for (const w of windows) {
    const down = windows.filter((v) => v.at <= w.at && w.at < v.until);
    const total = down.reduce((n, v) => n + v.count, 0);
    if (total > blastRadius) {
      const counts = (['member', 'pod', 'node'] as const)
        .map((unit) => [unit, down.filter((v) => v.unit === unit).reduce((n, v) => n + v.count, 0)] as const)
        .filter(([, n]) => n > 0);
      const what = counts.map(([unit, n]) => `${n} ${unit}${n === 1 ? '' : 's'}`).join(' and ');
      return [
        `${down.map((v) => v.id).join(', ')}: ${what} would be down at once at ${w.at / 1000}s, more than blastRadius ${blastRadius} (${hint})`,
      ];
    }
  }
  return [];
}

/** The grace period a local deletePod gives its members before SIGKILL. */
export function localGraceMs(a: Extract<ChaosAction, { action: 'deletePod' }>): number {
  return durationMs('gracePeriod', a.gracePeriod ?? LOCAL_POD_GRACE_PERIOD);
}

/**
 * Local members: a kill, stop or wipe keeps its members down until its restartAfter, else until
 * the plan's next `start` (which may bring them back), else to the end. A deletePod recreates its
 * members itself once they are gone, which is at the latest when the grace period ends: it counts
 * for the grace period (as kill's restartAfter, without the time the new process takes to start).
 */
function localDownSpan(a: ChaosAction, members: number): DownSpan | null {
  if (a.action === 'scale' && isLocalAction(a)) {
    // What a scale down stops stays down until its restoreAfter, else until the next scale of the
    // same group sets the count anew (a scale up counts 0 and ends the earlier ones).
    const forMs = a.restoreAfter === undefined ? null : durationMs('restoreAfter', a.restoreAfter);
    const group = a.target.group;
    return {
      count: members,
      unit: 'member',
      forMs,
      endedBy: (later) =>
        later.action === 'scale' && isLocalAction(later) && later.target.group === group
          ? durationMs('at', later.at)
          : null,
    };
  }
  if (a.action === 'deletePod') return { count: members, unit: 'member', forMs: localGraceMs(a), endedBy: () => null };
  if (a.action !== 'kill' && a.action !== 'stop' && a.action !== 'wipe') return null;
  if (a.restartAfter !== undefined)
    return { count: members, unit: 'member', forMs: durationMs('restartAfter', a.restartAfter), endedBy: () => null };
  return {
    count: members,
    unit: 'member',
    forMs: null,
    endedBy: (later) => (later.action === 'start' ? durationMs('at', later.at) : null),
  };
}

/**
 * A local scale: the group must be one the target declares and the count within 0..its size; it
 * stops the members above N (as a Deployment scaled down, the last first) and, scaling up, starts
 * those below N again. The messages name the field, the value and what is allowed.
 */
function preflightScale(
  a: LocalScaleAction,
  world: PreflightWorld,
): { stops: string[]; note: string; problems: string[] } {
  const groups = world.groups ?? {};
  const members = groups[a.target.group];
  if (members === undefined) {
    const known = Object.entries(groups).map(([g, m]) => `${g} (${m.join(', ')})`);
    return {
      stops: [],
      note: '',
      problems: [
        `target.group: ${JSON.stringify(a.target.group)} is not allowed — expected ${known.length === 0 ? 'nothing: this target declares no groups to scale' : `one of ${known.join(', ')}`}`,
      ],
    };
  }
  if (a.replicas > members.length) {
    return {
      stops: [],
      note: '',
      problems: [
        `replicas: ${a.replicas} is not allowed — expected 0 to ${members.length}, the size of group ${a.target.group} (${members.join(', ')})`,
      ],
    };
  }
  const stops = members.slice(a.replicas);
  const back = a.restoreAfter === undefined ? '' : `; started again after ${a.restoreAfter}`;
  return {
    stops,
    note: `${a.target.group} → ${a.replicas} of ${members.length}: stops ${stops.join(', ') || 'none'}, starts ${members.slice(0, a.replicas).join(', ') || 'none'} if down${back}`,
    problems: [],
  };
}

/** Refuses a plan whose selectors match nothing or more than the cap; returns what each would hit. */
export function preflightPlan(plan: ChaosAction[], world: PreflightWorld, blastRadius: number): ResolvedPreview[] {
  const resolved = plan.map((a, i): ResolvedAction => {
    const problems: string[] = [];
    let candidates: string[] = [];
    let note = '';
    /** members the action takes down (a stream leader, a follower, or all a selector matches) */
    let touches = 1;
    if (a.action === 'command') {
      note = `runs locally: ${a.command.join(' ')}`;
    } else if (!isLocalAction(a) && a.action !== 'wait') {
      problems.push(`${a.action} needs a kubernetes target`);
    } else if (a.action === 'scale') {
      const scaled = preflightScale(a, world);
      problems.push(...scaled.problems);
      candidates = scaled.stops;
      touches = scaled.stops.length;
      note = scaled.note;
      if (touches > blastRadius)
        problems.push(
          `would stop ${touches} members (${scaled.stops.join(', ')}), more than blastRadius ${blastRadius}`,
        );
    } else if (a.action !== 'wait') {
      const t = a.target;
      const role = roleOf(t);
      if ('name' in t) {
        candidates = world.memberNames.includes(t.name) ? [t.name] : [];
        if (candidates.length === 0)
          problems.push(`target name=${t.name} matches nothing; members are ${world.memberNames.join(', ')}`);
      } else if (role !== null) {
        const groups = (role.spec.group === 'stream' ? world.streams : world.ftGroups) ?? {};
        const members = groups[role.value];
        if (members === undefined) {
          problems.push(role.spec.unknown(role.field, role.value, Object.keys(groups)));
        } else {
          candidates = members;
          const hits = roleHits(role, members.length);
          if (hits === 0) problems.push(role.spec.single(role.value));
          note = role.spec.note;
          if (a.pick === 'all') touches = hits;
          if (a.pick === 'all' && hits > blastRadius)
            problems.push(`would touch ${hits} members, more than blastRadius ${blastRadius}`);
        }
      } else {
        problems.push('labelSelector needs a kubernetes target');
      }
      if ('name' in t && a.pick === 'all' && candidates.length > blastRadius)
        problems.push(`would touch ${candidates.length} members, more than blastRadius ${blastRadius}`);
    }
    const preview = { id: actionId(a, i), at: a.at, action: a.action, target: selectorText(a), candidates, note };
    return { preview, down: localDownSpan(a, touches), problems };
  });
  return concludePreflight({
    plan,
    resolved,
    blastRadius,
    hint: 'give each a restartAfter (deletePod: a gracePeriod) that ends before the next, or raise blastRadius',
  });
}

/** A delay that ends early when the plan is stopped (Ctrl-C must not wait out a long down time). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** Schedules a plan at offsets from load start and hands each action to the driver on time. */
export class ChaosExecutor {
  private restoring: Promise<unknown> = Promise.resolve();
  readonly executed: ExecutedAction[] = [];
  private timers: NodeJS.Timeout[] = [];
  private inFlight = new Set<Promise<void>>();
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly plan: ChaosAction[],
    private readonly driver: ChaosDriver,
    private readonly timeline: Timeline,
  ) {}

  /** Schedules every action relative to `zero` (epoch ms of load start). */
  start(zero: number): void {
    this.plan.forEach((action, index) => {
      const id = actionId(action, index);
      const scheduledAt = zero + parseDurationMs(`plan[${index}].at`, action.at);
      this.timeline.record('plan', 'scheduled', null, {
        action_id: id,
        action: action.action,
        selector: selectorText(action),
        at: action.at,
      });
      const timer = setTimeout(
        () => this.track(this.execute(action, id, scheduledAt)),
        Math.max(0, scheduledAt - Date.now()),
      );
      this.timers.push(timer);
    });
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async execute(action: ChaosAction, id: string, scheduledAt: number): Promise<void> {
    if (this.stopped) return;
    const record: ExecutedAction = {
      id,
      action: action.action,
      scheduledAt,
      executedAt: null,
      targets: [],
      leaderBefore: null,
      restartedAt: null,
      error: null,
    };
    this.executed.push(record);
    const ctx: ActionContext = {
      id,
      record,
      timeline: this.timeline,
      signal: this.abort.signal,
      markExecuted: (targets, leaderBefore, detail = {}) => {
        record.targets = targets;
        record.leaderBefore = leaderBefore;
        record.executedAt = Date.now();
        this.timeline.record('plan', 'executed', targets.join(',') || null, {
          action_id: id,
          action: action.action,
          selector: selectorText(action),
          skew_ms: record.executedAt - scheduledAt,
          leader_before: leaderBefore,
          ...detail,
        });
      },
      sleep: (ms) => sleep(ms, this.abort.signal),
    };
    try {
      await this.driver.execute(action, ctx);
    } catch (err) {
      record.error = (err as Error).message;
      this.timeline.record('plan', 'failed', record.targets.join(',') || null, { action_id: id, error: record.error });
    }
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Cancels every action not yet started and interrupts waits in running ones. */
  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    const pending = this.timers.length - this.executed.length;
    for (const t of this.timers) clearTimeout(t);
    if (pending > 0) this.timeline.record('plan', 'cancelled', null, { reason, pending_actions: pending });
  }

  /** Waits for running actions (including their restarts) to finish. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Brings back what the plan took down, one restore at a time: Ctrl-C, the end of the load and the
   * shutdown may each ask at once, and a later one must wait for the member an earlier one is still
   * starting (else it sees it running, reports nothing, and the shutdown closes the timeline before
   * the earlier one could record it).
   */
  restore(reason: string): Promise<string[]> {
    const run = this.restoring.then(() => this.restoreNow(reason));
    this.restoring = run.catch(() => undefined);
    return run;
  }

  private async restoreNow(reason: string): Promise<string[]> {
    const restored = await this.driver.restore(reason);
    for (const what of restored) {
      const failed = / \(failed: (.*)\)$/.exec(what);
      if (failed)
        this.timeline.record('plan', 'restore-failed', what.slice(0, failed.index), { reason, error: failed[1] });
      else this.timeline.record('plan', 'restored', what, { reason });
    }
    return restored;
  }
}

/** Local targets: stack members are processes ("pods") that can be killed, stopped, deleted as pods, wiped, started. */
export class LocalMemberDriver implements ChaosDriver {
  /** members this plan took down, so restore() can bring them back */
  private readonly downByUs = new Set<string>();

  constructor(
    private readonly world: ChaosWorld,
    private readonly blastRadius: number,
  ) {}

  private member(name: string): StackMember {
    const m = this.world.members().find((x) => x.name === name);
    if (m === undefined) throw new PlanRefusedError(`member ${name} does not exist`);
    return m;
  }

  /**
   * Scales a group as a Deployment: the members above `replicas` that run are stopped, those below
   * that do not are started (a backend comes back as a new pod, on a new address); restoreAfter
   * starts what this action stopped again, and restore() (Ctrl-C, end of run) does too.
   */
  private async scale(action: LocalScaleAction, ctx: ActionContext): Promise<void> {
    const group = this.world.groups?.()[action.target.group];
    if (group === undefined)
      throw new PlanRefusedError(
        `group ${action.target.group} does not exist; groups are ${Object.keys(this.world.groups?.() ?? {}).join(', ') || 'none'}`,
      );
    if (action.replicas > group.length)
      throw new PlanRefusedError(
        `replicas ${action.replicas} is more than group ${action.target.group} has (${group.length})`,
      );
    const members = group.map((n) => this.member(n));
    const before = members.filter((m) => m.running).length;
    const stopping = members.slice(action.replicas).filter((m) => m.running);
    const starting = members.slice(0, action.replicas).filter((m) => !m.running);
    if (stopping.length > this.blastRadius)
      throw new PlanRefusedError(
        `scale ${action.target.group} → ${action.replicas} would stop ${stopping.length} members, more than blastRadius ${this.blastRadius}`,
      );
    ctx.markExecuted(
      [...stopping, ...starting].map((m) => m.name),
      this.world.currentLeader(),
      {
        group: action.target.group,
        replicas_before: before,
        replicas: action.replicas,
        stopped: stopping.map((m) => m.name),
        started: starting.map((m) => m.name),
      },
    );
    for (const m of stopping) this.downByUs.add(m.name);
    await Promise.all(stopping.map((m) => m.stop()));
    await Promise.all(starting.map((m) => m.start()));
    // A scale up brings members back: the moment they run is when an earlier scale down of them
    // recovered (lib/measure/recovery.ts).
    if (starting.length > 0) ctx.record.restartedAt = Date.now();
    for (const m of starting) this.downByUs.delete(m.name);
    if (action.restoreAfter === undefined || stopping.length === 0) return;
    await ctx.sleep(durationMs('restoreAfter', action.restoreAfter));
    if (ctx.signal.aborted) return;
    const startAt = Date.now();
    const back = stopping.filter((m) => !m.running);
    ctx.timeline.record('plan', 'restarting', back.map((m) => m.name).join(',') || null, {
      action_id: ctx.id,
      down_ms: startAt - (ctx.record.executedAt ?? startAt),
    });
    await Promise.all(back.map((m) => m.start()));
    ctx.record.restartedAt = Date.now();
    for (const m of stopping) this.downByUs.delete(m.name);
    ctx.timeline.record('plan', 'scaled-back', back.map((m) => m.name).join(',') || null, {
      action_id: ctx.id,
      group: action.target.group,
      replicas: before,
      healthy_after_ms: ctx.record.restartedAt - startAt,
    });
  }

  /** The group a role selector names, as its own view shows it now (JetStream's, or the FT group's). */
  private async roleView(role: RoleSelection, action: ChaosAction): Promise<RoleView> {
    if (role.spec.group === 'stream') {
      const view = await this.world.streamMembers(role.value);
      return { holder: view.leader, members: view.members };
    }
    if (this.world.ftGroupMembers === undefined)
      throw new PlanRefusedError(`target ${selectorText(action)}: this target has no fault-tolerance group`);
    const view = await this.world.ftGroupMembers(role.value);
    return { holder: view.active, members: view.members };
  }

  private async resolve(
    action: Exclude<LocalChaosAction, LocalScaleAction>,
  ): Promise<{ targets: string[]; leader: string | null }> {
    const t = action.target;
    const role = roleOf(t);
    let matches: string[];
    let leader: string | null = null;
    if ('name' in t) {
      matches = this.world.members().some((m) => m.name === t.name) ? [t.name] : [];
    } else if (role !== null) {
      const view = await this.roleView(role, action);
      leader = view.holder;
      // A standby is a running member that is not the active one (a member that is down stands by for nothing).
      const running = new Set(
        this.world
          .members()
          .filter((m) => m.running)
          .map((m) => m.name),
      );
      matches = roleMatches(role, view, (n) => running.has(n));
    } else {
      matches = [];
    }
    matches.sort();
    const targets = action.pick === 'all' ? matches : matches.slice(0, 1);
    if (targets.length === 0) throw new PlanRefusedError(`target ${selectorText(action)} matches nothing right now`);
    if (targets.length > this.blastRadius)
      throw new PlanRefusedError(
        `target ${selectorText(action)} matches ${targets.length} members, more than blastRadius ${this.blastRadius}`,
      );
    return { targets, leader };
  }

  async execute(action: ChaosAction, ctx: ActionContext): Promise<void> {
    if (action.action === 'wait') {
      ctx.markExecuted([], this.world.currentLeader(), { until: action.until });
      const started = Date.now();
      const ok = await this.world.waitUntil(action.until, parseDurationMs('timeout', action.timeout));
      ctx.timeline.record('plan', ok ? 'wait-done' : 'wait-timeout', null, {
        action_id: ctx.id,
        until: action.until,
        waited_ms: Date.now() - started,
      });
      return;
    }
    if (action.action === 'command') {
      await executeCommandAction(action, ctx);
      return;
    }
    if (!isLocalAction(action))
      throw new PlanRefusedError(
        `${action.action} needs a kubernetes target; local members are killed, stopped, restarted, deleted as pods (deletePod), wiped, started or scaled`,
      );
    if (action.action === 'scale') {
      await this.scale(action, ctx);
      return;
    }
    const { targets, leader } = await this.resolve(action);
    const members = targets.map((n) => this.member(n));
    ctx.markExecuted(
      targets,
      leader ?? this.world.currentLeader(),
      action.action === 'deletePod' ? { grace_period_ms: localGraceMs(action) } : {},
    );
    let restartAfterMs: number | null = null;
    switch (action.action) {
      case 'deletePod': {
        // The kubelet's part (preStop, stop signal, grace period, SIGKILL), then the StatefulSet's:
        // a new pod with the same name and volume as soon as the old one is gone.
        for (const m of members) this.downByUs.add(m.name);
        const graceMs = localGraceMs(action);
        await Promise.all(
          members.map(async (m) => {
            const t = await m.terminate(graceMs);
            if (t.killed)
              ctx.timeline.record('plan', 'grace-expired', m.name, { action_id: ctx.id, grace_period_ms: t.graceMs });
            ctx.timeline.record('plan', 'terminated', m.name, {
              action_id: ctx.id,
              pre_stop: t.preStop,
              pre_stop_error: t.preStopError,
              stop_signal: t.stopSignal,
              grace_period_ms: t.graceMs,
              took_ms: t.tookMs,
              sigkill: t.killed,
              code: t.code,
              signal: t.signal,
            });
          }),
        );
        restartAfterMs = 0;
        break;
      }
      case 'kill':
        for (const m of members) this.downByUs.add(m.name);
        await Promise.all(members.map((m) => m.kill()));
        restartAfterMs =
          action.restartAfter === undefined ? null : parseDurationMs('restartAfter', action.restartAfter);
        break;
      case 'stop':
        for (const m of members) this.downByUs.add(m.name);
        await Promise.all(members.map((m) => m.stop()));
        restartAfterMs =
          action.restartAfter === undefined ? null : parseDurationMs('restartAfter', action.restartAfter);
        break;
      case 'restart':
        for (const m of members) this.downByUs.add(m.name);
        await Promise.all(members.map((m) => m.stop()));
        restartAfterMs = parseDurationMs('delay', action.delay === '0s' ? '1ms' : action.delay);
        break;
      case 'wipe':
        for (const m of members) this.downByUs.add(m.name);
        await Promise.all(members.map((m) => m.kill()));
        for (const m of members) m.wipe();
        ctx.timeline.record('plan', 'wiped', targets.join(','), { action_id: ctx.id });
        restartAfterMs = parseDurationMs('restartAfter', action.restartAfter === '0s' ? '1ms' : action.restartAfter);
        break;
      case 'start':
        await Promise.all(members.map((m) => m.start()));
        ctx.record.restartedAt = Date.now();
        break;
    }
    if (restartAfterMs === null) return;
    await ctx.sleep(restartAfterMs);
    // Stopped meanwhile (Ctrl-C, load over): restore() brings them back instead.
    if (ctx.signal.aborted) return;
    const startAt = Date.now();
    ctx.timeline.record('plan', 'restarting', targets.join(','), {
      action_id: ctx.id,
      down_ms: startAt - (ctx.record.executedAt ?? startAt),
    });
    await Promise.all(members.map((m) => m.start()));
    ctx.record.restartedAt = Date.now();
    for (const m of members) this.downByUs.delete(m.name);
    ctx.timeline.record('plan', 'restarted', targets.join(','), {
      action_id: ctx.id,
      healthy_after_ms: ctx.record.restartedAt - startAt,
    });
  }

  /** Starts every member this plan took down that is still down. */
  async restore(_reason: string): Promise<string[]> {
    const restored: string[] = [];
    for (const name of [...this.downByUs]) {
      const m = this.member(name);
      if (m.running) continue;
      try {
        await m.start();
        restored.push(name);
      } catch (err) {
        restored.push(`${name} (failed: ${(err as Error).message})`);
      }
    }
    this.downByUs.clear();
    return restored;
  }
}
