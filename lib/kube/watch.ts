// List-then-watch with resourceVersion, the way controllers do it: one list gives the state and a
// resourceVersion, the watch continues from there; a closed watch (the server ends every watch
// after timeoutSeconds, a network blip) reconnects from the last version seen (bookmarks keep it
// fresh), and "410 Gone" (that version was compacted away) relists. Nothing is polled.
import type { Watch } from '@kubernetes/client-node';
import { WaitTimeoutError } from '../shared/errors.ts';
import { type KubeClients, statusOf } from './client.ts';

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface ObjectList<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ResourceWatchOptions<T extends KubeObject> {
  clients: Pick<KubeClients, 'kubeConfig' | 'lib'>;
  /** API path of the collection, e.g. /api/v1/namespaces/ns/pods or /api/v1/nodes */
  path: string;
  /** the matching list call (typed API), giving the state and the resourceVersion to watch from */
  list: () => Promise<ObjectList<T>>;
  /** every object after the first list and after each relist (the caller diffs against what it knew) */
  onSync: (items: T[], at: number) => void;
  onEvent: (type: WatchEventType, obj: T, at: number) => void;
  /** reconnects, relists and errors, for the record */
  onNote?: (kind: 'reconnect' | 'relist' | 'error', detail: Record<string, unknown>) => void;
  fieldSelector?: string;
  labelSelector?: string;
  /** the server ends each watch after this long; below the client's 30 s inactivity timeout */
  serverTimeoutSeconds?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ResourceWatch<T extends KubeObject> {
  private running = false;
  private loop: Promise<void> | null = null;
  private controller: AbortController | null = null;
  private version: string | null = null;
  private readonly watch: Watch;

  constructor(private readonly opts: ResourceWatchOptions<T>) {
    this.watch = new opts.clients.lib.Watch(opts.clients.kubeConfig);
  }

  get resourceVersion(): string | null {
    return this.version;
  }

  /** Lists (retrying nothing: a first list that fails is the caller's error) and starts watching. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.relist();
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.controller?.abort();
    await this.loop;
  }

  private async relist(): Promise<void> {
    const list = await this.opts.list();
    this.version = list.metadata?.resourceVersion ?? null;
    this.opts.onSync(list.items, Date.now());
  }

  private async run(): Promise<void> {
    let backoffMs = 250;
    while (this.running) {
      if (this.version === null) {
        try {
          await this.relist();
          this.opts.onNote?.('relist', { path: this.opts.path, resource_version: this.version });
        } catch (err) {
          this.opts.onNote?.('error', {
            path: this.opts.path,
            phase: 'list',
            status: statusOf(err),
            error: (err as Error).message,
          });
          await sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 5000);
          continue;
        }
      }
      const outcome = await this.session(this.version as string);
      if (!this.running) return;
      if (outcome.gone) {
        // Our version is older than etcd keeps: only a fresh list is consistent again.
        this.version = null;
        continue;
      }
      if (outcome.error !== null) {
        this.opts.onNote?.('error', {
          path: this.opts.path,
          phase: 'watch',
          status: statusOf(outcome.error),
          error: (outcome.error as Error).message ?? String(outcome.error),
        });
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5000);
      } else {
        backoffMs = 250;
      }
      this.opts.onNote?.('reconnect', { path: this.opts.path, resource_version: this.version, events: outcome.events });
    }
  }

  /** One watch request from `version` until the server or the network ends it. */
  private session(version: string): Promise<{ gone: boolean; error: unknown; events: number }> {
    return new Promise((resolve) => {
      let gone = false;
      let events = 0;
      let watchError: unknown = null;
      const query: Record<string, string | number | boolean | undefined> = {
        resourceVersion: version,
        allowWatchBookmarks: true,
        timeoutSeconds: this.opts.serverTimeoutSeconds ?? 20,
        fieldSelector: this.opts.fieldSelector,
        labelSelector: this.opts.labelSelector,
      };
      const onEvent = (type: string, obj: unknown): void => {
        const at = Date.now();
        if (type === 'ERROR') {
          const status = obj as { code?: number; message?: string };
          if (status.code === 410) gone = true;
          else watchError = Object.assign(new Error(status.message ?? 'watch error'), { statusCode: status.code });
          return;
        }
        const o = obj as T;
        const rv = o.metadata?.resourceVersion;
        if (rv !== undefined) this.version = rv;
        if (type === 'BOOKMARK') return;
        events++;
        this.opts.onEvent(type as WatchEventType, o, at);
      };
      const done = (err: unknown): void => {
        this.controller = null;
        if (statusOf(err) === 410) gone = true;
        const aborted =
          err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError') && !this.running;
        resolve({ gone, error: gone || aborted ? null : (err ?? watchError), events });
      };
      this.watch
        .watch(this.opts.path, query, onEvent, done)
        .then((controller) => {
          this.controller = controller;
          if (!this.running) controller.abort();
        })
        .catch(done);
    });
  }
}

/**
 * Watches a collection until `check` returns a value for the objects seen (by name), or the
 * timeout / abort signal ends the wait. Used for "rollout complete", "container running again", …
 */
export async function watchUntil<T extends KubeObject, R>(opts: {
  clients: Pick<KubeClients, 'kubeConfig' | 'lib'>;
  path: string;
  list: () => Promise<ObjectList<T>>;
  fieldSelector?: string;
  labelSelector?: string;
  check: (objects: Map<string, T>) => R | null;
  timeoutMs: number;
  what: string;
  signal?: AbortSignal;
}): Promise<R> {
  const objects = new Map<string, T>();
  let settle: ((r: R | Error) => void) | null = null;
  const outcome = new Promise<R | Error>((resolve) => (settle = resolve));
  const evaluate = (): void => {
    const r = opts.check(objects);
    if (r !== null) settle?.(r);
  };
  const keyOf = (o: T): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  const watch = new ResourceWatch<T>({
    clients: opts.clients,
    path: opts.path,
    list: opts.list,
    fieldSelector: opts.fieldSelector,
    labelSelector: opts.labelSelector,
    onSync: (items) => {
      objects.clear();
      for (const o of items) objects.set(keyOf(o), o);
      evaluate();
    },
    onEvent: (type, o) => {
      if (type === 'DELETED') objects.delete(keyOf(o));
      else objects.set(keyOf(o), o);
      evaluate();
    },
  });
  const timer = setTimeout(
    () => settle?.(new WaitTimeoutError(`timed out after ${opts.timeoutMs / 1000}s waiting for ${opts.what}`)),
    opts.timeoutMs,
  );
  const onAbort = (): void => settle?.(new WaitTimeoutError(`stopped while waiting for ${opts.what}`));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await watch.start();
    const r = await outcome;
    if (r instanceof Error) throw r;
    return r;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    await watch.stop();
  }
}
