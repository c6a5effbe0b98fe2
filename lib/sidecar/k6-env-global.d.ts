// lib/k6/env.ts reads k6's global __ENV; scenario-env.ts runs it in Node with one set for the call.
declare const __ENV: Record<string, string | undefined>;
