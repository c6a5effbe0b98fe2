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
