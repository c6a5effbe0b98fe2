// Defaults that both the k6 side and the Node side must agree on.

/** Where the embedded local stack's publisher listens unless told otherwise. */
export const DEFAULT_PUBLISH_URL = 'http://127.0.0.1:18080/publish';
export const DEFAULT_RATE = 150;
/** Short enough for a first try; the seed's runs were 5–10 minutes (see experiments/*.json presets). */
export const DEFAULT_DURATION = '30s';
export const DEFAULT_REQUEST_TIMEOUT = '5s';
export const DEFAULT_EVENT_TYPE = 'order.created.v1';
export const DEFAULT_EVENT_SOURCE = 'k6-ha';
export const CE_MODES = ['binary', 'structured'] as const;
export type CeMode = (typeof CE_MODES)[number];

/** The seed's stream: `sap` with subjects `kyma.>`. */
export const DEFAULT_STREAM = 'sap';
export const DEFAULT_SUBJECT_PREFIX = 'kyma';
export const DEFAULT_CONSUMER = 'k6-ha-sink';

/** Prefix of every k6 metric produced from chaos results, so thresholds can gate them. */
export const CHAOS_METRIC_PREFIX = 'chaos_';
