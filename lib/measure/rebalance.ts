// Time to rebalance after a member returns, from per-second attribution. The sidecar samples k6's
// own per-phase counters (http_get_ok{phase:…,pod:…}, cumulative) from k6's REST API every
// pollMs; the differences between samples are the responses per value in that interval. For each
// member started again during the run (member-started on the timeline) whose name is a value of an
// attribute (pod=backend-1, db=pg-replica-1): the first sample after its start that counts a
// response from it, and the end of the first 1 s window after its start in which every running
// member of that attribute has its share within ±10 points of an even split (60/40 for two).
import type { AttributionSeries, RebalanceReport, TimelineEvent } from '../shared/types.ts';

/** One read of k6's counters: epoch ms → submetric id → cumulative count. */
export interface CounterSample {
  t: number;
  counts: Record<string, number>;
}

const BALANCE_TOLERANCE = 0.1;
/** Fewer responses than this in a 1 s window say nothing about a split. */
const MIN_WINDOW_RESPONSES = 4;
const WINDOW_MS = 1000;

/** The index of the last sample at or before t, or -1 (samples are in time order). */
function lastAtOrBefore(samples: Array<{ t: number }>, t: number): number {
  let i = -1;
  while (i + 1 < samples.length && (samples[i + 1] as { t: number }).t <= t) i++;
  return i;
}

type ByValue = Record<string, Record<string, number>>;

/** `http_get_ok{phase:A,pod:backend-0}` → { attribute: 'pod', value: 'backend-0' }; null for others. */
export function parseAttributed(metric: string, id: string): { attribute: string; value: string } | null {
  if (!id.startsWith(`${metric}{`) || !id.endsWith('}')) return null;
  const tags = id
    .slice(metric.length + 1, -1)
    .split(',')
    .map((kv) => {
      const i = kv.indexOf(':');
      return [kv.slice(0, i), kv.slice(i + 1)] as const;
    });
  const attrs = tags.filter(([k]) => k !== 'phase');
  if (attrs.length !== 1) return null;
  const [attribute, value] = attrs[0] as readonly [string, string];
  return { attribute, value };
}

/** Cumulative counts per attribute and value, summed over phases. */
function byValue(metric: string, sample: CounterSample): ByValue {
  const out: ByValue = {};
  for (const [id, n] of Object.entries(sample.counts)) {
    const a = parseAttributed(metric, id);
    if (a === null) continue;
    const row = (out[a.attribute] ??= {});
    row[a.value] = (row[a.value] ?? 0) + n;
  }
  return out;
}

/** Per member: the moments it went up (true) or down (false), from the member events of the timeline. */
function upDownOf(timeline: TimelineEvent[]): Map<string, Array<{ t: number; up: boolean }>> {
  const out = new Map<string, Array<{ t: number; up: boolean }>>();
  for (const e of timeline) {
    if (e.source !== 'member' || e.target === null) continue;
    if (e.kind !== 'member-started' && e.kind !== 'member-stopped' && e.kind !== 'member-exited') continue;
    const list = out.get(e.target) ?? [];
    list.push({ t: Date.parse(e.ts), up: e.kind === 'member-started' });
    out.set(e.target, list);
  }
  return out;
}

export interface RebalanceInput {
  metric: string;
  samples: CounterSample[];
  timeline: TimelineEvent[];
  /** the plan's executed actions: which one brought a member back */
  actions: Array<{ id: string; executedAt: number | null; restartedAt: number | null; targets: string[] }>;
  zero: number;
  endedAt: number;
  pollMs: number;
}

