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
