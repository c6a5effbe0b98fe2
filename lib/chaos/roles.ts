// The role selectors, one table: `leaderOf` / `notLeaderOf` name a JetStream stream's leader or
// its other replicas, `activeOf` / `standbyOf` a NATS Streaming FT group's active member or its
// standbys. Each is "the one member holding the group's lead" or "the others", resolved at action
// time from the group's own view; the local preflight, the local driver and the Kubernetes
// resolver (lib/kube/resolve.ts) all read the selectors through this table.

export type RoleField = 'leaderOf' | 'notLeaderOf' | 'activeOf' | 'standbyOf';

export interface RoleSpec {
  /** what the selector's value names: a stream, or an ft_group */
  group: 'stream' | 'ftGroup';
  /** true: the member holding the lead (leader, active); false: the other members */
  holder: boolean;
  /** the others only while they run (a member that is down stands by for nothing) */
  othersRunning: boolean;
  /** the preflight's note */
  note: string;
  /** the preflight's refusal when the group is not under test (`known`: the groups that are) */
  unknown(field: RoleField, value: string, known: string[]): string;
  /** the preflight's refusal of the others of a group with one member */
  single(value: string): string;
}

const unknownStream = (_field: RoleField, value: string, known: string[]): string =>
  `stream ${JSON.stringify(value)} is not under test; streams are ${known.join(', ') || 'none'}`;
const unknownFtGroup = (field: RoleField, value: string, known: string[]): string =>
  `target.${field}: ${JSON.stringify(value)} is not allowed — expected ${
    known.length === 0
      ? 'nothing: this target has no fault-tolerance group (activeOf/standbyOf are for the nats-streaming target, or a kubernetes target with target.stan)'
      : `one of ${known.map((g) => JSON.stringify(g)).join(', ')}, the ft_group under test`
  }`;

export const ROLE_SELECTORS: Record<RoleField, RoleSpec> = {
  leaderOf: {
    group: 'stream',
    holder: true,
    othersRunning: false,
    note: 'resolved at action time: the current leader',
    unknown: unknownStream,
    single: () => '',
  },
  notLeaderOf: {
    group: 'stream',
    holder: false,
    othersRunning: false,
    note: 'resolved at action time: a member that is not the leader',
    unknown: unknownStream,
    single: (stream) => `notLeaderOf ${stream} matches nothing: the stream has a single replica`,
  },
  activeOf: {
    group: 'ftGroup',
    holder: true,
    othersRunning: false,
    note: 'resolved at action time: the member whose /streaming/serverz says FT_ACTIVE',
    unknown: unknownFtGroup,
    single: () => '',
  },
  standbyOf: {
    group: 'ftGroup',
    holder: false,
    othersRunning: true,
    note: 'resolved at action time: a member whose /streaming/serverz says FT_STANDBY',
    unknown: unknownFtGroup,
    single: (group) => `standbyOf ${group} matches nothing: the group has a single member`,
  },
};

export interface RoleSelection {
  field: RoleField;
  /** the stream or ft_group the selector names */
  value: string;
  spec: RoleSpec;
}

/** The role a selector names, or null for a selector by name or label. */
export function roleOf(selector: object): RoleSelection | null {
  for (const field of Object.keys(ROLE_SELECTORS) as RoleField[]) {
    const value = (selector as Record<string, unknown>)[field];
    if (typeof value === 'string') return { field, value, spec: ROLE_SELECTORS[field] };
  }
  return null;
}

/** A group's view at one moment: who holds the lead (null: nobody, e.g. mid-failover) and its members. */
export interface RoleView {
  holder: string | null;
  members: string[];
}

/** The members a role selects from the view; `running` filters the others where the role wants that. */
export function roleMatches(role: RoleSelection, view: RoleView, running?: (name: string) => boolean): string[] {
  if (role.spec.holder) return view.holder === null ? [] : [view.holder];
  return view.members.filter(
    (n) => n !== view.holder && (!role.spec.othersRunning || running === undefined || running(n)),
  );
}

/** How many members a role selector can hit in a group of `size` (the preflight's count). */
export const roleHits = (role: RoleSelection, size: number): number => (role.spec.holder ? 1 : Math.max(0, size - 1));
