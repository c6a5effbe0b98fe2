// The one module that reads __ENV: the scenarios' configuration, parsed at init time by the pure
// parsers of lib/shared/scenario-config.ts (which the Node side runs on an experiment's env too).
import {
  type EventStoreConfig,
  eventstoreConfigFrom,
  type HttpGetConfig,
  httpGetConfigFrom,
  type PublishConfig,
  publishConfigFrom,
  type S3ObjectsConfig,
  s3ObjectsConfigFrom,
  summaryJsonPathFrom,
} from '../shared/scenario-config.ts';

import { type InK6ChaosConfig, inK6ChaosConfigFrom, type InK6Plan, parseInK6Plan } from '../shared/in-k6-plan.ts';

export type { EventStoreConfig, HttpGetConfig, PublishConfig, S3ObjectsConfig } from '../shared/scenario-config.ts';

// ---- the scenarios' view: k6's __ENV, read at init time ----

export function publishConfig(): PublishConfig {
  return publishConfigFrom(__ENV);
}

export function eventstoreConfig(): EventStoreConfig {
  return eventstoreConfigFrom(__ENV);
}

export function httpGetConfig(): HttpGetConfig {
  return httpGetConfigFrom(__ENV);
}

export function summaryJsonPath(): string | undefined {
  return summaryJsonPathFrom(__ENV);
}

export function s3ObjectsConfig(): S3ObjectsConfig {
  return s3ObjectsConfigFrom(__ENV);
}

/**
 * The in-k6 chaos scenario's plan and settings (CHAOS_PLAN = an experiment file with a kubernetes
 * target), read at init time with k6's open(); null without CHAOS_PLAN. The token: KUBE_TOKEN, else
 * the file KUBE_TOKEN_FILE (default: the pod's service-account token); null when neither exists.
 */
export function inK6Chaos(): { plan: InK6Plan; config: InK6ChaosConfig; token: string | null } | null {
  const config = inK6ChaosConfigFrom(__ENV);
  if (config === null) return null;
  let text: string;
  try {
    text = open(config.planPath);
  } catch (err) {
    throw new Error(`CHAOS_PLAN=${JSON.stringify(config.planPath)}: cannot read it (${String(err)})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`CHAOS_PLAN=${JSON.stringify(config.planPath)}: not JSON (${String(err)})`, { cause: err });
  }
  const plan = parseInK6Plan(json, `CHAOS_PLAN ${config.planPath}`);
  let token = config.token;
  if (token === null) {
    try {
      token = open(config.tokenFile).trim();
    } catch {
      token = null;
    }
  }
  return { plan, config, token };
}
