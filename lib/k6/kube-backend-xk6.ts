// Backend 1 of the in-k6 chaos scenario: grafana/xk6-kubernetes (k6/x/kubernetes), in a k6
// built with the extension (`k6-ha setup --xk6-kubernetes`). scripts/build.mjs puts this module in
// place of kube-backend.ts for the build/xk6-kubernetes/ bundles, which plain k6 refuses (it does
// not know k6/x/kubernetes). What the extension's API lacks is said where it matters: `list` has no
// label selector (filtered here), `delete` has no grace period and no server-side dry run.
import { Kubernetes } from 'k6/x/kubernetes';
import { labelSelectorMatcher } from '../shared/in-k6-plan.ts';
import { type KubeBackend, podView } from './kube-backend.ts';

export type { KubeBackend, PodView } from './kube-backend.ts';
export { podView } from './kube-backend.ts';

/**
 * In a pod with the defaults (`inCluster`): the extension's in-cluster config (the service account's
 * token and ca.crt: the API server's certificate is checked). Else `{server, token}`, for which
 * v0.12.1 sets TLS Insecure — said once in k6's log. Never `new Kubernetes()` without a token: the
 * extension would fall back to ~/.kube/config's current context, a cluster the plan does not name.
 */
export function kubeBackend(apiServer: string, token: string | null, inCluster = false): KubeBackend {
  if (token === null)
    throw new Error('no Kubernetes token: set KUBE_TOKEN or KUBE_TOKEN_FILE (in a pod: the service-account token)');
  let k8s: Kubernetes;
  if (inCluster) k8s = new Kubernetes({});
  else {
    if (apiServer.startsWith('https://'))
      console.warn(
        `k6-ha chaos: k6/x/kubernetes given KUBE_API and a token does not check ${apiServer}'s TLS certificate (xk6-kubernetes v0.12.1 sets Insecure for server+token); in a pod leave KUBE_API/KUBE_TOKEN/KUBE_TOKEN_FILE unset to use its in-cluster config, which does`,
      );
    k8s = new Kubernetes({ server: apiServer, token });
  }
  return {
    name: 'k6/x/kubernetes',
    canDryRun: false,
    canGracePeriod: false,
    getPod(namespace, name) {
      try {
        return podView(k8s.get('Pod', name, namespace) as never);
      } catch (err) {
        if (/not found/i.test(String(err))) return null;
        throw err;
      }
    },
    listPods(namespace, labelSelector) {
      const matches = labelSelectorMatcher(labelSelector);
      return k8s
        .list('Pod', namespace)
        .map((p) => podView(p as never))
        .filter((p) => matches(p.labels));
    },
    deletePod(namespace, name, _gracePeriodS, dryRun) {
      if (dryRun) return { ok: true, status: 0, error: null };
      try {
        k8s.delete('Pod', name, namespace);
        return { ok: true, status: 200, error: null };
      } catch (err) {
        return { ok: false, status: 0, error: String(err) };
      }
    },
  };
}
