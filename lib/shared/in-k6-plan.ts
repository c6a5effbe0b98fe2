// The chaos plan as the in-k6 `chaos` scenario runs it (lib/k6/kube-chaos.ts): the same
// experiment file and plan format as `k6-ha run` — a kubernetes target's namespace allow-list
// and blastRadius, and `deletePod` actions by name, labelSelector or leaderOf — for runs with no
// sidecar (a lone k6 pod, k6 Cloud private load zones). Pure and dependency-free: it runs inside
// k6 (which has no zod) and in Node's unit tests; `k6-ha validate` checks the same file with the
// full schema. Anything the in-k6 executor cannot do is refused here, before any load.

export type InK6Selector =
  | { name: string; namespace: string }
  | { labelSelector: string; namespace: string }
  | { leaderOf: string; namespace: string };

export interface InK6Action {
  id: string;
  atMs: number;
  at: string;
  action: 'deletePod';
  target: InK6Selector;
  pick: 'one' | 'all';
  /** DELETE gracePeriodSeconds; null: the pod's own */
  gracePeriodS: number | null;
}

export interface InK6Plan {
  name: string;
  namespaces: string[];
  blastRadius: number;
  /** JetStream server name → pod name where they differ */
  serverPods: Record<string, string>;
  stream: string;
  actions: InK6Action[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `90s`, `1m30s`, `500ms`, `2h` → milliseconds; null when it is not a duration. */
export function durationMs(text: string): number | null {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(text)) return null;
  let total = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
  }
  return Math.round(total);
}

/** Thrown for a plan the in-k6 executor refuses: the field path, the value and what is allowed. */
export class InK6PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InK6PlanError';
  }
}

const KUBE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function parseInK6Plan(input: unknown, source = 'CHAOS_PLAN'): InK6Plan {
  const fail = (path: string, value: unknown, allowed: string): never => {
    throw new InK6PlanError(
      `${source}: ${path}: ${value === undefined ? 'missing' : `${JSON.stringify(value)} is not allowed`} — expected ${allowed}`,
    );
  };
  if (!isObject(input)) return fail('(file)', input, 'an experiment object');
  const target = input['target'];
  if (!isObject(target) || target['kind'] !== 'kubernetes')
    return fail(
      'target.kind',
      isObject(target) ? target['kind'] : undefined,
      '"kubernetes": the in-k6 chaos scenario acts on a cluster',
    );
  const namespaces = target['namespaces'];
  if (
    !Array.isArray(namespaces) ||
    namespaces.length === 0 ||
    namespaces.some((n) => typeof n !== 'string' || !KUBE_NAME.test(n))
  )
    return fail('target.namespaces', namespaces, 'a non-empty list of namespace names (the allow-list)');
  const allow = namespaces as string[];
  const blastRadius = input['blastRadius'] ?? 1;
  if (typeof blastRadius !== 'number' || !Number.isInteger(blastRadius) || blastRadius < 1)
    return fail('blastRadius', blastRadius, 'a whole number ≥ 1 (the most pods one action may delete)');
  const serverPods = isObject(target['serverPods']) ? (target['serverPods'] as Record<string, string>) : {};
  const stream = typeof target['stream'] === 'string' ? target['stream'] : 'sap';
  const plan = input['plan'] ?? [];
  if (!Array.isArray(plan)) return fail('plan', plan, 'a list of actions');
  const actions: InK6Action[] = plan.map((raw, i): InK6Action => {
    const at = `plan[${i}]`;
    if (!isObject(raw)) return fail(at, raw, 'an action object');
    if (raw['action'] !== 'deletePod')
      return fail(
        `${at}.action`,
        raw['action'],
        '"deletePod" — the in-k6 chaos scenario deletes pods (by name, labelSelector or leaderOf); run other actions with the sidecar (`k6-ha run`)',
      );
    const atText = raw['at'];
    const atMs = typeof atText === 'string' ? durationMs(atText) : null;
    if (atMs === null) return fail(`${at}.at`, atText, 'a duration from load start, e.g. "30s" or "3m"');
    const sel = raw['target'];
    if (!isObject(sel)) return fail(`${at}.target`, sel, 'a pod selector');
    const namespace = sel['namespace'] ?? allow[0];
    if (typeof namespace !== 'string' || !allow.includes(namespace))
      return fail(`${at}.target.namespace`, namespace, `one of target.namespaces (${allow.join(', ')})`);
    let target: InK6Selector;
    if (typeof sel['name'] === 'string' && KUBE_NAME.test(sel['name'])) target = { name: sel['name'], namespace };
    else if (typeof sel['labelSelector'] === 'string' && sel['labelSelector'] !== '')
      target = { labelSelector: sel['labelSelector'], namespace };
    else if (typeof sel['leaderOf'] === 'string' && sel['leaderOf'] !== '')
      target = { leaderOf: sel['leaderOf'], namespace };
    else
      return fail(
        `${at}.target`,
        sel,
        '{ "name": … }, { "labelSelector": "k=v" } or { "leaderOf": "<stream>" } (notLeaderOf needs the sidecar)',
      );
    const pick = raw['pick'] ?? 'one';
    if (pick !== 'one' && pick !== 'all') return fail(`${at}.pick`, pick, '"one" or "all"');
    const grace = raw['gracePeriod'];
    const gracePeriodMs = typeof grace === 'string' ? durationMs(grace) : null;
    if (grace !== undefined && gracePeriodMs === null)
      return fail(`${at}.gracePeriod`, grace, 'a duration, e.g. "30s"');
    const id = typeof raw['id'] === 'string' ? raw['id'] : `deletePod-${i}`;
    return {
      id,
      at: atText as string,
      atMs,
      action: 'deletePod',
      target,
      pick,
      gracePeriodS: gracePeriodMs === null ? null : Math.round(gracePeriodMs / 1000),
    };
  });
  actions.sort((a, b) => a.atMs - b.atMs);
  return {
    name: typeof input['name'] === 'string' ? input['name'] : 'experiment',
    namespaces: allow,
    blastRadius,
    serverPods,
    stream,
    actions,
  };
}

