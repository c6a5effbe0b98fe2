// Builds one CloudEvents 1.0 HTTP request in binary or structured content mode, or the legacy
// Kyma `/{app}/v1/events` body. Pure functions: no k6 calls, so unit tests can run them in Node.
import type { CeMode } from '../shared/defaults.ts';

export interface EventRequest {
  body: string;
  headers: Record<string, string>;
}

export interface EventFields {
  id: string;
  type: string;
  source: string;
  time: string;
  data: unknown;
}

export function buildEventRequest(mode: CeMode | 'legacy', event: EventFields): EventRequest {
  if (mode === 'binary') {
    return {
      body: JSON.stringify(event.data),
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': event.id,
        'ce-type': event.type,
        'ce-source': event.source,
        'ce-time': event.time,
      },
    };
  }
  if (mode === 'structured') {
    return {
      body: JSON.stringify({
        specversion: '1.0',
        id: event.id,
        type: event.type,
        source: event.source,
        time: event.time,
        datacontenttype: 'application/json',
        data: event.data,
      }),
      headers: { 'content-type': 'application/cloudevents+json' },
    };
  }
  // Legacy Kyma events: the type's last token is the version (order.created.v1 → order.created / v1).
  const dot = event.type.lastIndexOf('.');
  return {
    body: JSON.stringify({
      'event-id': event.id,
      'event-type': dot > 0 ? event.type.slice(0, dot) : event.type,
      'event-type-version': dot > 0 ? event.type.slice(dot + 1) : 'v1',
      'event-time': event.time,
      data: event.data,
    }),
    headers: { 'content-type': 'application/json' },
  };
}

/** What every published event carries as data: its place in the run, the VU and when it was sent. */
export interface EventData {
  seq: number;
  vu: number;
  sentAt: number;
}

/** The k6 request parameters of a publish; one object per VU, reused for every event. */
export interface PublishParams {
  headers: Record<string, string>;
  timeout: number;
  tags: { name: string };
}

/**
 * The publish request of one VU, rebuilt in place for each event. Why: in k6 every object handed
 * to a Go function is converted field by field, and every allocation feeds the collector; at
 * thousands of events per second a fresh headers object, a `Date` and a `JSON.stringify` per event
 * cost k6 a measurable share of its CPU (BENCHMARKS.md, overhead). The bytes sent are exactly what
 * buildEventRequest() produces for the same event (unit-tested).
 */
export class EventRequestTemplate {
  // TypeScript `private`, not `#fields`: the es2021 build would turn those into WeakMap look-ups.
  readonly params: PublishParams;
  private readonly clock = new IsoTimeFormatter();

  constructor(
    private readonly mode: CeMode | 'legacy',
    private readonly type: string,
    private readonly source: string,
    timeoutMs: number,
  ) {
    const headers =
      mode === 'binary'
        ? {
            'content-type': 'application/json',
            'ce-specversion': '1.0',
            'ce-id': '',
            'ce-type': type,
            'ce-source': source,
            'ce-time': '',
          }
        : { ...buildEventRequest(mode, { id: '', type, source, time: '', data: null }).headers };
    this.params = { headers, timeout: timeoutMs, tags: { name: 'publish' } };
  }

  /** Points the headers at this event and returns its body (data: seq, vu, sentAt). */
  next(id: string, seq: number, vu: number, sentAt: number): string {
    const time = this.clock.format(sentAt);
    if (this.mode === 'binary') {
      this.params.headers['ce-id'] = id;
      this.params.headers['ce-time'] = time;
      return `{"seq":${seq},"vu":${vu},"sentAt":${sentAt}}`;
    }
    const data: EventData = { seq, vu, sentAt };
    return buildEventRequest(this.mode, { id, type: this.type, source: this.source, time, data }).body;
  }
}

/**
 * `new Date(ms).toISOString()` without a Date per call: the part up to the second changes once a
 * second, so it is kept and only the milliseconds are appended.
 */
export class IsoTimeFormatter {
  private second = Number.NaN;
  private prefix = '';

  format(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      this.prefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const millis = ms - second * 1000;
    return this.prefix + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z';
  }
}

export type PublishOutcome = 'acked' | 'failed' | 'unknown';

/**
 * What a response says about the event: 2xx is an ack; a definite 4xx means it was refused and is
 * not in the stream; a timeout (status 0) or any 5xx leaves the outcome unknown — the event may or
 * may not have been stored, which is exactly what the final stream read settles.
 */
export function classifyStatus(status: number): PublishOutcome {
  if (status >= 200 && status < 300) return 'acked';
  if (status >= 400 && status < 500) return 'failed';
  return 'unknown';
}
