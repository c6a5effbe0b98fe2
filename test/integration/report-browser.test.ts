// report.html of a real run in a real browser: a short R1 leader kill (100/s for 12 s, the leader
// killed at 4 s and restarted 3 s later) through `k6-ha run`, then Debian's chromium (headless,
// driven by playwright-core; no browser download) opens report.html from disk. Asserts: no console
// error, no request besides the file itself (k6's own dashboard page, `--dashboard`, is only
// linked), the counts chart holds sent/acked/failed/unknown, the
// kill's mark lies inside the shaded outage and the failed seconds fall in it; compare.html of the
// run against itself shows both runs' series. A screenshot stays in the test's scratch directory.
// A missing chromium or playwright-core fails the test with the install line (never a skip).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import type { PerSecondData } from '../../lib/report/per-second.ts';
import type { RecoveryReport } from '../../lib/shared/types.ts';
import { onlyRunDir, requireK6, requireNatsServer, runCli, scratchDir, writeExperiment } from '../support/cli.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

type Playwright = typeof import('playwright-core');

async function requireBrowser(): Promise<Playwright> {
  if (!existsSync(CHROMIUM))
    assert.fail(`Debian's chromium is missing (${CHROMIUM}): install it with \`apt-get install -y chromium\``);
  try {
    return await import('playwright-core');
  } catch (err) {
    assert.fail(
      `playwright-core is missing: \`npm install playwright-core@1.65.1 --save-exact\` (${(err as Error).message})`,
    );
  }
}

interface PageFacts {
  series: string[][];
  marks: Array<{ kind: string; source: string; x: number }>;
  outages: Array<{ left: number; right: number }>;
}

async function openPage(
  pw: Playwright,
  file: string,
  screenshot: string,
): Promise<{ facts: PageFacts; consoleErrors: string[]; requests: string[]; dashboardLink: string | null }> {
  const profile = mkdtempSync(join(scratchDir('chromium'), 'profile-'));
  const context = await pw.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    const url = pathToFileURL(file).href;
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    // In the page's own JS (this file is typed for Node, without the DOM's types).
    await page.waitForFunction('Array.isArray(window.k6haCharts) && window.k6haCharts.length > 0');
    const facts = (await page.evaluate(`(() => {
      const first = document.querySelector('.chart .u-over');
      const box = (el) => el.getBoundingClientRect();
      return {
        series: window.k6haCharts.map((c) => c.series),
        marks: first === null ? [] : [...first.querySelectorAll('.mark')].map((m) => ({ kind: m.dataset.kind || '', source: m.dataset.source || '', x: box(m).left + box(m).width / 2 })),
        outages: first === null ? [] : [...first.querySelectorAll('.outage')].map((o) => ({ left: box(o).left, right: box(o).right })),
      };
    })()`)) as PageFacts;
    // Hovering where the kill's mark is shows its timeline entry (with the member's exit a few ms
    // later, whose mark lies on top of it).
    const kill = facts.marks.find((m) => m.source === 'plan' && m.kind === 'executed');
    if (kill !== undefined) {
      const box = await page.locator('.chart .u-over').first().boundingBox();
      await page.mouse.move(kill.x, (box?.y ?? 0) + (box?.height ?? 0) / 2);
      const tip = await page.locator('#tip').innerText();
      assert.match(tip, /"source": "plan",\s*"kind": "executed"/);
    }
    // The tip off the charts, then the whole page and (for the README) the charts alone.
    await page.mouse.move(0, 0);
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-charts.png') });
    const dashboardLink = (await page.evaluate(
      `document.querySelector('a[href="k6-dashboard.html"]')?.getAttribute('href') ?? null`,
    )) as string | null;
    return { facts, consoleErrors, requests, dashboardLink };
  } finally {
    await context.close();
  }
}