/** The prefix of the check names the chaos VU records its timeline with (the one channel from a VU to handleSummary()). */
export const CHAOS_CHECK_PREFIX = 'k6ha-chaos ';

/** One entry of the in-k6 chaos timeline, as a check name carries it. */
export interface InK6ChaosEvent {
  /** ms since the load started */
  offset_ms: number;
  ts: string;
  kind: 'scheduled' | 'executed' | 'failed' | 'ready' | 'not-ready' | 'dry-run' | 'refused';
  action_id: string;
  target: string | null;
  detail: Record<string, string | number | boolean | null>;
}

export function chaosEventCheckName(e: InK6ChaosEvent): string {
  return `${CHAOS_CHECK_PREFIX}${JSON.stringify(e)}`;
}

export function chaosEventsOfChecks(names: readonly string[]): InK6ChaosEvent[] {
  const out: InK6ChaosEvent[] = [];
  for (const n of names) {
    if (!n.startsWith(CHAOS_CHECK_PREFIX)) continue;
    try {
      out.push(JSON.parse(n.slice(CHAOS_CHECK_PREFIX.length)) as InK6ChaosEvent);
    } catch {
      // not ours
    }
  }
  return out.sort((a, b) => a.offset_ms - b.offset_ms);
}

/** The in-k6 chaos scenario's settings (environment of a plain `k6 run`). */
export interface InK6ChaosConfig {
  /** path of the experiment file whose plan runs inside k6 */
  planPath: string;
  dryRun: boolean;
  /** the API server; in a pod the service-account's (https://kubernetes.default.svc) */
  apiServer: string;
  /** a bearer token given directly (else read from tokenFile) */
  token: string | null;
  tokenFile: string;
  /**
   * In a pod with the defaults (KUBE_API, KUBE_TOKEN and KUBE_TOKEN_FILE unset, KUBERNETES_SERVICE_HOST
   * set): k6/x/kubernetes then uses its in-cluster config, which checks the API server against the
   * service account's ca.crt (given a server and token it does not check the certificate at all).
   */
  inCluster: boolean;
  /** NATS monitoring endpoints (comma-separated), for leaderOf: GET <url>/jsz?streams=true */
  natsMonitorUrls: string[];
  readyTimeoutMs: number;
}

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** null when CHAOS_PLAN is not set (no chaos scenario); throws InK6PlanError naming the variable otherwise. */
export function inK6ChaosConfigFrom(env: Record<string, string | undefined>): InK6ChaosConfig | null {
  const planPath = env['CHAOS_PLAN'];
  if (planPath === undefined || planPath === '') return null;
  const bad = (name: string, value: string, allowed: string): never => {
    throw new InK6PlanError(`invalid ${name}=${JSON.stringify(value)}: ${allowed}`);
  };
  const dry = env['CHAOS_DRY_RUN'] ?? 'false';
  if (dry !== 'true' && dry !== 'false') bad('CHAOS_DRY_RUN', dry, 'true or false');
  const apiServer = env['KUBE_API'] ?? 'https://kubernetes.default.svc';
  if (!/^https?:\/\/[^/\s]+$/.test(apiServer)) bad('KUBE_API', apiServer, 'http(s)://host[:port], no path');
  const urls = (env['NATS_MONITOR_URL'] ?? '').split(',').filter((u) => u !== '');
  for (const u of urls)
    if (!/^https?:\/\/[^/\s]+$/.test(u)) bad('NATS_MONITOR_URL', u, 'http(s)://host:8222 (comma-separated)');
  const readyText = env['CHAOS_READY_TIMEOUT'] ?? '2m';
  const readyTimeoutMs = durationMs(readyText);
  if (readyTimeoutMs === null) bad('CHAOS_READY_TIMEOUT', readyText, 'a duration, e.g. 2m');
  return {
    planPath,
    dryRun: dry === 'true',
    apiServer,
    token: env['KUBE_TOKEN'] ?? null,
    tokenFile: env['KUBE_TOKEN_FILE'] ?? SERVICE_ACCOUNT_TOKEN,
    inCluster:
      env['KUBE_API'] === undefined &&
      env['KUBE_TOKEN'] === undefined &&
      env['KUBE_TOKEN_FILE'] === undefined &&
      (env['KUBERNETES_SERVICE_HOST'] ?? '') !== '',
    natsMonitorUrls: urls,
    readyTimeoutMs: readyTimeoutMs as number,
  };
}

