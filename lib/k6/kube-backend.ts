// The in-k6 chaos scenario's way to the API server, backend 2: plain k6/http with a bearer token
// (the pod's service-account token), so it runs on stock k6 wherever k6 runs. Backend 1 is
// kube-backend-xk6.ts (k6/x/kubernetes); scripts/build.mjs swaps this module for it in the
// build/xk6-kubernetes/ bundles. Both implement KubeBackend.
import http from 'k6/http';

export interface PodView {
  name: string;
  namespace: string;
  uid: string;
  ready: boolean;
  deleting: boolean;
  labels: Record<string, string>;
}

export interface KubeBackend {
  readonly name: string;
  getPod(namespace: string, name: string): PodView | null;
  listPods(namespace: string, labelSelector: string): PodView[];
  /** dryRun: the API server checks the request (RBAC, admission) and deletes nothing; false when this backend cannot */
  deletePod(
    namespace: string,
    name: string,
    gracePeriodS: number | null,
    dryRun: boolean,
  ): { ok: boolean; status: number; error: string | null };
  readonly canDryRun: boolean;
  /** false: deletePod ignores gracePeriodS (the pod's own grace period applies) */
  readonly canGracePeriod: boolean;
}

interface RawPod {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
  };
  status?: { conditions?: Array<{ type?: string; status?: string }> };
}

export function podView(raw: RawPod): PodView {
  return {
    name: raw.metadata?.name ?? '',
    namespace: raw.metadata?.namespace ?? '',
    uid: raw.metadata?.uid ?? '',
    deleting: raw.metadata?.deletionTimestamp != null,
    labels: raw.metadata?.labels ?? {},
    ready: (raw.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  };
}

const TAGS = { k6ha: 'control', name: 'kube-api' };

export function httpKubeBackend(apiServer: string, token: string): KubeBackend {
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  const params = { headers, timeout: '10s', tags: TAGS, responseCallback: http.expectedStatuses(200, 202, 404) };
  const podsUrl = (ns: string): string => `${apiServer}/api/v1/namespaces/${encodeURIComponent(ns)}/pods`;
  return {
    name: 'k6/http',
    canDryRun: true,
    canGracePeriod: true,
    getPod(namespace, name) {
      const res = http.get(`${podsUrl(namespace)}/${encodeURIComponent(name)}`, params);
      if (res.status === 404) return null;
      if (res.status !== 200)
        throw new Error(
          `GET pod ${namespace}/${name}: HTTP ${res.status} ${String(res.body ?? res.error).slice(0, 200)}`,
        );
      return podView(JSON.parse(String(res.body)) as RawPod);
    },
    listPods(namespace, labelSelector) {
      const res = http.get(`${podsUrl(namespace)}?labelSelector=${encodeURIComponent(labelSelector)}`, params);
      if (res.status !== 200)
        throw new Error(
          `list pods ${namespace} ${labelSelector}: HTTP ${res.status} ${String(res.body ?? res.error).slice(0, 200)}`,
        );
      return ((JSON.parse(String(res.body)) as { items?: RawPod[] }).items ?? []).map(podView);
    },
    deletePod(namespace, name, gracePeriodS, dryRun) {
      const query = [dryRun ? 'dryRun=All' : '', gracePeriodS === null ? '' : `gracePeriodSeconds=${gracePeriodS}`]
        .filter((q) => q !== '')
        .join('&');
      const res = http.del(
        `${podsUrl(namespace)}/${encodeURIComponent(name)}${query === '' ? '' : `?${query}`}`,
        null,
        params,
      );
      const ok = res.status === 200 || res.status === 202;
      return {
        ok,
        status: res.status,
        error: ok ? null : `HTTP ${res.status} ${String(res.body ?? res.error).slice(0, 200)}`,
      };
    },
  };
}

/** The backend this bundle uses (the xk6 bundles replace this module); `_inCluster` matters to k6/x/kubernetes only. */
export function kubeBackend(apiServer: string, token: string | null, _inCluster = false): KubeBackend {
  if (token === null)
    throw new Error('no Kubernetes token: set KUBE_TOKEN or KUBE_TOKEN_FILE (in a pod: the service-account token)');
  return httpKubeBackend(apiServer, token);
}
