#!/usr/bin/env node
// The installed `k6-ha` command: runs the TypeScript CLI through tsx (no separate compile step).
import { register } from 'tsx/esm/api';

register();
await import('../lib/cli/main.ts');
