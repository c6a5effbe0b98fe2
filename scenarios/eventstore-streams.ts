/**
 * eventstore-streams — Does every event an EventStore cluster acknowledged read back intact, and
 * what do users see (failed checks, latency, requests/s) while a node is lost, with pod-local
 * storage versus a persistent disk? (Seed: eventstore-on-kubernetes-k6-bench — each user creates a
 * stream, adds 10 events, reads the stream, then reads each event; 10/100/1000 users for 5 minutes;
 * 500 users with pods deleted at 1m and 3m18s.)
 *
 * Against the embedded FIXTURE (not EventStore; see docs/eventstore.md):
 *   npm run build && node --import tsx lib/fixtures/eventstore-fixture-main.ts --port 2113 --data-dir /tmp/es &
 *   k6 run -e VUS=10 -e DURATION=30s build/eventstore-streams.js
 * Against a real KurrentDB / EventStoreDB (AtomPub enabled, e.g. port-forwarded):
 *   k6 run -e ES_URL=http://127.0.0.1:2113 -e ES_DIALECT=kurrent -e VUS=100 -e DURATION=5m build/eventstore-streams.js
 * Side by side (the seed's table):  k6-ha compare a.summary.json b.summary.json   (see lib/compare/cli.ts)
 *
 * Environment (parsed by lib/shared/scenario-config.ts, read from __ENV in lib/k6/env.ts): ES_URL, VUS, DURATION, EVENTS_PER_STREAM (10), ES_BATCH
 * (true: one request per stream), ES_DIALECT (eventstore|kurrent), ES_USER, ES_PASSWORD,
 * ES_EVENT_READ (json: the bare body, compared as text; atom: the Atom entry, id checked too),
 * ES_EXPECTED_VERSION (true|false), ES_RETRIES (0-5), ES_REVERIFY_EVERY (0: off; N: every Nth
 * iteration re-reads an earlier verified stream, finding loss after the fact), ES_ERROR_PAUSE (1s:
 * a VU's wait after a request got no answer; 0 hammers a dead node), REQUEST_TIMEOUT, THRESHOLDS
 * (es-steady|es-ha|es-observe|…), SIDECAR_URL, SUMMARY_JSON.
 */
import { check, sleep } from 'k6';
import encoding from 'k6/encoding';
import http, { type RefinedResponse, type ResponseType } from 'k6/http';
import { eventstoreConfig, summaryJsonPath } from '../lib/k6/env.ts';
import {
  ES_GATED_COUNTERS,
  esAckedMissing,
  esAppendsAcked,
  esAppendsAttempted,
  esAppendsFailed,
  esAppendsRetried,
  esAppendsUnknown,
  esDuplicates,
  esEventsVerified,
  esLostAfterVerify,
  esReadMismatches,
  esStaleReads,
  esStreamsReverified,
  esUnexpectedEvents,
  esUnknownStored,
  esUnverified,
  esVerified,
  esWrongVersion,
} from '../lib/k6/eventstore-metrics.ts';
import {
  checkEventRead,
  checkFeed,
  classifyAppend,
  currentVersionFromHeaders,
  dialectNames,
  EXPECTED_NO_STREAM,
  eventNumberFromLocation,
  type FeedEntry,
  FEED_SELECTOR,
  type FeedSelection,
  feedFromSelection,
  isExactFeed,
  type SentEvent,
  sentEventText,
  streamVerdict,
} from '../lib/k6/eventstore-protocol.ts';
import { OutcomeReporter } from '../lib/k6/outcome-reporter.ts';
import { CONTROL_RESPONSE_CALLBACK } from '../lib/k6/sidecar-client.ts';
import { finishWithSidecar, newRunTag, type SidecarSetupData, startWithSidecar } from '../lib/k6/sidecar-lifecycle.ts';
import { handleK6HaSummary } from '../lib/k6/summary-handler.ts';
import { formatDuration } from '../lib/shared/env-parse.ts';
import { SCENARIOS, type ScenarioName } from '../lib/shared/scenarios.ts';
import { toK6Thresholds } from '../lib/shared/thresholds.ts';
import { THRESHOLD_PROFILES } from '../thresholds/index.ts';

