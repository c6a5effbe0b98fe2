// lib/k6/env.ts's adapters read k6's global __ENV. The Node side imports env.ts too (through
// lib/shared/scenarios.ts) but calls only its pure …From(env) parsers: this lets it type-check.
declare const __ENV: Record<string, string | undefined>;