export function computeRebalance(input: RebalanceInput): RebalanceReport[] {
  const { metric, samples, zero, endedAt, pollMs } = input;
  if (samples.length === 0) return [];
  const cumulative = samples.map((s) => ({ t: s.t, v: byValue(metric, s) }));
  const last = cumulative[cumulative.length - 1] as { t: number; v: ByValue };
  const attributeOf = new Map<string, string>();
  for (const [attribute, values] of Object.entries(last.v))
    for (const value of Object.keys(values)) attributeOf.set(value, attribute);
  const upDown = upDownOf(input.timeline);
  // No event before t: the member was running since the stack started.
  const running = (member: string, t: number): boolean => {
    let up = true;
    for (const e of upDown.get(member) ?? []) if (e.t <= t) up = e.up;
    return up;
  };
  const countAt = (i: number, attribute: string, value: string): number => cumulative[i]?.v[attribute]?.[value] ?? 0;
  const reports: RebalanceReport[] = [];
  for (const [member, events] of upDown) {
    const attribute = attributeOf.get(member);
    if (attribute === undefined) continue;
    const peers = Object.keys(last.v[attribute] ?? {}).filter((v) => v !== 'other' && v !== '(none)');
    for (const [k, e] of events.entries()) {
      if (!e.up || e.t < zero || e.t > endedAt) continue;
      const nextDown = events.slice(k + 1).find((x) => !x.up)?.t ?? null;
      const until = Math.min(nextDown ?? Infinity, endedAt);
      const action =
        input.actions.filter((a) => a.targets.includes(member) && (a.executedAt ?? Infinity) <= e.t + 1000).at(-1) ??
        null;
      const before = lastAtOrBefore(cumulative, e.t);
      const base = before < 0 ? 0 : countAt(before, attribute, member);
      const firstIdx = cumulative.findIndex(
        (s, i) => s.t > e.t && s.t <= until + pollMs && countAt(i, attribute, member) > base,
      );
      let balancedAt: number | null = null;
      let sawTwo = false;
      for (let j = 0; j < cumulative.length && balancedAt === null; j++) {
        const tj = (cumulative[j] as { t: number }).t;
        if (tj < e.t + WINDOW_MS || tj > until + pollMs) continue;
        const i = lastAtOrBefore(cumulative, tj - WINDOW_MS);
        if (i < 0) continue;
        const up = peers.filter((p) => running(p, tj));
        if (up.length < 2) continue;
        sawTwo = true;
        const deltas = up.map((p) => countAt(j, attribute, p) - countAt(i, attribute, p));
        const total = deltas.reduce((a, b) => a + b, 0);
        if (total < MIN_WINDOW_RESPONSES) continue;
        const even = 1 / up.length;
        if (deltas.every((d) => Math.abs(d / total - even) <= BALANCE_TOLERANCE + 1e-9)) balancedAt = tj;
      }
      const secs = (t: number): number => Math.round(t - e.t) / 1000;
      const endText =
        nextDown !== null && nextDown < endedAt
          ? `it stopped again at ${((nextDown - zero) / 1000).toFixed(1)} s`
          : 'the load ended';
      const notes: string[] = [];
      if (firstIdx < 0) notes.push(`no response from ${member} before ${endText}`);
      if (balancedAt === null)
        notes.push(
          sawTwo
            ? `not within 60/40 before ${endText}`
            : `fewer than two ${attribute} members running: no split to balance`,
        );
      reports.push({
        actionId: action?.id ?? null,
        member,
        attribute,
        startedOffsetMs: e.t - zero,
        firstResponseSeconds: firstIdx < 0 ? null : secs((cumulative[firstIdx] as { t: number }).t),
        balancedSeconds: balancedAt === null ? null : secs(balancedAt),
        note: notes.length === 0 ? null : notes.join('; '),
      });
    }
  }
  return reports.sort((a, b) => a.startedOffsetMs - b.startedOffsetMs);
}

/** The responses of each second since load start, per attribute value (the report's per-second attribution). */
export function perSecond(metric: string, samples: CounterSample[], zero: number, pollMs: number): AttributionSeries {
  const seconds: AttributionSeries['seconds'] = [];
  let prev: ByValue = {};
  for (const s of samples) {
    const cur = byValue(metric, s);
    const offsetS = Math.max(0, Math.floor((s.t - zero - 1) / 1000));
    let slot = seconds[seconds.length - 1];
    if (slot === undefined || slot.offsetS !== offsetS) {
      slot = { offsetS, counts: {} };
      seconds.push(slot);
    }
    for (const [attribute, values] of Object.entries(cur)) {
      for (const [value, n] of Object.entries(values)) {
        const d = n - (prev[attribute]?.[value] ?? 0);
        if (d === 0) continue;
        const row = (slot.counts[attribute] ??= {});
        row[value] = (row[value] ?? 0) + d;
      }
    }
    prev = cur;
  }
  return { metric, pollMs, seconds };
}
