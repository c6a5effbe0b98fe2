// A run's artifacts are written once, at the end (Sidecar.writeArtifacts, called by `run` after k6
// exited and by `sidecar` when it stops); k6's summary arriving earlier does not write them (it
// did, so every run wrote them two or three times). A summary that arrives after the end-of-run
// write rewrites them, so it is never missing from summary.json.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Sidecar } from '../../lib/sidecar/sidecar.ts';
import { bareSidecar } from '../support/bare-sidecar.ts';

const sidecarIn = (dir: string): Sidecar => bareSidecar({ name: 't-artifacts', runDir: dir });

const summary = (marker: string) => ({
  summary: { metrics: { iterations: { type: 'counter', values: { count: 1 } } }, marker },
  text: '',
});

describe('artifacts written once', () => {
  it('not when the summary arrives, once at the end with it, again only for a summary after that', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k6ha-artifacts-'));
    const sidecar = sidecarIn(dir);
    try {
      sidecar.storeSummary(summary('first'));
      for (const f of ['summary.json', 'report.md', 'report.html', 'junit.xml'])
        assert.ok(!existsSync(join(dir, f)), `${f} not written when the summary arrives`);
      const model = sidecar.writeArtifacts(0, null);
      assert.equal(model.k6ExitCode, 0);
      for (const f of ['summary.json', 'report.md', 'report.html', 'junit.xml'])
        assert.ok(existsSync(join(dir, f)), `${f} written at the end`);
      assert.equal((JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { marker: string }).marker, 'first');
      sidecar.storeSummary(summary('late'));
      const late = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as {
        marker: string;
        k6ha: { k6ExitCode: number };
      };
      assert.equal(late.marker, 'late');
      assert.equal(late.k6ha.k6ExitCode, 0, 'the rewrite keeps what the end-of-run write knew');
    } finally {
      await sidecar.shutdown('test over');
    }
  });
});
