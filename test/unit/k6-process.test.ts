// lib/run/k6-process.ts without k6: the exit-code mapping, the command line and output handling of
// startK6 (a shell script stands in for k6), and readK6Metric against a stand-in REST API.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { k6ExitCode, k6RunArgs, readK6Metric, startK6, withUserOutputs } from '../../lib/run/k6-process.ts';
import { ProcessStartError } from '../../lib/shared/errors.ts';
import { freePort } from '../../lib/stack/free-port.ts';

describe('k6ExitCode', () => {
  it("is k6's own code when it exited, and 128 + the signal's number as a shell reports a signal death", () => {
    assert.equal(k6ExitCode(0, null), 0);
    assert.equal(k6ExitCode(99, null), 99);
    assert.equal(k6ExitCode(null, 'SIGINT'), 130);
    assert.equal(k6ExitCode(null, 'SIGKILL'), 137);
    assert.equal(k6ExitCode(null, 'SIGTERM'), 143);
    assert.equal(k6ExitCode(null, null), 1);
  });
});

describe('startK6', () => {
  let dir = '';
  let fakeK6 = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'k6-process-'));
    fakeK6 = join(dir, 'k6');
    // Prints its arguments one a line on stdout, a log line on stderr, then exits as FAKE_EXIT says.
    writeFileSync(
      fakeK6,
      [
        '#!/bin/sh',
        'for a in "$@"; do echo "arg $a"; done',
        'echo "level=warning msg=\\"Request Failed\\"" >&2',
        'case "$FAKE_EXIT" in',
        '  TERM) kill -TERM $$ ;;',
        '  *) exit "${FAKE_EXIT:-0}" ;;',
        'esac',
        '',
      ].join('\n'),
    );
    chmodSync(fakeK6, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('builds `run`, the flags, --address, -e KEY=VALUE (SUMMARY_JSON last) and the script', () => {
    assert.deepEqual(
      k6RunArgs({
        script: 's.js',
        env: { A: '1', B: 'x=y' },
        args: ['--quiet'],
        address: '127.0.0.1:6565',
        summaryPath: '/tmp/s.json',
      }),
      [
        'run',
        '--quiet',
        '--address',
        '127.0.0.1:6565',
        '-e',
        'A=1',
        '-e',
        'B=x=y',
        '-e',
        'SUMMARY_JSON=/tmp/s.json',
        's.js',
      ],
    );
    assert.deepEqual(k6RunArgs({ script: 's.js', env: {} }), ['run', 's.js']);
  });

  it('sends every line of stdout and stderr to onLine and the log file, and maps the exit', async () => {
    const lines: string[] = [];
    const logFile = join(dir, 'k6.log');
    process.env['FAKE_EXIT'] = '99';
    try {
      const { child, done } = startK6({
        k6: fakeK6,
        script: 'scenario.js',
        env: { VUS: '2' },
        args: ['--quiet'],
        logFile,
        onLine: (l) => lines.push(l),
      });
      assert.ok(child.pid !== undefined);
      const exit = await done;
      assert.deepEqual(
        { exitCode: exit.exitCode, code: exit.code, signal: exit.signal },
        { exitCode: 99, code: 99, signal: null },
      );
      const expected = [
        'arg run',
        'arg --quiet',
        'arg -e',
        'arg VUS=2',
        'arg scenario.js',
        'level=warning msg="Request Failed"',
      ];
      assert.deepEqual([...lines].sort(), [...expected].sort());
      assert.deepEqual(
        readFileSync(logFile, 'utf8').trimEnd().split('\n').sort(),
        [...expected].sort(),
        'the log file is complete when done resolves',
      );
      assert.deepEqual([...exit.lastLines].sort(), [...expected].sort());
    } finally {
      delete process.env['FAKE_EXIT'];
    }
  });

  it('reports a signal death as 128 + the signal, and a k6 that cannot start as ProcessStartError', async () => {
    process.env['FAKE_EXIT'] = 'TERM';
    try {
      const exit = await startK6({ k6: fakeK6, script: 'scenario.js', env: {} }).done;
      assert.deepEqual(
        { exitCode: exit.exitCode, code: exit.code, signal: exit.signal },
        { exitCode: 143, code: null, signal: 'SIGTERM' },
      );
    } finally {
      delete process.env['FAKE_EXIT'];
    }
    await assert.rejects(
      startK6({ k6: join(dir, 'no-such-k6'), script: 'scenario.js', env: {} }).done,
      (err: unknown) => {
        assert.ok(err instanceof ProcessStartError);
        assert.match(err.message, /could not run .*no-such-k6: spawn .*ENOENT/);
        return true;
      },
    );
  });
});

describe('readK6Metric', () => {
  let server: Server;
  let apiUrl = '';
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/v1/metrics/iterations') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            data: {
              type: 'metrics',
              id: 'iterations',
              attributes: {
                type: 'counter',
                contains: 'default',
                tainted: null,
                sample: { count: 6751, rate: 150.02 },
              },
            },
          }),
        );
      } else if (req.url === '/v1/metrics/garbled') {
        res.end('not json');
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ errors: [{ status: '404', title: 'Not Found' }] }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    apiUrl = `http://127.0.0.1:${address.port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is the sample count of the metric, or null when the API cannot say', async () => {
    assert.equal(await readK6Metric(apiUrl, 'iterations'), 6751);
    assert.equal(await readK6Metric(apiUrl, 'no_such_metric'), null);
    assert.equal(await readK6Metric(apiUrl, 'garbled'), null);
    assert.equal(await readK6Metric(`http://127.0.0.1:${await freePort()}`, 'iterations'), null, 'nothing listening');
  });
});

describe("the user's K6_OUT next to k6-ha's own outputs", () => {
  it('becomes --out flags of its own once k6-ha adds one (k6 would otherwise ignore K6_OUT)', () => {
    const ours = ['--quiet', '--out', 'experimental-prometheus-rw'];
    assert.deepEqual(withUserOutputs(ours, 'json=/tmp/s.json.gz'), [...ours, '--out', 'json=/tmp/s.json.gz']);
    assert.deepEqual(withUserOutputs(ours, 'json=a.json, csv=b.csv'), [
      ...ours,
      '--out',
      'json=a.json',
      '--out',
      'csv=b.csv',
    ]);
  });
  it('changes nothing when k6-ha adds no output (k6 reads K6_OUT itself) or K6_OUT is unset or empty', () => {
    assert.deepEqual(withUserOutputs(['--quiet'], 'json=a.json'), ['--quiet']);
    assert.deepEqual(withUserOutputs(['--out', 'x'], undefined), ['--out', 'x']);
    assert.deepEqual(withUserOutputs(['--out', 'x'], '  '), ['--out', 'x']);
  });
});