// k6 provides Web Crypto's randomUUID globally; @types/k6 does not declare it.
declare const crypto: { randomUUID(): string };

const SCENARIO = 'eventstore-streams' satisfies ScenarioName;
const EVENT_TYPE = 'k6ha-stream-event';
const PAGE_SIZE = 20;
const config = eventstoreConfig();
const names = dialectNames(config.dialect);
let missingReported = 0;
const authorization = `Basic ${encoding.b64encode(`${config.user}:${config.password}`)}`;

export const options = {
  scenarios: {
    streams: {
      // The seed's shape: N concurrent users repeating the stream workflow for the duration.
      executor: 'constant-vus',
      vus: config.vus,
      duration: config.duration,
      // An iteration interrupted mid-way is never verified; let one in flight finish its reads
      // even when each of its requests takes the whole timeout.
      gracefulStop: formatDuration(Math.max(30_000, config.requestTimeoutMs * 2)),
    },
  },
  thresholds: toK6Thresholds(THRESHOLD_PROFILES[config.thresholds] ?? { description: '', gates: {} }, {
    withChaos: config.sidecarUrl !== undefined,
  }),
  setupTimeout: '60s',
  teardownTimeout: '180s',
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

type SetupData = SidecarSetupData;

export function setup(): SetupData {
  // A zero sample per gated counter: `count==0` then judges a measured zero, not an absent metric.
  for (const counter of ES_GATED_COUNTERS) counter.add(0);
  preflight();
  return startWithSidecar(
    config.sidecarUrl,
    { runTag: newRunTag(), scenario: SCENARIO },
    `plain load against ${config.esUrl}: no chaos plan; verification by read-back still runs`,
  );
}

/** Fails before any load when the server is unreachable or refuses the credentials. */
function preflight(): void {
  const res = http.get(`${config.esUrl}/streams/k6ha-preflight-${crypto.randomUUID()}`, {
    headers: { Authorization: authorization, Accept: names.atomMediaType },
    timeout: '10s',
    tags: { name: 'preflight', k6ha: 'control' },
    // no http_req_failed sample: that rate is the workload's own requests (sidecar-client.ts)
    responseCallback: CONTROL_RESPONSE_CALLBACK,
  });
  if (res.status === 0)
    throw new Error(
      `eventstore-streams: cannot reach ES_URL=${config.esUrl} (${res.error}); is the server (or the fixture) running?`,
    );
  if (res.status === 401 || res.status === 403) {
    throw new Error(
      `eventstore-streams: ${config.esUrl} refused ES_USER=${config.user} with ${res.status}; set ES_USER and ES_PASSWORD`,
    );
  }
  if (res.status !== 404) {
    console.warn(
      `k6-ha: preflight read of a fresh stream answered ${res.status}, not 404: is ES_URL an EventStore with AtomPub enabled?`,
    );
  }
}

type Response = RefinedResponse<ResponseType | undefined>;

/** A user who got no answer at all waits a moment before the next request (ES_ERROR_PAUSE). */
function pauseAfterNoAnswer(status: number): void {
  if (status === 0 && config.errorPauseSeconds > 0) sleep(config.errorPauseSeconds);
}

// Made once, not per request: every reference to an imported k6 function looks its binding up
// and wraps it anew, and literal check or params objects would be new objects each time (21
// requests per iteration; see BENCHMARKS.md, EventStore).
const runCheck = check;
const isCreated = { 'is status 201': (r: Response) => r.status === 201 };
const isOk = { 'is status 200': (r: Response) => r.status === 200 };

let appendsReported = 0;
/** This VU's channel for failed appends (queued and retried when the sidecar misses one). */
const reporter = config.sidecarUrl === undefined ? null : new OutcomeReporter(config.sidecarUrl);

/** A failed append, told to the sidecar (when there is one) so it can measure unavailability. */
function reportFailedAppend(status: number, sentAt: number): void {
  const outcome = classifyAppend(status);
  if (outcome === 'acked' || reporter === null) return;
  // Unique across VUs: these numbers only time the outage; event ids are verified by k6 itself.
  const seq = __VU * 1_000_000_000 + appendsReported++;
  reporter.report({ seq, outcome, status, sentAt, t: Date.now() });
}

const appendParams = {
  headers: {} as Record<string, string>,
  timeout: config.requestTimeoutMs,
  tags: { name: 'append' },
};

function sendAppend(url: string, body: string, headers: Record<string, string>): Response {
  const sentAt = Date.now();
  appendParams.headers = headers;
  const res = http.post(url, body, appendParams);
  runCheck(res, isCreated);
  const status = res.status;
  reportFailedAppend(status, sentAt);
  pauseAfterNoAnswer(status);
  return res;
}

/** One append request, re-sent with the same body (same event ids) while its outcome is unknown. */
function postAppend(url: string, body: string, headers: Record<string, string>, events: SentEvent[]): Response {
  let res = sendAppend(url, body, headers);
  for (let attempt = 1; attempt <= config.retries && classifyAppend(res.status) === 'unknown'; attempt++) {
    esAppendsRetried.add(events.length);
    sleep(0.5 * attempt);
    res = sendAppend(url, body, headers);
  }
  const outcome = classifyAppend(res.status);
  const first = outcome === 'acked' ? eventNumberFromLocation(res.headers['Location']) : null;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as SentEvent;
    e.outcome = outcome;
    e.number = first === null ? null : first + i;
  }
  return res;
}

