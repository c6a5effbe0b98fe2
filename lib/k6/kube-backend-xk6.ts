// Backend 1 of the in-k6 chaos scenario: grafana/xk6-kubernetes (k6/x/kubernetes), in a k6
// built with the extension (`k6-ha setup --xk6-kubernetes`). scripts/build.mjs puts this module in
// place of kube-backend.ts for the build/xk6-kubernetes/ bundles, which plain k6 refuses (it does
// not know k6/x/kubernetes). What the extension's API lacks is said where it matters: `list` has no
// label selector (filtered here), `delete` has no grace period and no server-side dry run.
import { Kubernetes } from 'k6/x/kubernetes';
import { type KubeBackend, podView } from './kube-backend.ts';

export type { KubeBackend, PodView } from './kube-backend.ts';
export { podView } from './kube-backend.ts';

/** `k=v,k2=v2` (equality only: what the extension's client-side filter can honour). */
function matches(labels: Record<string, string>, selector: string): boolean {
  return selector
    .split(',')
    .filter((p) => p.trim() !== '')
    .every((p) => {
      const [k, v] = p.split('=').map((s) => s.trim());
      return k !== undefined && labels[k] === v;
    });
}

export function kubeBackend(apiServer: string, token: string | null): KubeBackend {
  const k8s = token === null ? new Kubernetes() : new Kubernetes({ server: apiServer, token });
  return {
    name: 'k6/x/kubernetes',
    canDryRun: false,
    getPod(namespace, name) {
      try {
        return podView(k8s.get('Pod', name, namespace) as never);
      } catch (err) {
        if (/not found/i.test(String(err))) return null;
        throw err;
      }
    },
    listPods(namespace, labelSelector) {
      if (/[!()]|\bin\b|\bnotin\b/.test(labelSelector))
        throw new Error(
          `labelSelector ${JSON.stringify(labelSelector)}: with k6/x/kubernetes only k=v[,k=v] (its list has no server-side selector)`,
        );
      return k8s
        .list('Pod', namespace)
        .map((p) => podView(p as never))
        .filter((p) => matches(p.labels, labelSelector));
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
