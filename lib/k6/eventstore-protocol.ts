// The EventStoreDB / KurrentDB AtomPub HTTP API as the eventstore-streams scenario speaks it, and
// the read-back verification of one stream. Pure TypeScript (no k6 imports) so the logic that
// decides "acked but missing" is unit-tested in Node (test/unit/eventstore-protocol.test.ts).

/** EventStoreDB (ES-* headers, vnd.eventstore media types) or KurrentDB (Kurrent-*, vnd.kurrent). */
export const ES_DIALECTS = ['eventstore', 'kurrent'] as const;
export type EsDialect = (typeof ES_DIALECTS)[number];

export interface DialectNames {
  expectedVersion: string;
  eventId: string;
  eventType: string;
  currentVersion: string;
  /** Content type of a batch append: a JSON array of {eventId, eventType, data}. */
  eventsMediaType: string;
  /** Accept for feeds and single events in Atom JSON. */
  atomMediaType: string;
}

export function dialectNames(dialect: EsDialect): DialectNames {
  return dialect === 'kurrent'
    ? {
        expectedVersion: 'Kurrent-ExpectedVersion',
        eventId: 'Kurrent-EventId',
        eventType: 'Kurrent-EventType',
        currentVersion: 'Kurrent-CurrentVersion',
        eventsMediaType: 'application/vnd.kurrent.events+json',
        atomMediaType: 'application/vnd.kurrent.atom+json',
      }
    : {
        expectedVersion: 'ES-ExpectedVersion',
        eventId: 'ES-EventId',
        eventType: 'ES-EventType',
        currentVersion: 'ES-CurrentVersion',
        eventsMediaType: 'application/vnd.eventstore.events+json',
        atomMediaType: 'application/vnd.eventstore.atom+json',
      };
}

/** "the stream must not exist yet": the first append to a fresh stream. */
export const EXPECTED_NO_STREAM = -1;

export type AppendOutcome = 'acked' | 'failed' | 'unknown';

/**
 * 201 is an acknowledgement. A 4xx is a definite refusal (nothing was written). Anything else —
 * no response (status 0: refused connection, reset, timeout) or a 5xx — may or may not have been
 * written: only a read can tell.
 */
export function classifyAppend(status: number): AppendOutcome {
  if (status === 201) return 'acked';
  if (status >= 400 && status < 500) return 'failed';
  return 'unknown';
}

