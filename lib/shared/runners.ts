// N k6 runners of one run, the way k6-operator splits a TestRun with `parallelism: N`: runner i
// (1-based, its `instance_id` tag) runs `--execution-segment=(i-1)/N:i/N` of the sequence
// `0,1/N,…,(N-1)/N,1`. Pure: the CLI (local runners), the sidecar (which runner is talking) and
// the k6 side (which event ids a runner owns) share it.
//
// Event ids under segments. k6's `exec.scenario.iterationInTest` is global — no two runners get the
// same number — but which numbers a runner gets is k6's striping of a tuple derived from the VU
// count, not of the segments themselves: with 5 VUs over 3 runners at 20/s for 1 s, k6 v2.2.0 gave
// runner 1 ids 0,3,5,8,…,20, runner 2 1,4,6,9,…,19 and runner 3 2,7,12,17 (segments 2/5, 2/5, 1/5).
// The accounting needs every sent id from a runner's count alone (only failures are reported), so
// k6-ha numbers events itself: `iterationInInstance × N + (i − 1)` — contiguous per runner,
// unique across runners, and `iterationInTest` itself when N = 1.

export interface RunnerSlot {
  /** 1-based, as k6-operator's runner index and `instance_id` tag */
  index: number;
  /** how many runners share the run */
  count: number;
  /** `--execution-segment` */
  segment: string;
  /** `--execution-segment-sequence` */
  sequence: string;
}

/** The most runners one run may have (k6-operator has no limit; each runner here is a k6 process). */
export const MAX_RUNNERS = 64;

function fraction(i: number, n: number): string {
  if (i === 0) return '0';
  if (i === n) return '1';
  return `${i}/${n}`;
}

/** The sequence `0,1/N,…,1` as k6-operator writes it (fractions not reduced). */
export function segmentSequence(count: number): string {
  return Array.from({ length: count + 1 }, (_, i) => fraction(i, count)).join(',');
}

/** Runner `index` (1-based) of `count`: its segment and the sequence, as k6-operator computes them. */
export function runnerSlot(index: number, count: number): RunnerSlot {
  if (!Number.isInteger(count) || count < 1 || count > MAX_RUNNERS)
    throw new RangeError(`runners: ${count} is not allowed — expected a whole number from 1 to ${MAX_RUNNERS}`);
  if (!Number.isInteger(index) || index < 1 || index > count)
    throw new RangeError(`runner index: ${index} is not allowed — expected 1 to ${count}`);
  return {
    index,
    count,
    segment: `${fraction(index - 1, count)}:${fraction(index, count)}`,
    sequence: segmentSequence(count),
  };
}

/** The k6 flags of a runner, exactly as k6-operator's runner Job passes them (parallelism > 1). */
export function segmentFlags(slot: RunnerSlot): string[] {
  if (slot.count === 1) return [];
  return [`--execution-segment=${slot.segment}`, `--execution-segment-sequence=${slot.sequence}`];
}

function ratio(text: string): number | null {
  const m = /^\s*(\d+)(?:\s*\/\s*(\d+))?\s*$/.exec(text);
  if (m === null) return null;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  return den === 0 ? null : num / den;
}

/**
 * Which runner a k6 process is, from its options (`exec.test.options.executionSegment` and
 * `executionSegmentSequence`): its segment must be two neighbours of a sequence of equal parts.
 * No segment: the only runner. Returns a reason string for anything else.
 */
export function slotOf(segment: string | null | undefined, sequence: string | null | undefined): RunnerSlot | string {
  if (segment === null || segment === undefined || segment === '') {
    if (sequence !== null && sequence !== undefined && sequence !== '')
      return `execution segment sequence ${JSON.stringify(sequence)} without an execution segment`;
    return runnerSlot(1, 1);
  }
  const [fromText, toText] = segment.split(':');
  const from = ratio(fromText ?? '');
  const to = ratio(toText ?? '');
  if (from === null || to === null || to <= from)
    return `execution segment ${JSON.stringify(segment)} is not from:to with from < to`;
  if (sequence === null || sequence === undefined || sequence === '')
    return `execution segment ${JSON.stringify(segment)} without --execution-segment-sequence: k6-ha needs the sequence to know the other runners (k6-operator passes both)`;
  const points = sequence.split(',').map(ratio);
  const count = points.length - 1;
  if (count < 1 || count > MAX_RUNNERS || points.some((p) => p === null))
    return `execution segment sequence ${JSON.stringify(sequence)} is not 0,…,1 with 1 to ${MAX_RUNNERS} parts`;
  const eps = 1e-9;
  for (let i = 0; i <= count; i++) {
    if (Math.abs((points[i] as number) - i / count) > eps)
      return `execution segment sequence ${JSON.stringify(sequence)} is not of equal parts (0,1/N,…,1, as k6-operator writes it)`;
  }
  const index = Math.round(from * count) + 1;
  if (Math.abs(from - (index - 1) / count) > eps || Math.abs(to - index / count) > eps)
    return `execution segment ${JSON.stringify(segment)} is not one part of the sequence ${JSON.stringify(sequence)}`;
  return { index, count, segment, sequence };
}

/** The event number of a runner's k-th iteration (`iterationInInstance`). */
export function eventSeq(localIteration: number, slot: Pick<RunnerSlot, 'index' | 'count'>): number {
  return localIteration * slot.count + (slot.index - 1);
}

/** Which runner (1-based) sent event `seq`, and as its how-many-th iteration. */
export function runnerOfSeq(seq: number, count: number): { index: number; local: number } {
  return { index: (seq % count) + 1, local: Math.floor(seq / count) };
}

/** How a runner is named in notes and on the timeline: `runner 2/3 (segment 1/3:2/3)`. */
export function runnerName(slot: Pick<RunnerSlot, 'index' | 'count' | 'segment'>): string {
  return slot.count === 1 ? 'the k6 runner' : `runner ${slot.index}/${slot.count} (segment ${slot.segment})`;
}
