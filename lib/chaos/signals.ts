// What a replicated group looks like from outside, sampled during a run: the shapes the recovery
// figures are computed from (lib/measure/recovery.ts). JetStream's view (lib/jetstream/) fills
// them today; any target with a leader and replicas can.

/** The lead changed hands (or was lost: leader null) at this moment. */
export interface LeaderChange {
  at: number;
  leader: string | null;
}

export interface ReplicaState {
  name: string;
  current: boolean;
  lag: number;
  /** ms since the leader last heard from it */
  activeMs: number;
  offline: boolean;
}

export interface StreamSnapshot {
  at: number;
  leader: string | null;
  replicas: ReplicaState[];
  lastSeq: number;
  firstSeq: number;
  messages: number;
}

export interface ConsumerSnapshot {
  at: number;
  ackFloorStreamSeq: number;
  deliveredStreamSeq: number;
  numPending: number;
  numAckPending: number;
  numRedelivered: number;
}
