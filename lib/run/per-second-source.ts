// Where a run's per-second data comes from: k6 writes every sample to <run dir>/k6-samples.json.gz
// (`--out json=…`, added by run.ts; the standalone sidecar prints the flag for the user's k6), and
// after k6 exits lib/report/per-second.ts folds it into per-second rows. Why this source, and what
// it costs k6: BENCHMARKS.md, "Per-second data".
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { aggregateK6Json, type PerSecondData } from '../report/per-second.ts';

export const K6_SAMPLES_FILE = 'k6-samples.json.gz';

/** The run's per-second data, or null (with a line in the log) when k6 wrote no samples or they cannot be read. */
/** waitMs: how long to retry a file k6 may still be writing (the standalone sidecar stops when the summary arrives, before k6 closes it). */
export async function readPerSecond(
  runDir: string,
  zeroMs: number | null,
  log: (line: string) => void,
  opts: { waitMs?: number } = {},
): Promise<PerSecondData | null> {
  const file = join(runDir, K6_SAMPLES_FILE);
  // No file: k6 ran without the samples output (--no-per-second, or the user's own k6 without it).
  if (!existsSync(file)) return null;
  const until = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const t0 = Date.now();
    try {
      const data = await aggregateK6Json(file, zeroMs);
      log(
        `per-second data: ${data.samples.requests.toLocaleString('en-US')} requests from ${data.samples.lines.toLocaleString('en-US')} k6 samples in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      return data;
    } catch (err) {
      // A k6 that has not closed the file yet leaves its gzip stream unfinished.
      if (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      log(`per-second data: cannot read ${file}: ${(err as Error).message} (report.html has no charts)`);
      return null;
    }
  }
}
