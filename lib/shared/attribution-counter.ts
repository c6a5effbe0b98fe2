// http-get's response attribution, counted in VU memory and handed to k6 in batches.
//
// Why (BENCHMARKS.md, ninth round): one tagged Counter.add per response costs k6 ≈ 8 µs (most of
// it turning the tags object into a tag set), and JSON.parse of each body ≈ 17 µs, against
// ≈ 90 µs for the whole GET + check: the scenario ran at 0.66 of a bare script. The ~100 per-phase
// submetrics k6 matches each sample against cost little (k6's metrics engine < 2 % of the CPU).
// So the happy path here is one lookup of the body text in a memo (each distinct body is parsed
// once) and one increment; the counts go to k6 as `http_get_ok{phase, <attribute>…}` with their
// number, once per combination per batch.
//
// Exactness: every 2xx lands in exactly one combination (values outside ATTRIBUTE_EXPECT count as
// "other", missing ones as "(none)"), and a VU always flushes before its phase changes. When a
// batch goes out, so that nothing is left in a VU when the load ends (teardown cannot see VU
// memory): a VU flushes at once when its previous response was FLUSH_MS or more ago (a VU that is
// not busy — every VU at the experiment's 20/s), when its oldest count is FLUSH_MS old, and on
// every response from the last `tailMs` of the load on (longer than the longest a busy VU can wait
// for its next turn: k6 hands iterations to idle VUs first in, first out). A run cut short
// (Ctrl-C, an aborting threshold) can leave a busy VU's last batch unsent: the scenario compares
// the total with k6's own count of 2xx responses and counts the difference as unattributed.
//
// Pure (no k6 imports): the scenario passes `emit` (Counter.add) and `warn`; unit-tested in Node.

export interface AttributionSpec {
  name: string;
  from: 'body' | 'header';
  key: string;
}

export interface AttributionResponse {
  body: unknown;
  headers: Record<string, string | undefined>;
}

/** The value of an attribute whose field or header is missing, or a body that is not JSON. */
export const UNATTRIBUTED = '(none)';
/** A value outside ATTRIBUTE_EXPECT. */
export const OTHER = 'other';
/** A busy VU's batch goes out at least this often (per-second attribution reads k6 every 500 ms). */
export const FLUSH_MS = 200;
/** Distinct bodies remembered per VU; past it, new bodies are parsed per response (still exact). */
export const MEMO_MAX = 1000;

interface Combo {
  /** the tags of this combination without the phase */
  values: Record<string, string>;
  /** the tags with each phase, made once (an emit in the load's tail happens per response) */
  tagsByPhase: Array<Record<string, string> | undefined>;
  n: number;
}

export interface AttributionCounterOptions {
  attributes: AttributionSpec[];
  /** attribute name → expected values; none: any value counts as itself */
  expect: Record<string, string[]>;
  /** phase names with their offsets from `startedAt` (ascending); empty: no phase tag */
  phases: Array<{ name: string; atMs: number }>;
  /** epoch ms of load start (the zero of the phases) */
  startedAt: number;
  /** epoch ms from which every response is flushed at once (the end of the load minus the tail) */
  flushEveryFrom: number;
  emit: (n: number, tags: Record<string, string>) => void;
  warn: (message: string) => void;
}

export class AttributionCounter {
  /** epoch ms at which the next phase begins (Infinity after the last): one comparison per response */
  nextPhaseAt = Infinity;
  /** the index in `phases` of the current phase (0 without phases) */
  phase = 0;
  private readonly memo: Record<string, Combo> = Object.create(null) as Record<string, Combo>;
  private memoSize = 0;
  private readonly combos: Record<string, Combo> = Object.create(null) as Record<string, Combo>;
  private readonly comboList: Combo[] = [];
  private pending = 0;
  private pendingSince = 0;
  private lastAt = -Infinity;
  private warnedOther = false;
  private readonly bodyOnly: boolean;
  private readonly hasBody: boolean;
  private readonly expected: Array<Set<string> | null>;

  constructor(private readonly opts: AttributionCounterOptions) {
    this.bodyOnly = opts.attributes.length > 0 && opts.attributes.every((a) => a.from === 'body');
    this.hasBody = opts.attributes.some((a) => a.from === 'body');
    this.expected = opts.attributes.map((a) =>
      opts.expect[a.name] === undefined ? null : new Set(opts.expect[a.name]),
    );
    this.nextPhaseAt = this.phaseStart(1);
  }

