// Jepsen-style accounting for an object store (s3-objects): every PUT k6 sent, by its key, against
// a final read of every one of those keys. Pure, so each rule is unit-tested on small inputs.
//
// lost      — the PUT was acked (no report: acks are implied) and the key is not readable;
// corrupt   — the key is readable but its bytes' sha256 is not the one written (whatever the PUT's
//             outcome: a reader would get bytes nobody wrote);
// unknown   — the PUT timed out or got a 5xx; `recovered` when its object reads back intact;
// failed    — a definite refusal (4xx); found stored anyway, it counts as unexpected;
// unexpected — an object of this run in the bucket that no PUT k6 counted wrote.
// The same fail-closed rules as for events (lib/measure/accounting.ts): ids in flight at a cut-short
// stop are unknown, not lost, and as many "lost" as outcome reports never arrived are unknown
// (report lost).
import type { OutcomeRecord } from '../shared/control-api.ts';
import type { Accounting } from '../shared/types.ts';

export interface ObjectPut {
  seq: number;
  key: string;
  sha256: string;
}

/** What the final read found for a key: its bytes' sha256, or null when it is not there (404). */
export type ObjectRead = string | null;

export interface ObjectAccountingInput {
  /** iterations k6 sent (all operations) */
  attempted: number;
  /** the PUTs among seq 0 … attempted + inFlightWindow − 1, with their expected checksums */
  puts: ObjectPut[];
  notAcked: Map<number, OutcomeRecord>;
  /** key → what the read-back found, for every key in `puts` */
  read: Map<string, ObjectRead>;
  /** every key of this run the bucket lists (seq parsed; null: not one of ours) */
  listed: Array<{ key: string; seq: number | null }>;
  inFlightWindow?: number;
  reportsUndelivered?: number;
  /** epoch ms of load start, for the per-second series */
  zeroMs: number | null;
}

const EXAMPLES = 20;

export function computeObjectAccounting(input: ObjectAccountingInput): Accounting {
  const { attempted, notAcked, read } = input;
  const window = input.inFlightWindow ?? 0;
  const inFlightFrom = Math.max(0, attempted - window);
  let putsAttempted = 0;
  let failed = 0;
  let unknown = 0;
  let lost = 0;
  let corrupt = 0;
  let recovered = 0;
  let readable = 0;
  let unexpected = 0;
  let inFlightAtStop = 0;
  let sentUncounted = 0;
  const examples: Accounting['examples'] = {
    lost: [],
    duplicates: [],
    unexpected: [],
    missingAtSink: [],
    corrupt: [],
  };
  const putSeqs = new Set<number>();
  for (const put of input.puts) {
    putSeqs.add(put.seq);
    const found = read.get(put.key) ?? null;
    const intact = found !== null && found === put.sha256;
    if (found !== null && !intact) {
      corrupt++;
      if ((examples.corrupt?.length ?? 0) < EXAMPLES)
        examples.corrupt?.push({ key: put.key, expected: put.sha256, found });
    }
    if (found !== null) readable++;
    if (put.seq >= attempted) {
      // Started just before the stop and stored, but its iteration never finished: sent, outcome unknown to k6.
      if (found !== null) sentUncounted++;
      continue;
    }
    putsAttempted++;
    const report = notAcked.get(put.seq);
    if (report === undefined) {
      if (found === null && put.seq >= inFlightFrom) {
        unknown++;
        inFlightAtStop++;
      } else if (found === null) {
        lost++;
        if (examples.lost.length < EXAMPLES) examples.lost.push(put.key);
      }
    } else if (report.outcome === 'failed') {
      failed++;
      if (found !== null) {
        unexpected++;
        if (examples.unexpected.length < EXAMPLES) examples.unexpected.push(put.key);
      }
    } else {
      unknown++;
      if (intact) recovered++;
    }
  }
  for (const { key, seq } of input.listed) {
    if (seq !== null && putSeqs.has(seq)) continue;
    unexpected++;
    if (examples.unexpected.length < EXAMPLES) examples.unexpected.push(key);
  }
  const reportsUndelivered = input.reportsUndelivered ?? 0;
  const unknownReportLost = Math.min(reportsUndelivered, lost);
  lost -= unknownReportLost;
  unknown += unknownReportLost;
  if (unknownReportLost > 0) {
    examples.noReport = examples.lost;
    examples.lost = [];
  }
  return {
    scheduled: null,
    dropped: null,
    notStarted: null,
    attempted: putsAttempted + sentUncounted,
    acked: putsAttempted - failed - unknown,
    failed,
    unknown: unknown + sentUncounted,
    streamDelta: input.listed.length,
    inStream: readable,
    consumed: null,
    sinkReceived: null,
    sinkDuplicates: null,
    lost,
    recovered: recovered + sentUncounted,
    inFlightAtStop: window > 0 ? inFlightAtStop + sentUncounted : null,
    reportsUndelivered: input.reportsUndelivered ?? null,
    unknownReportLost,
    duplicates: 0,
    unexpected,
    missingAtSink: null,
    corrupt,
    notAckedPerSecond: notAckedPerSecond(notAcked, input.zeroMs),
    examples,
  };
}

/** Operations not acked (any of PUT, GET, LIST) per second of load, by send time; seconds with none are left out. */
export function notAckedPerSecond(
  notAcked: Map<number, OutcomeRecord>,
  zeroMs: number | null,
): Array<{ offsetS: number; notAcked: number }> {
  if (zeroMs === null) return [];
  const bySecond = new Map<number, number>();
  for (const r of notAcked.values()) {
    const s = Math.max(0, Math.floor((r.sentAt - zeroMs) / 1000));
    bySecond.set(s, (bySecond.get(s) ?? 0) + 1);
  }
  return [...bySecond.entries()].sort((a, b) => a[0] - b[0]).map(([offsetS, n]) => ({ offsetS, notAcked: n }));
}
