// `npm run bench [-- <name> ...]`: runs the benchmarks one after another, each in its own
// process (its own stack, its own k6), prints each one's output and command, then a table of
// the goals. Figures and their interpretation are in BENCHMARKS.md; each benchmark also leaves
// results/bench/<name>.json. Names: overhead, fidelity (also sidecar RSS), sidecar-timing
// (action skew and detection latency), sidecar-reports (failure reports
// absorbed during an outage), headroom, eventstore (bench/eventstore.ts, owned by the
// EventStore work), postgres-headroom and http-get-overhead (seed 002), stan-failover (seed 004). The whole set takes about 10–12 minutes on a 2-core machine.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/tools/toolchain.ts';

interface Bench {
  file: string;
  args: string[];
  what: string;
}

const BENCHES: Record<string, Bench> = {
  overhead: {
    file: 'jetstream-overhead.ts',
    args: [],
    what: 'jetstream-publish vs a bare http.post script, iterations/s (goal ratio ≥ 0.9)',
  },
  fidelity: {
    file: 'jetstream-fidelity.ts',
    args: [],
    what: '60 s at 150/s: achieved rate ±1 %, 0 dropped; sidecar RSS ≤ 120 MB',
  },
  'sidecar-timing': {
    file: 'sidecar-timing.ts',
    args: [],
    what: 'action skew p99 ≤ 50 ms (≥ 100 actions); kill → exit detection p99 ≤ 200 ms (≥ 30 kills)',
  },
  'sidecar-reports': {
    file: 'sidecar-reports.ts',
    args: [],
    what: 'failure reports absorbed under a 20 s R1 outage at 1,000–3,000 events/s (goal: none undelivered, none lost, at every rate the open-file limit allows)',
  },
  headroom: {
    file: 'jetstream-headroom.ts',
    args: [],
    what: 'highest acked publish rate of the local R3 stack (goal ≥ 2,000/s)',
  },
  'per-second': {
    file: 'per-second-source.ts',
    args: [],
    what: "k6 throughput with k6's prometheus remote write to k6-ha's receiver (per-second data) vs without, at 1,000 events/s (goal ≥ 0.98); folding a synthetic 1-hour 2,000/s receiver file (≤ 10 s, ≤ 256 MB, report.html ≤ 2 MB)",
  },
  eventstore: {
    file: 'eventstore.ts',
    args: [],
    what: 'eventstore-streams vs a bare script with the same requests (goal ratio ≥ 0.9)',
  },
  'postgres-headroom': {
    file: 'postgres-headroom.ts',
    args: [],
    what: "GET/s the postgres-haproxy stack serves through nginx → backend → HAProxy → replica at p99 < 100 ms (goal ≥ 10× the experiment's rate)",
  },
  'stan-failover': {
    file: 'stan-failover.ts',
    args: [],
    what: 'NATS Streaming FT group: failover time over 12 kills of the active (goal: kill → takeover max ≤ 1.475 s, nothing acked lost)',
  },
  'multi-runner': {
    file: 'multi-runner.ts',
    args: [],
    what: '--runners 3 vs 1 runner at the same total rate (achieved within 1 %, 0 dropped, teardown barrier ≤ 1 s); reports from 3 runners under a 20 s outage at 1,000/s (none lost, sidecar p99 per report)',
  },
  'http-get-overhead': {
    file: 'http-get-overhead.ts',
    args: [],
    what: 'http-get with attribution vs a hand-written GET + check script, run together (goal ratio ≥ 0.95)',
  },
  's3-objects-overhead': {
    file: 's3-objects-overhead.ts',
    args: [],
    what: 's3-objects (PUT only) vs a hand-written signed PUT + check script against versitygw, run together (goal ratio ≥ 0.95)',
  },
};

const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = requested.filter((n) => !(n in BENCHES));
if (unknown.length > 0 || process.argv.includes('--help') || process.argv.includes('-h')) {
  if (unknown.length > 0) process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}\n`);
  process.stderr.write(
    `usage: npm run bench [-- <name> ...]\n${Object.entries(BENCHES)
      .map(([n, b]) => `  ${n.padEnd(15)} ${b.what}`)
      .join('\n')}\n`,
  );
  process.exit(unknown.length > 0 ? 2 : 0);
}
const names = requested.length > 0 ? requested : Object.keys(BENCHES);

interface Outcome {
  name: string;
  code: number;
  seconds: number;
  results: string[];
}

async function runOne(name: string, bench: Bench): Promise<Outcome> {
  const t0 = Date.now();
  process.stdout.write(`\n=== ${name}: ${bench.what}\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', bench.file), ...bench.args], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const results: string[] = [];
  let buffered = '';
  child.stdout?.on('data', (d: Buffer) => {
    process.stdout.write(d);
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const l of lines) if (/^RESULT |^ratio scenario\/bare:/.test(l)) results.push(l.replace(/^RESULT /, ''));
  });
  const code = await new Promise<number>((resolve) => {
    child.on('exit', (c) => resolve(c ?? 1));
    child.on('error', () => resolve(1));
  });
  return { name, code, seconds: Math.round((Date.now() - t0) / 1000), results };
}

const outcomes: Outcome[] = [];
for (const name of names) outcomes.push(await runOne(name, BENCHES[name] as Bench));

process.stdout.write('\n=== summary (exit 0: goal met; 1: goal missed; other: the benchmark failed to run)\n');
for (const o of outcomes) {
  process.stdout.write(`${o.name.padEnd(15)} exit ${o.code} in ${o.seconds}s\n`);
  for (const r of o.results) process.stdout.write(`  ${r}\n`);
}
process.exitCode = outcomes.every((o) => o.code === 0) ? 0 : 1;
