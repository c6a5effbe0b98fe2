// The s3-objects scenario's pure parts: its environment (the parser k6 runs at init), the object
// rule both sides share (operation, key, size, bytes by seq), and the read-back accounting.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { OutcomeRecord } from '../../lib/shared/control-api.ts';
import { computeObjectAccounting, type ObjectPut } from '../../lib/measure/object-accounting.ts';
import { objectBody, objectKey, opOf, parseSize, seqOfKey, sizeOf } from '../../lib/shared/s3-objects.ts';
import { s3ObjectsConfigFrom } from '../../lib/shared/scenario-config.ts';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('s3-objects config', () => {
  it('defaults, the mix, the sizes and the endpoint host', () => {
    const c = s3ObjectsConfigFrom({
      S3_ENDPOINT: 'http://127.0.0.1:7070',
      S3_MIX: 'put=1,get=1',
      S3_SIZES: '1KiB,2MiB,10',
    });
    assert.deepEqual(c.mix, { put: 1, get: 1, list: 0 });
    assert.deepEqual(c.sizes, [1024, 2 * 1024 * 1024, 10]);
    assert.equal(c.host, '127.0.0.1:7070');
    assert.equal(c.rate, 50);
    assert.equal(c.thresholds, 's3-steady');
  });

  it('names the variable, the value and what is allowed', () => {
    assert.throws(() => s3ObjectsConfigFrom({ S3_MIX: 'get=10' }), /S3_MIX="get=10": weights per operation/);
    assert.throws(
      () => s3ObjectsConfigFrom({ S3_SIZES: '32MiB' }),
      /S3_SIZES="32MiB": comma-separated sizes from 1B to 16MiB/,
    );
    assert.throws(() => s3ObjectsConfigFrom({ S3_BUCKET: 'No_Caps' }), /S3_BUCKET="No_Caps"/);
    assert.throws(
      () => s3ObjectsConfigFrom({ S3_ENDPOINT: 'http://127.0.0.1:7070/bucket' }),
      /S3_ENDPOINT.*without a path/,
    );
    // The secret never appears in the message.
    assert.throws(
      () => s3ObjectsConfigFrom({ S3_SECRET_KEY: 'short' }),
      (err: Error) => /S3_SECRET_KEY="\(hidden\)"/.test(err.message) && !err.message.includes('"short"'),
    );
  });
});

describe('the object rule', () => {
  it('is deterministic, interleaves the operations by the mix, and spreads the sizes', () => {
    const mix = { put: 60, get: 30, list: 10 };
    const counts = { put: 0, get: 0, list: 0 };
    for (let seq = 0; seq < 10_000; seq++) counts[opOf(seq, mix)]++;
    assert.ok(Math.abs(counts.put - 6000) < 300, JSON.stringify(counts));
    assert.ok(Math.abs(counts.list - 1000) < 200, JSON.stringify(counts));
    let longestPutRun = 0;
    let run = 0;
    for (let seq = 0; seq < 1000; seq++) {
      run = opOf(seq, mix) === 'put' ? run + 1 : 0;
      longestPutRun = Math.max(longestPutRun, run);
    }
    assert.ok(longestPutRun < 20, `operations interleave (longest PUT run ${longestPutRun})`);
    const sizes = new Set(Array.from({ length: 100 }, (_, s) => sizeOf(s, [1, 2, 3])));
    assert.deepEqual([...sizes].sort(), [1, 2, 3]);
    assert.equal(opOf(12345, mix), opOf(12345, mix));
  });

  it("an object's bytes follow from its key and size, and differ from any other object's", () => {
    const a = objectBody(objectKey('rA', 7), 100);
    assert.equal(a.length, 100);
    assert.equal(a, objectBody(objectKey('rA', 7), 100));
    assert.notEqual(sha(a), sha(objectBody(objectKey('rA', 8), 100)));
    assert.notEqual(sha(a), sha(objectBody(objectKey('rA', 7), 99).padEnd(100, 'x')));
    assert.equal(seqOfKey('rA', 'k6ha/rA/7'), 7);
    assert.equal(seqOfKey('rA', 'k6ha/rB/7'), null);
    assert.equal(seqOfKey('rA', 'k6ha/rA/07'), null);
    assert.equal(parseSize('16KiB'), 16384);
    assert.equal(parseSize('1 MB'), 1_000_000);
    assert.equal(parseSize('1GiB'), null);
  });
});

