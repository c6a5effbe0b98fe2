// Where a run's artifacts go: results/<run-id>/ (or --out-dir), with results/latest pointing at it.
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidSettingError } from '../shared/errors.ts';
import { resultsDir } from '../sidecar/artifacts.ts';
import type { Experiment } from '../experiment/experiment.ts';

function runIdFor(exp: Experiment): string {
  const d = new Date();
  const pad = (x: number): string => String(x).padStart(2, '0');
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}-${exp.name}`;
}

export function createRunDir(exp: Experiment, outDir?: string): { runId: string; runDir: string } {
  const base = resultsDir(outDir);
  let runId = runIdFor(exp);
  if (existsSync(join(base, runId))) runId = `${runId}-${process.pid}`;
  const runDir = join(base, runId);
  try {
    mkdirSync(runDir, { recursive: true });
  } catch (err) {
    throw InvalidSettingError.format(
      '--out-dir',
      outDir ?? base,
      `a directory k6-ha can create run directories in (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const latest = join(base, 'latest');
  rmSync(latest, { force: true });
  try {
    symlinkSync(runId, latest);
  } catch {
    // symlinks may be unavailable (e.g. some Windows setups); the run dir is printed anyway
  }
  return { runId, runDir };
}