/** The event number in a 201's Location (`…/streams/{stream}/{number}`), or null. */
export function eventNumberFromLocation(location: string | undefined | null): number | null {
  if (location === undefined || location === null) return null;
  const m = /\/(\d+)\/?$/.exec(location);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** The current version EventStore sends with a 400 "Wrong expected EventNumber". */
export function currentVersionFromHeaders(headers: Record<string, string>, names: DialectNames): number | null {
  const wanted = [names.currentVersion.toLowerCase(), 'es-currentversion', 'kurrent-currentversion'];
  for (const [k, v] of Object.entries(headers)) {
    if (wanted.includes(k.toLowerCase()) && /^-?\d+$/.test(v.trim())) return Number(v);
  }
  return null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(text: string | null | undefined): unknown {
  if (typeof text !== 'string' || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Structural equality of two JSON values (the server may re-serialise, so text is not compared). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

export interface FeedEntry {
  eventId: string;
  eventNumber: number;
  /** The parsed body when the feed embedded it (embed=body). */
  data: unknown;
}

export interface FeedPage {
  entries: FeedEntry[];
  /** The "next" link: older events, when the stream does not fit one page. */
  nextUrl: string | null;
}

/** An Atom JSON feed read with ?embed=body; null when the body is not one. */
export function parseFeed(body: string | null | undefined): FeedPage | null {
  const feed = parseJson(body);
  if (!isObject(feed) || !Array.isArray(feed['entries'])) return null;
  const entries: FeedEntry[] = [];
  for (const e of feed['entries']) {
    if (!isObject(e) || typeof e['eventId'] !== 'string' || typeof e['eventNumber'] !== 'number') continue;
    // embed=body carries JSON data as text; tolerate servers that embed it already parsed.
    const data = typeof e['data'] === 'string' ? parseJson(e['data']) : e['data'];
    entries.push({ eventId: e['eventId'], eventNumber: e['eventNumber'], data });
  }
  const links = Array.isArray(feed['links']) ? feed['links'] : [];
  const next = links.find((l): l is Json => isObject(l) && l['relation'] === 'next');
  return { entries, nextUrl: next !== undefined && typeof next['uri'] === 'string' ? next['uri'] : null };
}

/** A single event read with the Atom JSON media type: its id, number and parsed data. */
export function parseAtomEvent(body: string | null | undefined): FeedEntry | null {
  const entry = parseJson(body);
  if (!isObject(entry) || !isObject(entry['content'])) return null;
  const c = entry['content'];
  if (typeof c['eventId'] !== 'string' || typeof c['eventNumber'] !== 'number') return null;
  return { eventId: c['eventId'], eventNumber: c['eventNumber'], data: typeof c['data'] === 'string' ? parseJson(c['data']) ?? c['data'] : c['data'] };
}

/** What one iteration knows about one event it appended. */
export interface SentEvent {
  eventId: string;
  /** The body that was sent, parsed. */
  data: unknown;
  outcome: AppendOutcome;
  /** From the 201's Location; null when not acked. */
  number: number | null;
  /** A read returned this event with the same id and body. */
  verified: boolean;
  /** A read that succeeded (200 or 404) did not contain it although it was acked. */
  absentFromARead: boolean;
  /** A read returned this event number with another id or body. */
  mismatched: boolean;
}

export function sentEvent(eventId: string, data: unknown): SentEvent {
  return { eventId, data, outcome: 'unknown', number: null, verified: false, absentFromARead: false, mismatched: false };
}

export interface FeedCheck {
  /** The feed lacked at least one acked event: a stale (or lossy) read. */
  stale: boolean;
  /** Copies of our events beyond the first (an idempotent retry that was stored twice). */
  duplicates: number;
  /** Events whose append had no answer but that are stored. */
  unknownStored: number;
  /** Entries of this stream that this iteration never sent. */
  unexpected: number;
  mismatches: number;
}

/** Checks the whole stream as read (all pages) against what was sent; marks the sent events. */
export function checkFeed(sent: SentEvent[], entries: FeedEntry[]): FeedCheck {
  const byId = new Map<string, FeedEntry[]>();
  for (const e of entries) byId.set(e.eventId, [...(byId.get(e.eventId) ?? []), e]);
  const result: FeedCheck = { stale: false, duplicates: 0, unknownStored: 0, unexpected: 0, mismatches: 0 };
  const ours = new Set(sent.map((s) => s.eventId));
  for (const [id, copies] of byId) {
    if (!ours.has(id)) result.unexpected += copies.length;
    else result.duplicates += copies.length - 1;
  }
  for (const s of sent) {
    const found = byId.get(s.eventId)?.[0];
    if (s.outcome !== 'acked') {
      if (found !== undefined) result.unknownStored += s.outcome === 'unknown' ? 1 : 0;
      continue;
    }
    if (found === undefined) {
      s.absentFromARead = true;
      result.stale = true;
    } else if ((s.number === null || found.eventNumber === s.number) && jsonEqual(found.data, s.data)) {
      s.verified = true;
    } else {
      s.mismatched = true;
      result.mismatches++;
    }
  }
  return result;
}

/** Checks one event read (`GET /streams/{s}/{n}`, Atom JSON) against the acked event it should be. */
export function checkEventRead(s: SentEvent, status: number, body: string | null | undefined): 'verified' | 'stale' | 'mismatch' | 'no-answer' {
  if (status === 404 || status === 410) {
    s.absentFromARead = true;
    return 'stale';
  }
  if (status !== 200) return 'no-answer';
  const got = parseAtomEvent(body);
  if (got !== null && got.eventId === s.eventId && got.eventNumber === s.number && jsonEqual(got.data, s.data)) {
    s.verified = true;
    return 'verified';
  }
  s.mismatched = true;
  return 'mismatch';
}

export interface StreamVerdict {
  acked: number;
  verified: number;
  /** Acked, and no read returned it: at least one successful read lacked it or had another event in its place. */
  ackedMissing: number;
  /** Acked, but every read failed, so nothing is known. */
  unverified: number;
}

export function streamVerdict(sent: SentEvent[]): StreamVerdict {
  const v: StreamVerdict = { acked: 0, verified: 0, ackedMissing: 0, unverified: 0 };
  for (const s of sent) {
    if (s.outcome !== 'acked') continue;
    v.acked++;
    if (s.verified) v.verified++;
    else if (s.absentFromARead || s.mismatched) v.ackedMissing++;
    else v.unverified++;
  }
  return v;
}
