// What the chaos executor and the runner need from any local stack (JetStream, the EventStore
// fixture, …): its killable members ("pods") and the k6 environment that points a scenario at it.

export interface StackMember {
  readonly name: string;
  readonly running: boolean;
  readonly pid: number | undefined;
  /** SIGKILL; resolves when the process is gone. */
  kill(): Promise<void>;
  /** Graceful stop (SIGTERM, escalating to SIGKILL). */
  stop(): Promise<void>;
  /**
   * What the kubelet does to the member's pod when it is deleted: its preStop hook (nats-server:
   * lame-duck mode), then its stop signal (SIGTERM unless its image says otherwise), then SIGKILL
   * when it is still there graceMs after the deletion began. Resolves when the process is gone;
   * starting it again is the caller's (the StatefulSet's) job.
   */
  terminate(graceMs: number): Promise<PodTermination>;
  /** Start again with the same data; resolves when healthy. */
  start(): Promise<void>;
  /** Lose the member's data (only while stopped): a node lost with its volume. */
  wipe(): void;
  /** Called with every exit, planned or not, so observers can put it on the timeline. */
  onExit(listener: (info: { code: number | null; signal: string | null; expected: boolean }) => void): void;
  onStart(listener: (pid: number) => void): void;
}

/** How one pod termination went, for the timeline. */
export interface PodTermination {
  /** the preStop hook that ran (e.g. `nats-server --signal ldm=<pid>`), null without one */
  preStop: string | null;
  /** the hook's failure, if it failed (the termination goes on, as the kubelet's does) */
  preStopError: string | null;
  /** the signal sent once the hook returned */
  stopSignal: string;
  graceMs: number;
  /** from the deletion to the process being gone */
  tookMs: number;
  /** the grace period ran out and SIGKILL ended it */
  killed: boolean;
  code: number | null;
  signal: string | null;
}

export interface LocalStackHandle {
  readonly kind: string;
  readonly runDir: string;
  members(): StackMember[];
  /** Environment for `k6 run -e K=V` so the scenario targets this stack. */
  k6Env(): Record<string, string>;
  stop(): Promise<void>;
}