/**
 * A label selector as a client-side filter, for a backend whose list has no server-side selector
 * (k6/x/kubernetes): the equality-based forms of the Kubernetes syntax — `k=v`, `k==v`, `k!=v`,
 * `k` (has the label), `!k` (has not), comma-separated, all must hold. Set-based terms (`in`,
 * `notin`, parentheses) throw InK6PlanError naming the selector; so does anything else it cannot
 * read, rather than guess (a wrong match would delete a pod the plan did not name).
 */
export function labelSelectorMatcher(selector: string): (labels: Record<string, string>) => boolean {
  const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_./]*[a-z0-9A-Z])?)$/;
  const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;
  const refuse = (term: string, why: string): never => {
    throw new InK6PlanError(
      `labelSelector ${JSON.stringify(selector)}: ${JSON.stringify(term)} ${why} — with k6/x/kubernetes (no server-side selector) only k=v, k==v, k!=v, k and !k, comma-separated`,
    );
  };
  const terms = selector.split(',').map((t) => t.trim());
  if (terms.length === 0 || terms.some((t) => t === '')) refuse(selector, 'has an empty term');
  const tests = terms.map((term): ((labels: Record<string, string>) => boolean) => {
    if (/[()]|\s(in|notin)\s/.test(term)) return refuse(term, 'is set-based');
    const m = /^([^=!]+?)\s*(!=|==|=)\s*(.*)$/.exec(term);
    if (m !== null) {
      const [, key = '', op, value = ''] = m;
      if (!KEY.test(key)) return refuse(term, 'has no valid label key');
      if (!VALUE.test(value)) return refuse(term, 'has no valid label value');
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    const negated = term.startsWith('!');
    const key = (negated ? term.slice(1) : term).trim();
    if (!KEY.test(key)) return refuse(term, 'is not a label key');
    return negated ? (l) => l[key] === undefined : (l) => l[key] !== undefined;
  });
  return (labels) => tests.every((t) => t(labels));
}

/**
 * What a deletion's timeline entry says about its grace period: the one the DELETE carried (null:
 * the pod's own terminationGracePeriodSeconds) and, when the plan asked for one the backend cannot
 * send (k6/x/kubernetes' delete has no options), a note saying it was not applied.
 */
export function appliedGracePeriod(
  requestedS: number | null,
  backendCanSend: boolean,
  backendName: string,
): { grace_period_s: number | null; note: string | null } {
  if (requestedS === null || backendCanSend) return { grace_period_s: requestedS, note: null };
  return {
    grace_period_s: null,
    note: `gracePeriod ${requestedS} s not applied: ${backendName} deletes with the pod's own grace period`,
  };
}