const put = (seq: number): ObjectPut => ({ seq, key: `k6ha/r/${seq}`, sha256: `sha-${seq}` });
const report = (seq: number, outcome: 'failed' | 'unknown', sentAt = 1000): OutcomeRecord => ({
  seq,
  outcome,
  status: outcome === 'failed' ? 403 : 0,
  sentAt,
  t: sentAt + 5,
});

describe('object accounting', () => {
  it('lost = acked and not readable; corrupt = readable with the wrong sha256, whatever the outcome', () => {
    const puts = [put(0), put(1), put(2), put(3), put(4), put(5)];
    const read = new Map<string, string | null>([
      ['k6ha/r/0', 'sha-0'], // acked, intact
      ['k6ha/r/1', null], // acked, gone: LOST
      ['k6ha/r/2', 'sha-x'], // acked, wrong bytes: CORRUPT
      ['k6ha/r/3', 'sha-3'], // unknown, stored intact: recovered
      ['k6ha/r/4', 'sha-y'], // unknown, stored with wrong bytes: corrupt, not recovered
      ['k6ha/r/5', null], // refused (4xx), not stored
    ]);
    const notAcked = new Map([
      [3, report(3, 'unknown', 1500)],
      [4, report(4, 'unknown', 2600)],
      [5, report(5, 'failed', 2700)],
      [9, report(9, 'unknown', 2800)], // a GET that failed: not an object
    ]);
    const listed = ['k6ha/r/0', 'k6ha/r/2', 'k6ha/r/3', 'k6ha/r/4', 'k6ha/r/77'].map((key) => ({
      key,
      seq: Number(key.split('/')[2]),
    }));
    const a = computeObjectAccounting({ attempted: 10, puts, notAcked, read, listed, zeroMs: 1000 });
    assert.equal(a.attempted, 6);
    assert.equal(a.lost, 1);
    assert.deepEqual(a.examples.lost, ['k6ha/r/1']);
    assert.equal(a.corrupt, 2);
    assert.deepEqual(
      a.examples.corrupt?.map((c) => c.key),
      ['k6ha/r/2', 'k6ha/r/4'],
    );
    assert.equal(a.unknown, 2);
    assert.equal(a.recovered, 1);
    assert.equal(a.failed, 1);
    assert.equal(a.acked, 3);
    assert.equal(a.inStream, 4);
    assert.equal(a.unexpected, 1, 'k6ha/r/77: no PUT k6 counted wrote it');
    assert.deepEqual(a.notAckedPerSecond, [
      { offsetS: 0, notAcked: 1 },
      { offsetS: 1, notAcked: 3 },
    ]);
  });

  it('fails closed: in flight at a cut-short stop is unknown, a lost report makes lost unknown', () => {
    const puts = [put(0), put(1), put(2)];
    const read = new Map<string, string | null>([
      ['k6ha/r/0', null],
      ['k6ha/r/1', null],
      ['k6ha/r/2', 'sha-2'],
    ]);
    const cut = computeObjectAccounting({
      attempted: 2,
      puts,
      notAcked: new Map(),
      read,
      listed: [{ key: 'k6ha/r/2', seq: 2 }],
      inFlightWindow: 1,
      zeroMs: 0,
    });
    assert.equal(cut.lost, 1, 'seq 0: acked before the window, gone');
    assert.equal(cut.inFlightAtStop, 2, 'seq 1 in flight, seq 2 stored but uncounted');
    assert.equal(cut.unexpected, 0);
    const reportLost = computeObjectAccounting({
      attempted: 2,
      puts: puts.slice(0, 2),
      notAcked: new Map(),
      read,
      listed: [],
      reportsUndelivered: 1,
      zeroMs: 0,
    });
    assert.equal(reportLost.lost, 1);
    assert.equal(reportLost.unknownReportLost, 1);
    assert.deepEqual(reportLost.examples.lost, []);
    assert.deepEqual(reportLost.examples.noReport, ['k6ha/r/0', 'k6ha/r/1']);
  });
});