/** The seed's way: one request per event, with the id and type in headers. */
function appendEach(streamUrl: string, sent: SentEvent[]): void {
  let expected = EXPECTED_NO_STREAM;
  // One headers object for the stream, pointed at each event in turn (requests are synchronous).
  const headers: Record<string, string> = {
    Authorization: authorization,
    'Content-Type': 'application/json',
    [names.eventId]: '',
    [names.eventType]: EVENT_TYPE,
  };
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i] as SentEvent;
    headers[names.eventId] = s.eventId;
    if (config.expectedVersion) headers[names.expectedVersion] = String(expected);
    const res = postAppend(streamUrl, s.text, headers, [s]);
    if (s.outcome === 'acked' && s.number !== null) {
      expected = s.number;
    } else if (res.status === 400) {
      const current = currentVersionFromHeaders(res.headers, names);
      if (current !== null) {
        esWrongVersion.add(1);
        // An earlier append with no answer was stored after all: continue after it.
        expected = current;
      }
    }
  }
}

/** All events of the stream in one atomic request. */
function appendBatch(streamUrl: string, sent: SentEvent[]): void {
  const headers: Record<string, string> = { Authorization: authorization, 'Content-Type': names.eventsMediaType };
  if (config.expectedVersion) headers[names.expectedVersion] = String(EXPECTED_NO_STREAM);
  // Each body spliced in as the JSON text it is (no parse and re-serialise).
  const body = `[${sent.map((s) => `{"eventId":${JSON.stringify(s.eventId)},"eventType":"${EVENT_TYPE}","data":${s.text}}`).join(',')}]`;
  const res = postAppend(streamUrl, body, headers, sent);
  if (res.status === 400 && currentVersionFromHeaders(res.headers, names) !== null) esWrongVersion.add(1);
}

interface ReadParams {
  headers: Record<string, string>;
  timeout: number;
  tags: { name: string };
}
const feedHeaders = { Authorization: authorization, Accept: names.atomMediaType };
const eventHeaders = {
  Authorization: authorization,
  Accept: config.eventRead === 'json' ? 'application/json' : names.atomMediaType,
};
const readParams = (headers: Record<string, string>, name: string): ReadParams => ({
  headers,
  timeout: config.requestTimeoutMs,
  tags: { name },
});
const READS = {
  stream: readParams(feedHeaders, 'read stream'),
  streamPage: readParams(feedHeaders, 'read stream page'),
  reverify: readParams(feedHeaders, 'reverify stream'),
  reverifyPage: readParams(feedHeaders, 'reverify stream page'),
  event: readParams(eventHeaders, 'read event'),
};

function get(url: string, params: ReadParams): Response {
  const res = http.get(url, params);
  runCheck(res, isOk);
  pauseAfterNoAnswer(res.status);
  return res;
}

