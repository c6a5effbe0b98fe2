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
  /** Start again with the same data; resolves when healthy. */
  start(): Promise<void>;
  /** Lose the member's data (only while stopped): a node lost with its volume. */
  wipe(): void;
  /** Called with every exit, planned or not, so observers can put it on the timeline. */
  onExit(listener: (info: { code: number | null; signal: string | null; expected: boolean }) => void): void;
  onStart(listener: (pid: number) => void): void;
}

export interface LocalStackHandle {
  readonly kind: string;
  readonly runDir: string;
  members(): StackMember[];
  /** Environment for `k6 run -e K=V` so the scenario targets this stack. */
  k6Env(): Record<string, string>;
  stop(): Promise<void>;
}
