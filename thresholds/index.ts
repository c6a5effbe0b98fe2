// Every gate profile, bundled into the built scenarios so `k6 run build/x.js` needs no local files.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';
import { haObserve } from './ha-observe.ts';
import { haStrict } from './ha-strict.ts';
import { ftAtLeastOnce } from './ft-at-least-once.ts';
import { steady } from './steady.ts';
import { esHa } from './es-ha.ts';
import { esObserve } from './es-observe.ts';
import { esSteady } from './es-steady.ts';
import { httpObserve } from './http-observe.ts';
import { httpSteady } from './http-steady.ts';
import { s3Ha } from './s3-ha.ts';
import { s3Restarts } from './s3-restarts.ts';
import { s3Steady } from './s3-steady.ts';

export const THRESHOLD_PROFILES: Record<string, ThresholdProfile> = {
  steady,
  'ha-strict': haStrict,
  'ha-observe': haObserve,
  'ft-at-least-once': ftAtLeastOnce,
  'es-steady': esSteady,
  'es-ha': esHa,
  'es-observe': esObserve,
  'http-steady': httpSteady,
  'http-observe': httpObserve,
  's3-steady': s3Steady,
  's3-ha': s3Ha,
  's3-restarts': s3Restarts,
};