/** The feed's ids, numbers, bodies and next link, extracted by k6 in Go (see FEED_SELECTOR). */
function selectionOf(res: Response): FeedSelection | null {
  try {
    return res.json(FEED_SELECTOR) as FeedSelection | null;
  } catch {
    return null; // not JSON: not a feed
  }
}

/** `exact`: one page with exactly the events expected (isExactFeed), now all marked verified. */
type StreamRead =
  { kind: 'entries'; entries: FeedEntry[] } | { kind: 'exact' } | { kind: 'gone' } | { kind: 'no-answer' };

/** Reads a whole stream, following "next" pages past 20 events. */
function readWholeStream(streamUrl: string, expected: SentEvent[], first: ReadParams, next: ReadParams): StreamRead {
  const entries: FeedEntry[] = [];
  let url: string | null = `${streamUrl}?embed=body`;
  let pages = 0;
  const maxPages = Math.ceil(expected.length / PAGE_SIZE) + 2;
  while (url !== null && pages < maxPages) {
    const res = get(url, pages === 0 ? first : next);
    pages++;
    const status = res.status;
    if (status === 404 || status === 410) return { kind: 'gone' };
    const selection = status === 200 ? selectionOf(res) : null;
    if (pages === 1 && isExactFeed(selection, expected)) {
      for (let i = 0; i < expected.length; i++) (expected[i] as SentEvent).verified = true;
      return { kind: 'exact' };
    }
    const page = feedFromSelection(selection);
    // No answer (or not a feed): this read proves nothing either way.
    if (page === null) return { kind: 'no-answer' };
    for (let i = 0; i < page.entries.length; i++) entries.push(page.entries[i] as FeedEntry);
    url = page.nextUrl === null ? null : `${page.nextUrl}${page.nextUrl.includes('?') ? '&' : '?'}embed=body`;
  }
  return { kind: 'entries', entries };
}

/** Reads the stream just written and checks it against what was sent. */
function readStream(streamUrl: string, sent: SentEvent[]): void {
  const read = readWholeStream(streamUrl, sent, READS.stream, READS.streamPage);
  if (read.kind === 'no-answer' || read.kind === 'exact') return;
  if (read.kind === 'gone') {
    // The stream is gone although events were acked into it: every acked event is absent.
    if (sent.some((s) => s.outcome === 'acked')) {
      esStaleReads.add(1);
      for (const s of sent) if (s.outcome === 'acked') s.absentFromARead = true;
    }
    return;
  }
  const found = checkFeed(sent, read.entries);
  if (found.stale) esStaleReads.add(1);
  if (found.mismatches > 0) esReadMismatches.add(found.mismatches);
  if (found.duplicates > 0) esDuplicates.add(found.duplicates);
  if (found.unknownStored > 0) esUnknownStored.add(found.unknownStored);
  if (found.unexpected > 0) esUnexpectedEvents.add(found.unexpected);
}

/** A stream this VU verified completely, kept to re-read later (ES_REVERIFY_EVERY). */
interface VerifiedStream {
  streamUrl: string;
  events: SentEvent[];
  lossCounted: boolean;
}

const MAX_REMEMBERED_STREAMS = 500;
const verifiedStreams: VerifiedStream[] = [];

function remember(streamUrl: string, sent: SentEvent[]): void {
  const entry = { streamUrl, events: sent.filter((s) => s.outcome === 'acked'), lossCounted: false };
  if (verifiedStreams.length < MAX_REMEMBERED_STREAMS) verifiedStreams.push(entry);
  else verifiedStreams[Math.floor(Math.random() * MAX_REMEMBERED_STREAMS)] = entry;
}

/** Re-reads one earlier verified stream: everything it once returned must still be there. */
function reverifyOne(): void {
  const old = verifiedStreams[Math.floor(Math.random() * verifiedStreams.length)];
  if (old === undefined) return;
  const again = old.events.map((e) => ({ ...e, verified: false, absentFromARead: false, mismatched: false }));
  const read = readWholeStream(old.streamUrl, again, READS.reverify, READS.reverifyPage);
  if (read.kind === 'no-answer') return;
  esStreamsReverified.add(1);
  if (read.kind === 'gone') for (const e of again) e.absentFromARead = true;
  else if (read.kind === 'entries') checkFeed(again, read.entries);
  const lost = streamVerdict(again).ackedMissing;
  if (lost > 0 && !old.lossCounted) {
    old.lossCounted = true;
    esAckedMissing.add(lost, { phase: 'reverify' });
    esLostAfterVerify.add(lost);
    if (missingReported < 3) {
      missingReported++;
      console.warn(`k6-ha: ${lost} event(s) of ${old.streamUrl} were read back earlier but are gone now`);
    }
  }
}

