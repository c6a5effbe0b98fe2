// The k6 runners of one run (k6-operator's parallelism, `k6-ha run --runners N`), as the sidecar
// sees them: who registered in setup(), the shared load start (one zero for the chaos schedule),
// who finished in teardown(), and who died. Two bounded barriers:
//  - start: setup() is answered when all N registered (or START_WAIT_MS after the first), so every
//    runner starts its load at the same moment;
//  - finish: teardown() is answered when every runner finished or is known dead (its k6 REST API
//    stopped answering, or the process that started it saw it exit), or FINISH_WAIT_MS after the
//    first finish — then every runner gets the same merged results.
import { ControlRequestError } from '../shared/errors.ts';
import type { RunnerIdentity } from '../shared/control-api.ts';
import type { RunnerEventKind } from '../shared/types.ts';
import { runnerName, type RunnerSlot, runnerSlot, slotOf } from '../shared/runners.ts';
import { readK6Status } from './k6-api.ts';

export const START_WAIT_MS = 30_000;
export const FINISH_WAIT_MS = 60_000;
/** A runner whose REST API failed this many polls in a row (250 ms apart) is dead. */
const DEAD_AFTER_POLLS = 4;
const POLL_MS = 250;

export interface RunnerState {
  slot: RunnerSlot;
  instanceId: string | null;
  runTag: string;
  registeredAt: number;
  finishedAt: number | null;
  /** from its k6 REST API at finish: events sent and outcome reports undelivered */
  counts: { iterations: number | null; undelivered: number | null } | null;
  /** why it is known dead (exited, API gone), or null */
  dead: string | null;
}

export class RunnerRoster {
  readonly states = new Map<number, RunnerState>();
  private startWaiters: Array<() => void> = [];
  private finishWaiters: Array<() => void> = [];
  /** set once the load started for everyone */
  startedAt: number | null = null;
  /** the moment the finish barrier let every runner go, and how long after the last runner's finish */
  releasedAt: number | null = null;
  lastFinishedAt: number | null = null;
  /** runners the sidecar gave up waiting for at the start */
  missingAtStart: number[] = [];

  constructor(
    readonly count: number,
    /** each runner's k6 REST API by index (1-based), for its counts and to tell it is alive */
    private readonly apis: ReadonlyArray<string | null>,
    private readonly record: (kind: RunnerEventKind, detail: Record<string, unknown>) => void,
  ) {
    if (apis.length !== count)
      throw new RangeError(`runners: ${count} runners but ${apis.length} k6 API address(es) were given`);
  }

  apiOf(index: number): string | null {
    return this.apis[index - 1] ?? null;
  }

  /** A runner's setup(): which one it is, checked against this run's N. */
  register(identity: RunnerIdentity | undefined, runTag: string): RunnerState {
    if (identity === undefined)
      throw new ControlRequestError(
        `runner: missing — this run has ${this.count} runners; start each k6 with --execution-segment=(i-1)/${this.count}:i/${this.count} --execution-segment-sequence=${runnerSlot(1, this.count).sequence} (as k6-operator does)`,
        { status: 400 },
      );
    const slot = slotOf(identity.segment, identity.sequence);
    if (typeof slot === 'string') throw new ControlRequestError(`runner: ${slot}`, { status: 400 });
    if (slot.count !== this.count)
      throw new ControlRequestError(
        `runner: segment ${JSON.stringify(identity.segment)} of ${slot.count} part(s) is not allowed — this run has ${this.count} runners`,
        { status: 400 },
      );
    const known = this.states.get(slot.index);
    if (known !== undefined) {
      // A retried setup() (its first answer lost) is the same runner; another k6 on the same segment is not.
      if (known.runTag === runTag) return known;
      throw new ControlRequestError(`${runnerName(slot)} already registered (run tag ${known.runTag})`, {
        status: 409,
      });
    }
    const state: RunnerState = {
      slot,
      instanceId: identity.instanceId,
      runTag,
      registeredAt: Date.now(),
      finishedAt: null,
      counts: null,
      dead: null,
    };
    this.states.set(slot.index, state);
    this.record('runner-registered', {
      runner: slot.index,
      segment: slot.segment,
      instance_id: identity.instanceId,
      late: this.startedAt !== null,
    });
    if (this.states.size === this.count) this.wake('start');
    return state;
  }