describe('report.html in a real browser', () => {
  it('a real R1 leader kill: charts with the kill inside the shaded outage, no console error, no request', async () => {
    const pw = await requireBrowser();
    await requireK6();
    await requireNatsServer();
    const dir = scratchDir('report-browser');
    const experiment = writeExperiment(dir, {
      name: 'report-browser-r1-kill',
      description: 'R1 leader killed at 4 s, back 3 s later: the browser test of report.html',
      scenario: 'jetstream-publish',
      target: { kind: 'local', stack: 'jetstream', replicas: 1 },
      env: { RATE: '100', DURATION: '12s', REQUEST_TIMEOUT: '2s' },
      thresholds: 'ha-observe',
      plan: [{ id: 'kill-leader', at: '4s', action: 'kill', target: { leaderOf: 'sap' }, restartAfter: '3s' }],
    });
    const run = await runCli(['run', experiment, '--out-dir', dir, '--dashboard'], { timeoutMs: 240_000 });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const runDir = onlyRunDir(dir);
    const report = join(runDir, 'report.html');
    assert.ok(existsSync(report), 'report.html written');
    assert.ok(readFileSync(report).length < 2_000_000, 'report.html ≤ 2 MB');
    assert.match(readFileSync(join(runDir, 'report.md'), 'utf8'), /```mermaid\nxychart-beta/);
    // --dashboard: k6's own dashboard page next to report.html, linked from it
    assert.ok(existsSync(join(runDir, 'k6-dashboard.html')), 'k6-dashboard.html written');
    assert.match(readFileSync(join(runDir, 'k6-dashboard.html'), 'utf8'), /<html/i);
    const perSecond = JSON.parse(readFileSync(join(runDir, 'per-second.json'), 'utf8')) as PerSecondData;
    const { recovery } = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as {
      recovery: RecoveryReport[];
    };
    const r = recovery[0];
    assert.ok(
      r !== undefined && r.unavailableFromOffsetMs !== undefined && r.unavailableToOffsetMs !== undefined,
      `the kill caused an outage: ${JSON.stringify(recovery)}`,
    );
    // The failures fall in the window: every second with a failed or unknown publish overlaps it.
    const s = perSecond.series['publish'];
    assert.ok(s !== undefined, 'a publish series');
    const failedSeconds = s.t.filter((_, i) => (s.failed[i] ?? 0) + (s.unknown[i] ?? 0) > 0);
    assert.ok(failedSeconds.length > 0, 'the outage shows in the per-second data');
    for (const t of failedSeconds)
      assert.ok(
        t * 1000 + 1000 > r.unavailableFromOffsetMs && t * 1000 <= r.unavailableToOffsetMs,
        `second ${t} has failures outside the window ${r.unavailableFromOffsetMs}–${r.unavailableToOffsetMs} ms`,
      );
    // Every publish once: the rows add up to k6's own count of the scenario's requests, and the
    // not acked ones to the sidecar's outcome reports.
    assert.equal(
      s.sent.reduce((a, b) => a + b, 0),
      perSecond.counts.requests,
    );
    assert.equal(
      s.failed.reduce((a, b) => a + b, 0) + s.unknown.reduce((a, b) => a + b, 0),
      perSecond.counts.outcomeRecords,
    );
    assert.ok(perSecond.counts.control > 0, 'the calls to the sidecar are counted apart');

    const screenshot = join(dir, 'report.png');
    const { facts, consoleErrors, requests, dashboardLink } = await openPage(pw, report, screenshot);
    assert.equal(dashboardLink, 'k6-dashboard.html', "report.html links k6's dashboard");
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(requests, [], 'no network request');
    assert.deepEqual(facts.series[0], ['sent', 'acked', 'failed', 'unknown']);
    assert.deepEqual(facts.series[1], ['p50', 'p95', 'p99', 'max']);
    const kill = facts.marks.find((m) => m.source === 'plan' && m.kind === 'executed');
    assert.ok(kill !== undefined, `a mark for the kill: ${JSON.stringify(facts.marks)}`);
    assert.ok(
      facts.marks.some((m) => m.source === 'member' && m.kind === 'member-exited'),
      'a mark for the member exit',
    );
    // Inside the shaded outage (1 px: the first failure is sent within milliseconds of the kill).
    assert.ok(
      facts.outages.some((o) => kill.x >= o.left - 1 && kill.x <= o.right + 1),
      `kill mark at x=${kill.x} outside the outages ${JSON.stringify(facts.outages)}`,
    );
    assert.ok(existsSync(screenshot));
    process.stderr.write(`report.html screenshot: ${screenshot}\n`);

    // compare.html of the run against itself: both runs' series, overlaid.
    const out = join(dir, 'compare');
    const cmp = await runCli(['compare', runDir, runDir, '--a-label', 'A', '--b-label', 'B', '--out', out]);
    assert.equal(cmp.code, 0, cmp.stderr);
    const compared = await openPage(pw, join(out, 'compare.html'), join(dir, 'compare.png'));
    assert.deepEqual(compared.consoleErrors, []);
    assert.deepEqual(compared.requests, []);
    assert.deepEqual(compared.facts.series[0], ['A acked', 'A not acked', 'B acked', 'B not acked']);
  });
});
