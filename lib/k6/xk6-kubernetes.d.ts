// The part of grafana/xk6-kubernetes v0.12.1's JS API (k6/x/kubernetes) that kube-backend-xk6.ts
// uses. Only a k6 built with the extension has the module (`k6-ha setup --xk6-kubernetes`).
declare module 'k6/x/kubernetes' {
  export class Kubernetes {
    constructor(config?: { config_path?: string; server?: string; token?: string });
    get(kind: string, name: string, namespace: string): unknown;
    list(kind: string, namespace: string): unknown[];
    delete(kind: string, name: string, namespace: string): void;
  }
}