function readEvents(streamUrl: string, sent: SentEvent[]): void {
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i] as SentEvent;
    if (s.outcome !== 'acked' || s.number === null) continue;
    const res = get(`${streamUrl}/${s.number}`, READS.event);
    const body = res.body;
    const verdict = checkEventRead(s, res.status, typeof body === 'string' ? body : null, config.eventRead);
    if (verdict === 'stale') esStaleReads.add(1);
    else if (verdict === 'mismatch') esReadMismatches.add(1);
  }
}

export default function streams(): void {
  // Reports an earlier try could not deliver go out first (one field read when there are none).
  if (reporter !== null && reporter.needsWork) reporter.beforeIteration();
  const stream = `k6ha-${crypto.randomUUID()}`;
  const streamUrl = `${config.esUrl}/streams/${stream}`;
  const sent: SentEvent[] = [];
  // __VU and __ITER, not exec.vu: each exec.vu access builds a new object of Go accessors in k6.
  const vu = __VU;
  const iteration = __ITER;
  for (let seq = 0; seq < config.eventsPerStream; seq++) {
    // JSON.stringify({ stream, seq, vu, iteration, sentAt }) without the object (stream is k6ha-<uuid>).
    sent.push(
      sentEventText(
        crypto.randomUUID(),
        `{"stream":"${stream}","seq":${seq},"vu":${vu},"iteration":${iteration},"sentAt":${Date.now()}}`,
      ),
    );
  }
  if (config.batch) appendBatch(streamUrl, sent);
  else appendEach(streamUrl, sent);
  readStream(streamUrl, sent);
  readEvents(streamUrl, sent);

  // One sample per metric per iteration, not per event: every sample costs k6 CPU.
  let acked = 0;
  let failed = 0;
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i] as SentEvent;
    if (s.outcome === 'acked') acked++;
    else if (s.outcome === 'failed') failed++;
  }
  esAppendsAttempted.add(sent.length);
  if (acked > 0) esAppendsAcked.add(acked);
  if (failed > 0) esAppendsFailed.add(failed);
  if (sent.length - acked - failed > 0) esAppendsUnknown.add(sent.length - acked - failed);
  const verdict = streamVerdict(sent);
  if (verdict.verified > 0) esEventsVerified.add(verdict.verified);
  if (verdict.ackedMissing > 0) esAckedMissing.add(verdict.ackedMissing);
  if (verdict.unverified > 0) esUnverified.add(verdict.unverified);
  if (verdict.acked > 0) esVerified.add(verdict.verified === verdict.acked);
  if (config.reverifyEvery > 0) {
    if (verdict.acked > 0 && verdict.verified === verdict.acked) remember(streamUrl, sent);
    if (iteration % config.reverifyEvery === config.reverifyEvery - 1) reverifyOne();
  }
  if (verdict.ackedMissing > 0 && missingReported < 3) {
    missingReported++;
    const lost = sent.filter((s) => s.outcome === 'acked' && !s.verified).map((s) => `${s.number ?? '?'}:${s.eventId}`);
    console.warn(
      `k6-ha: ${verdict.ackedMissing} acked event(s) of ${stream} did not read back: ${lost.slice(0, 5).join(', ')}`,
    );
  }
}

export function teardown(data: SetupData): void {
  finishWithSidecar(data);
}

export function handleSummary(data: unknown): Record<string, string> {
  return handleK6HaSummary(data, {
    scenario: SCENARIO,
    sidecarUrl: config.sidecarUrl,
    summaryJsonPath: summaryJsonPath(),
    notAckedCounters: SCENARIOS[SCENARIO].notAckedCounters,
    metrics: SCENARIOS[SCENARIO].reportMetrics,
  });
}
