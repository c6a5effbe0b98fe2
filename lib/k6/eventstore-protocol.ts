// The EventStoreDB / KurrentDB AtomPub HTTP API as the eventstore-streams scenario speaks it, and
// the read-back verification of one stream. Pure TypeScript (no k6 imports) so the logic that
// decides "acked but missing" is unit-tested in Node (test/unit/eventstore-protocol.test.ts).
// Loops that run per event are indexed, not for…of: in k6's JS engine for…of goes through the
// iterator protocol, one result object per step, and that showed in k6's CPU profile.

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
  // Per append, so by hand rather than a RegExp (k6's engine runs those slowly): the digits of
  // the last path segment, a trailing slash allowed.
  let end = location.length;
  if (end > 0 && location.charCodeAt(end - 1) === 47) end--;
  let start = end;
  while (start > 0) {
    const c = location.charCodeAt(start - 1);
    if (c < 48 || c > 57) break;
    start--;
  }
  if (start === end || start === 0 || location.charCodeAt(start - 1) !== 47) return null;
  return Number(location.slice(start, end));
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
  /** The body as the server returned it: JSON text (embed=body), or an already parsed value. */
  data: unknown;
}

export interface FeedPage {
  entries: FeedEntry[];
  /** The "next" link: older events, when the stream does not fit one page. */
  nextUrl: string | null;
}

/**
 * The parts of a feed the verification needs, as a gjson multipath: inside k6 `res.json(FEED_SELECTOR)`
 * extracts them in Go, several times cheaper than JSON.parse of the whole (pretty-printed) feed.
 */
export const FEED_SELECTOR =
  '{ids:entries.#.eventId,nums:entries.#.eventNumber,data:entries.#.data,next:links.#(relation=="next").uri}';

/** What FEED_SELECTOR selects: parallel arrays, one element per entry. */
export interface FeedSelection {
  ids?: unknown;
  nums?: unknown;
  data?: unknown;
  next?: unknown;
}

/** A feed page from its selection; null when it is not a feed (no entries array). */
export function feedFromSelection(sel: FeedSelection | null | undefined): FeedPage | null {
  if (!isObject(sel) || !Array.isArray(sel.ids)) return null;
  const ids = sel.ids as unknown[];
  const nums = Array.isArray(sel.nums) ? (sel.nums as unknown[]) : [];
  const data = Array.isArray(sel.data) ? (sel.data as unknown[]) : [];
  const entries: FeedEntry[] = [];
  for (let i = 0; i < ids.length; i++) {
    const eventId = ids[i];
    const eventNumber = nums[i];
    // embed=body carries JSON data as text; it is compared as text first (see sameBody).
    if (typeof eventId === 'string' && typeof eventNumber === 'number')
      entries.push({ eventId, eventNumber, data: data[i] });
  }
  return { entries, nextUrl: typeof sel.next === 'string' ? sel.next : null };
}

/** An Atom JSON feed read with ?embed=body (the same selection, by JSON.parse); null when the body is not one. */
export function parseFeed(body: string | null | undefined): FeedPage | null {
  const feed = parseJson(body);
  if (!isObject(feed) || !Array.isArray(feed['entries'])) return null;
  const entries = (feed['entries'] as unknown[]).filter(isObject);
  const links = Array.isArray(feed['links']) ? (feed['links'] as unknown[]).filter(isObject) : [];
  return feedFromSelection({
    ids: entries.map((e) => e['eventId']),
    nums: entries.map((e) => e['eventNumber']),
    data: entries.map((e) => e['data']),
    next: links.find((l) => l['relation'] === 'next')?.['uri'],
  });
}

/** A single event read with the Atom JSON media type: its id, number and data. */
export function parseAtomEvent(body: string | null | undefined): FeedEntry | null {
  const entry = parseJson(body);
  if (!isObject(entry) || !isObject(entry['content'])) return null;
  const c = entry['content'];
  if (typeof c['eventId'] !== 'string' || typeof c['eventNumber'] !== 'number') return null;
  return { eventId: c['eventId'], eventNumber: c['eventNumber'], data: c['data'] };
}

/** What one iteration knows about one event it appended. */
export interface SentEvent {
  eventId: string;
  /** The body's JSON text exactly as sent (parsed only when a read returns other text). */
  text: string;
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
  return sentEventText(eventId, JSON.stringify(data));
}

