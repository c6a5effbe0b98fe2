// The run's timeline: every event is appended to timeline.jsonl with a synchronous write the
// moment it happens, so a crash (even kill -9 of the sidecar) keeps everything recorded so far.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { TimelineEvent, TimelineKinds, TimelineSource } from '../shared/types.ts';

export class Timeline {
  private fd: number | null;
  readonly events: TimelineEvent[] = [];
  /** Epoch ms of load start (the schedule's zero); null until k6 says load started. */
  zero: number | null = null;
  private listeners: Array<(e: TimelineEvent) => void> = [];

  constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }

  offsetOf(epochMs: number): number | null {
    return this.zero === null ? null : epochMs - this.zero;
  }

  record<S extends TimelineSource>(
    source: S,
    kind: TimelineKinds[S],
    target: string | null,
    detail: Record<string, unknown> = {},
    at = Date.now(),
  ): TimelineEvent {
    const event = {
      ts: new Date(at).toISOString(),
      offset_ms: this.offsetOf(at),
      source,
      kind,
      target,
      detail,
    } as TimelineEvent;
    this.events.push(event);
    if (this.fd !== null) writeSync(this.fd, `${JSON.stringify(event)}\n`);
    for (const l of this.listeners) l(event);
    return event;
  }

  onEvent(listener: (e: TimelineEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Later events stay in memory only. */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
