// When each publish was acked, in order, so the end of a failover can be asked for afterwards:
// the first ack at or after a moment (GET /first-ack?after=<epoch ms> on the publisher). A number
// per ack; past a cap the older half goes (a week-long run keeps its last million acks).
export class AckTimes {
  private times: number[] = [];

  constructor(private readonly cap = 2_000_000) {}

  push(at: number): void {
    if (this.times.length >= this.cap) this.times = this.times.slice(this.times.length >> 1);
    this.times.push(at);
  }

  /** The first ack at or after `after` (epoch ms), or null when none came since. */
  firstAtOrAfter(after: number): number | null {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.times[mid] as number) < after) lo = mid + 1;
      else hi = mid;
    }
    return this.times[lo] ?? null;
  }

  get size(): number {
    return this.times.length;
  }
}