  /** Resolves when all N registered, or START_WAIT_MS passed; the caller then starts the load once. */
  async waitForAll(waitMs = START_WAIT_MS): Promise<void> {
    if (this.states.size >= this.count) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      this.startWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.startedAt === null) {
      this.missingAtStart = this.indexes().filter((i) => !this.states.has(i));
      for (const i of this.missingAtStart)
        this.record('runner-missing', { runner: i, segment: runnerSlot(i, this.count).segment, at: 'start' });
    }
  }

  indexes(): number[] {
    return Array.from({ length: this.count }, (_, i) => i + 1);
  }

  /** A runner's teardown(): it finished, with its counts from its REST API. */
  finished(index: number, counts: RunnerState['counts']): RunnerState {
    const state = this.states.get(index);
    if (state === undefined)
      throw new ControlRequestError(
        `runner: ${index} is not allowed — ${runnerName(runnerSlot(index, this.count))} never registered in setup()`,
        { status: 409 },
      );
    if (state.finishedAt === null) {
      state.finishedAt = Date.now();
      state.counts = counts;
      this.lastFinishedAt = state.finishedAt;
      this.record('runner-finished', { runner: index, segment: state.slot.segment, ...counts });
    }
    this.wake('finish');
    return state;
  }

  /** The process that started a runner saw it exit (local runs): no need to poll its API. */
  exited(index: number, exitCode: number): void {
    const state = this.states.get(index);
    if (state !== undefined && state.finishedAt !== null) return;
    this.markDead(index, `exited with code ${exitCode} before its teardown() reported`);
  }

  private markDead(index: number, why: string): void {
    const state = this.states.get(index);
    if (state !== undefined) {
      if (state.dead !== null) return;
      state.dead = why;
    } else if (this.deadUnregistered.has(index)) {
      return;
    } else {
      this.deadUnregistered.set(index, why);
    }
    this.record('runner-lost', { runner: index, segment: runnerSlot(index, this.count).segment, reason: why });
    this.wake('finish');
  }

  /** runners that died or never came before registering, with why */
  readonly deadUnregistered = new Map<number, string>();

  /** true when every runner finished or is known dead (never registered counts as dead once the load started) */
  settled(): boolean {
    return this.indexes().every((i) => {
      const s = this.states.get(i);
      if (s === undefined) return this.deadUnregistered.has(i) || this.missingAtStart.includes(i);
      return s.finishedAt !== null || s.dead !== null;
    });
  }

  /**
   * The finish barrier: resolves when settled(), polling the k6 API of every runner still out (a
   * runner killed with SIGKILL never says so), or after waitMs — then the stragglers count as lost.
   */
  async waitForFinish(waitMs = FINISH_WAIT_MS): Promise<void> {
    const deadline = Date.now() + waitMs;
    const failures = new Map<number, number>();
    while (!this.settled() && Date.now() < deadline) {
      const wake = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        this.finishWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      const polls = this.indexes()
        .filter((i) => {
          const s = this.states.get(i);
          return s === undefined ? !this.missingAtStart.includes(i) : s.finishedAt === null && s.dead === null;
        })
        .map(async (i) => {
          const api = this.apiOf(i);
          if (api === null) return;
          const status = await readK6Status(api, POLL_MS * 2);
          if (status === null) {
            const n = (failures.get(i) ?? 0) + 1;
            failures.set(i, n);
            if (n >= DEAD_AFTER_POLLS) this.markDead(i, `its k6 REST API (${api}) stopped answering`);
          } else failures.set(i, 0);
        });
      await Promise.all([wake, ...polls]);
    }
    for (const i of this.indexes()) {
      const s = this.states.get(i);
      if (s === undefined && !this.missingAtStart.includes(i) && !this.deadUnregistered.has(i))
        this.markDead(i, 'never registered in setup()');
      else if (s !== undefined && s.finishedAt === null && s.dead === null)
        this.markDead(i, `did not finish within ${Math.round(waitMs / 1000)} s of the first runner's teardown()`);
    }
    this.releasedAt ??= Date.now();
    this.record('runners-merged', {
      finished: this.indexes().filter((i) => this.states.get(i)?.finishedAt != null).length,
      lost: this.lost().map((l) => l.index),
      barrier_ms: this.lastFinishedAt === null ? null : this.releasedAt - this.lastFinishedAt,
    });
  }

  /** Runners whose results are missing from the merge: each is named in the notes and fails the run closed. */
  lost(): Array<{ index: number; name: string; why: string }> {
    const out: Array<{ index: number; name: string; why: string }> = [];
    for (const i of this.indexes()) {
      const slot = runnerSlot(i, this.count);
      const s = this.states.get(i);
      const instance = s?.instanceId === null || s?.instanceId === undefined ? '' : `, instance_id ${s.instanceId}`;
      const name = `${runnerName(slot)}${instance}`;
      if (s === undefined) {
        const why = this.missingAtStart.includes(i)
          ? `never registered within ${START_WAIT_MS / 1000} s of the first runner's setup()`
          : (this.deadUnregistered.get(i) ?? 'never registered');
        out.push({ index: i, name, why });
      } else if (s.finishedAt === null) out.push({ index: i, name, why: s.dead ?? 'did not finish' });
    }
    return out;
  }

  private wake(which: 'start' | 'finish'): void {
    const list = which === 'start' ? this.startWaiters : this.finishWaiters;
    if (which === 'start') this.startWaiters = [];
    else this.finishWaiters = [];
    for (const w of list) w();
  }
}