/** An event whose body is already JSON text: no object and no JSON.stringify per event in k6. */
export function sentEventText(eventId: string, text: string): SentEvent {
  return {
    eventId,
    text,
    outcome: 'unknown',
    number: null,
    verified: false,
    absentFromARead: false,
    mismatched: false,
  };
}

/**
 * Whether a body read back is the one sent. The text is compared first — a server stores a
 * single JSON append byte for byte, and parsing every body would cost k6 more CPU than the
 * requests themselves; a server that re-serialised the JSON (a batch append) is compared by value.
 */
export function sameBody(s: SentEvent, got: unknown): boolean {
  if (typeof got === 'string') return got === s.text || jsonEqual(parseJson(got), parseJson(s.text));
  return jsonEqual(got, parseJson(s.text));
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

/**
 * The common case, decided on FEED_SELECTOR's arrays without building entries: one page holding
 * exactly the events sent, all acked, newest first, each with the number from its Location and
 * the very text sent. True means checkFeed would mark every one verified and find nothing else;
 * false only means "take the full path" (another order, a re-serialised body, a second page…).
 */
export function isExactFeed(sel: FeedSelection | null | undefined, sent: SentEvent[]): boolean {
  if (!isObject(sel) || typeof sel.next === 'string') return false;
  const { ids, nums, data } = sel;
  const n = sent.length;
  if (n === 0 || !Array.isArray(ids) || !Array.isArray(nums) || !Array.isArray(data)) return false;
  if (ids.length !== n || nums.length !== n || data.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const s = sent[n - 1 - i] as SentEvent;
    if (s.outcome !== 'acked' || s.number === null) return false;
    if (ids[i] !== s.eventId || nums[i] !== s.number || data[i] !== s.text) return false;
  }
  return true;
}

/** Checks the whole stream as read (all pages) against what was sent; marks the sent events. */
export function checkFeed(sent: SentEvent[], entries: FeedEntry[]): FeedCheck {
  const result: FeedCheck = { stale: false, duplicates: 0, unknownStored: 0, unexpected: 0, mismatches: 0 };
  const ours = new Map<string, SentEvent>();
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i] as SentEvent;
    ours.set(s.eventId, s);
  }
  // The first (newest, as feeds list them) copy of each id; later copies are duplicates.
  const found = new Map<string, FeedEntry>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as FeedEntry;
    if (!ours.has(e.eventId)) result.unexpected++;
    else if (found.has(e.eventId)) result.duplicates++;
    else found.set(e.eventId, e);
  }
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i] as SentEvent;
    const e = found.get(s.eventId);
    if (s.outcome !== 'acked') {
      if (e !== undefined && s.outcome === 'unknown') result.unknownStored++;
      continue;
    }
    if (e === undefined) {
      s.absentFromARead = true;
      result.stale = true;
    } else if ((s.number === null || e.eventNumber === s.number) && sameBody(s, e.data)) {
      s.verified = true;
    } else {
      s.mismatched = true;
      result.mismatches++;
    }
  }
  return result;
}

/** How single events are read: the bare data (`application/json`, compared as text) or the Atom entry (id too). */
export type EventReadMode = 'json' | 'atom';

/** Checks one event read (`GET /streams/{s}/{n}`) against the acked event it should be. */
export function checkEventRead(
  s: SentEvent,
  status: number,
  body: string | null | undefined,
  mode: EventReadMode = 'atom',
): 'verified' | 'stale' | 'mismatch' | 'no-answer' {
  if (status === 404 || status === 410) {
    s.absentFromARead = true;
    return 'stale';
  }
  if (status !== 200) return 'no-answer';
  let same: boolean;
  if (mode === 'json') {
    same = typeof body === 'string' && sameBody(s, body);
  } else {
    const got = parseAtomEvent(body);
    same = got !== null && got.eventId === s.eventId && got.eventNumber === s.number && sameBody(s, got.data);
  }
  if (same) {
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
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i] as SentEvent;
    if (s.outcome !== 'acked') continue;
    v.acked++;
    if (s.verified) v.verified++;
    else if (s.absentFromARead || s.mismatched) v.ackedMissing++;
    else v.unverified++;
  }
  return v;
}