  private phaseStart(i: number): number {
    const p = this.opts.phases[i];
    return p === undefined ? Infinity : this.opts.startedAt + p.atMs;
  }

  /** The phase of a request sent at `now` (call `advance` first when now ≥ nextPhaseAt). */
  get phaseName(): string | null {
    return this.opts.phases[this.phase]?.name ?? null;
  }

  /** Moves to the phase of `now`, flushing what was counted in the earlier one. */
  advance(now: number): void {
    if (now < this.nextPhaseAt) return;
    this.flush();
    while (now >= this.phaseStart(this.phase + 1)) this.phase++;
    this.nextPhaseAt = this.phaseStart(this.phase + 1);
  }

  /** Counts one 2xx response to a request sent at `sentAt` (after `advance(sentAt)`). */
  count(res: AttributionResponse, sentAt: number): void {
    const key = this.bodyOnly ? res.body : this.keyOf(res);
    let combo = typeof key === 'string' ? this.memo[key] : undefined;
    if (combo === undefined) combo = this.resolve(res, key);
    combo.n++;
    if (this.pending++ === 0) this.pendingSince = sentAt;
    if (
      sentAt - this.lastAt >= FLUSH_MS ||
      sentAt - this.pendingSince >= FLUSH_MS ||
      sentAt >= this.opts.flushEveryFrom
    )
      this.flush();
    this.lastAt = sentAt;
  }

  /** Hands every count of this VU to k6: one emit per combination with its number. */
  flush(): void {
    if (this.pending === 0) return;
    const phase = this.phaseName;
    // Indexed loops: a for…of runs k6's (sobek's) iterator protocol, an object per step.
    const list = this.comboList;
    for (let i = 0; i < list.length; i++) {
      const c = list[i] as Combo;
      if (c.n === 0) continue;
      let tags = c.tagsByPhase[this.phase];
      if (tags === undefined) {
        tags = phase === null ? { ...c.values } : { phase, ...c.values };
        c.tagsByPhase[this.phase] = tags;
      }
      this.opts.emit(c.n, tags);
      c.n = 0;
    }
    this.pending = 0;
  }

  private keyOf(res: AttributionResponse): string {
    let key = this.hasBody && typeof res.body === 'string' ? res.body : '';
    const attributes = this.opts.attributes;
    for (let i = 0; i < attributes.length; i++) {
      const a = attributes[i] as AttributionSpec;
      if (a.from === 'header') key += `\n${res.headers[a.key] ?? ''}`;
    }
    return key;
  }

  /** Attribute values of a response not seen before: parsed once, remembered by its body (and headers). */
  private resolve(res: AttributionResponse, key: unknown): Combo {
    let body: Record<string, unknown> | null = null;
    if (this.hasBody && typeof res.body === 'string') {
      try {
        const parsed: unknown = JSON.parse(res.body);
        body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : null;
      } catch {
        body = null;
      }
    }
    const values: Record<string, string> = {};
    const attributes = this.opts.attributes;
    for (let i = 0; i < attributes.length; i++) {
      const a = attributes[i] as AttributionSpec;
      const raw = a.from === 'body' ? body?.[a.key] : res.headers[a.key];
      let value = typeof raw === 'string' && raw !== '' ? raw : typeof raw === 'number' ? String(raw) : UNATTRIBUTED;
      const known = this.expected[i];
      if (value !== UNATTRIBUTED && known !== null && known !== undefined && !known.has(value)) {
        if (!this.warnedOther)
          this.opts.warn(
            `k6-ha: ${a.name}=${JSON.stringify(value)} is not one of ${[...known].join(', ')}; counted as ${OTHER}`,
          );
        this.warnedOther = true;
        value = OTHER;
      }
      values[a.name] = value;
    }
    const id = attributes.map((a) => values[a.name]).join('\u0001');
    let combo = this.combos[id];
    if (combo === undefined) {
      combo = { values, tagsByPhase: [], n: 0 };
      this.combos[id] = combo;
      this.comboList.push(combo);
    }
    if (typeof key === 'string' && this.memoSize < MEMO_MAX) {
      this.memo[key] = combo;
      this.memoSize++;
    }
    return combo;
  }
}
