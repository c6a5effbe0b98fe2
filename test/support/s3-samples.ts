// What the S3 tests read besides k6-ha's own artifacts: k6's raw PUT samples (`--out json`, asked
// for with K6_OUT) and the files a gateway's posix directory holds.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface PutSample {
  start: number;
  end: number;
  status: string;
  error: string;
}

/** k6's own record of every PUT (from `--out json`): start, end, status and error. */
export function putSamples(samplesFile: string): PutSample[] {
  const out: PutSample[] = [];
  for (const line of gunzipSync(readFileSync(samplesFile)).toString().split('\n')) {
    if (!line.includes('"http_req_duration"') || !line.includes('"name":"put"')) continue;
    const s = JSON.parse(line) as { type: string; data: { time: string; value: number; tags: Record<string, string> } };
    if (s.type !== 'Point') continue;
    const end = Date.parse(s.data.time);
    out.push({
      start: end - s.data.value,
      end,
      status: s.data.tags['status'] ?? '',
      error: s.data.tags['error'] ?? '',
    });
  }
  return out;
}

/** Every file under a directory, relative paths. */
export function filesUnder(dir: string, rel = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? filesUnder(join(dir, d.name), join(rel, d.name)) : [join(rel, d.name)],
  );
}
