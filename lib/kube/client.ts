// Connecting to a cluster safely: the kube context must be the one the experiment (or --context)
// names, or nothing starts; every object a plan touches must live in an allowed namespace.
// Errors from the API are told apart by their HTTP status (ApiException.code).
//
// The client library is loaded on first connect, not imported: it costs ~75 MB and ~0.8 s at
// start, and the bundled CLI would otherwise load it for every local run too.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ApiException, AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, KubeContextError, NamespaceRefusedError } from '../shared/errors.ts';

/** @kubernetes/client-node, loaded by connectKube() */
export type ClientNode = typeof import('@kubernetes/client-node');

export function loadClientNode(): Promise<ClientNode> {
  return import('@kubernetes/client-node');
}

// Re-exported for the importers that predate lib/shared/errors.ts (the unit tests).
export { KubeContextError, NamespaceRefusedError };

/** client-node's ApiException (HTTP status in `code`, the Status object in `body`), told by shape: the class is loaded lazily. */
function isApiException(err: unknown): err is ApiException<unknown> {
  return (
    err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'body' in err && 'headers' in err
  );
}

/** The HTTP status of a failed API call or watch, or null when the server was not reached. */
export function statusOf(err: unknown): number | null {
  if (isApiException(err)) return err.code;
  if (err instanceof KubeApiError) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : null;
}

/** The server's own explanation (Status.message) of a failed call, else the error's message. */
export function apiMessage(err: unknown): string {
  if (isApiException(err)) {
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        if (typeof parsed.message === 'string') return parsed.message;
      } catch {
        return body.slice(0, 300);
      }
    }
    const message = (body as { message?: unknown } | null)?.message;
    if (typeof message === 'string') return message;
    return `HTTP ${err.code}`;
  }
  return (err as Error).message;
}

export interface KubeClients {
  readonly kubeConfig: KubeConfig;
  /** the context in use, checked against the experiment's */
  readonly context: string;
  readonly server: string;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  /** the library itself, for Watch, Exec and the patch content types */
  readonly lib: ClientNode;
}

export interface ConnectOptions {
  /** the experiment's target.context */
  planContext: string;
  /** --context: overrides the plan's context and selects it in the kubeconfig */
  contextOverride?: string;
  /** --kubeconfig; otherwise $KUBECONFIG, ~/.kube/config or the in-cluster service account */
  kubeconfigFile?: string;
}

/**
 * Loads the kubeconfig and refuses unless the context in use is the one the plan names: the
 * current context must equal `target.context`, or `--context` must name one that exists (an
 * explicit choice on the command line). Makes no API call.
 */
/**
 * The context name @kubernetes/client-node gives the service account's config in a pod
 * (KubeConfig.loadFromCluster): what an in-cluster experiment's target.context must say.
 */
export const IN_CLUSTER_CONTEXT = 'inClusterContext';

export async function connectKube(opts: ConnectOptions): Promise<KubeClients> {
  const lib = await loadClientNode();
  const kc: KubeConfig = new lib.KubeConfig();
  try {
    if (opts.kubeconfigFile !== undefined) {
      kc.loadFromFile(opts.kubeconfigFile);
    } else {
      // With nothing to load, client-node quietly invents a "loaded-context" for localhost:8080,
      // and the context check would then talk about a context nobody wrote.
      const homeConfig = join(homedir(), '.kube', 'config');
      if (
        !process.env['KUBECONFIG'] &&
        !existsSync(homeConfig) &&
        process.env['KUBERNETES_SERVICE_HOST'] === undefined
      ) {
        throw new KubeContextError(
          `no kubeconfig: KUBECONFIG is not set and ${homeConfig} does not exist; pass --kubeconfig <file>; nothing was started`,
        );
      }
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof KubeContextError) throw err;
    throw new KubeContextError(
      `cannot load the kubeconfig${opts.kubeconfigFile === undefined ? '' : ` ${opts.kubeconfigFile}`}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const required = opts.contextOverride ?? opts.planContext;
  const known = kc.getContexts().map((c) => c.name);
  if (opts.contextOverride !== undefined) {
    if (!known.includes(opts.contextOverride)) {
      throw new KubeContextError(
        `--context ${JSON.stringify(opts.contextOverride)} is not in the kubeconfig (contexts: ${known.join(', ') || 'none'}); nothing was started`,
      );
    }
    kc.setCurrentContext(opts.contextOverride);
  }
  const current = kc.getCurrentContext();
  if (current !== required) {
    throw new KubeContextError(
      `the kube context is ${JSON.stringify(current)} but the experiment names ${JSON.stringify(required)} (target.context); refusing to touch another cluster. ` +
        `Switch with \`kubectl config use-context ${required}\` or pass --context ${current} if this cluster is really meant; nothing was started`,
    );
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null)
    throw new KubeContextError(`context ${JSON.stringify(current)} names no cluster in the kubeconfig`);
  return {
    kubeConfig: kc,
    context: current,
    server: cluster.server,
    core: kc.makeApiClient(lib.CoreV1Api),
    apps: kc.makeApiClient(lib.AppsV1Api),
    lib,
  };
}

/** The namespaces a plan may touch; asked before every call that changes something. */
export class NamespaceGuard {
  constructor(readonly allowed: readonly string[]) {}

  get defaultNamespace(): string {
    return this.allowed[0] as string;
  }

  allows(namespace: string): boolean {
    return this.allowed.includes(namespace);
  }

  check(namespace: string | undefined, what: string): string {
    const ns = namespace ?? this.defaultNamespace;
    if (!this.allows(ns)) {
      throw new NamespaceRefusedError(
        `${what} is in namespace ${JSON.stringify(ns)}, outside target.namespaces (${this.allowed.join(', ')}); refused`,
        { namespace: ns },
      );
    }
    return ns;
  }
}
