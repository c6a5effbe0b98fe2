// The embedded EventStore target: one EventStore FIXTURE process (a stand-in, lib/fixtures/) as
// member eventstore-0. The scenario verifies every event itself (reads back in k6), so the target
// has no accountant and no roles; the sidecar times the outage from the failed appends.
import { startEventStoreStack } from '../fixtures/eventstore-stack.ts';
import { NO_RECOVERY_SIGNALS, NO_ROLES } from '../chaos/target.ts';
import type { LocalEventStoreTarget, TargetModule } from './target-module.ts';

export const eventstoreTarget: TargetModule<LocalEventStoreTarget> = {
  description: 'local: the EventStore fixture (a stand-in for a real EventStore, see docs/eventstore.md)',
  preflightWorld: () => ({ memberNames: ['eventstore-0'], streams: {} }),
  async start({ target, runDir, log }) {
    const stack = await startEventStoreStack({ runDir, log, storage: target.storage ?? 'fsync' });
    return {
      kind: 'eventstore',
      members: () => stack.members(),
      k6Env: () => stack.k6Env(),
      bind: () => ({
        roles: NO_ROLES,
        accountant: null,
        recoverySignals: () => NO_RECOVERY_SIGNALS,
        prepare: async () => undefined,
        stop: async () => undefined,
      }),
      stop: () => stack.stop(),
    };
  },
};
