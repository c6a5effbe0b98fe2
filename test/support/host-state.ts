// What a real kubelet and containerd change on the host (see scripts/kube/node-down.sh), captured
// before a real node comes up and compared after it is gone: processes, mounts, the kubepods
// cgroup trees, the sysctls the kubelet sets, KUBE-* iptables chains (v4 and v6) and the host
// directories it creates. `hostChanges(before, after)` lists every difference in words.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Set by the kubelet unless protectKernelDefaults (real-kubelet note: 1→10, 0→1, 0→1). */
export const NODE_SYSCTLS = ['kernel.panic', 'kernel.panic_on_oops', 'vm.overcommit_memory'] as const;
/** Created by the kubelet/containerd whatever their root dirs (KUBE_NODE_HOST_PATHS in scripts/kube/lib.sh). */
export const NODE_HOST_PATHS = [
  '/var/log/containers',
  '/var/log/pods',
  '/var/lib/kubelet/device-plugins',
  '/var/lib/kubelet',
  '/run/containerd',
  '/var/run/netns',
  '/var/lib/cni',
  '/usr/libexec/kubernetes',
  '/var/lib/containerd',
] as const;
const NODE_PROCESS_NAMES = new Set(['containerd', 'containerd-shim', 'containerd-shim-runc-v2', 'kubelet', 'runc']);

export interface HostState {
  sysctls: Record<string, string>;
  paths: string[];
  cgroups: string[];
  chains: string[];
  mounts: string[];
  processes: string[];
}

function sysctl(name: string): string {
  return readFileSync(join('/proc/sys', ...name.split('.')), 'utf8').trim();
}

function kubepodsCgroups(): string[] {
  const root = '/sys/fs/cgroup';
  const found: string[] = [];
  if (!existsSync(root)) return found;
  for (const c of [root, ...readdirSync(root).map((d) => join(root, d))]) {
    for (const name of ['kubepods', 'kubepods.slice']) if (existsSync(join(c, name))) found.push(join(c, name));
  }
  return found;
}

function iptablesChains(): string[] {
  const chains: string[] = [];
  for (const bin of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      let out: string;
      try {
        out = execFileSync(bin, ['-w', '5', '-t', table, '-S'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
      } catch {
        continue; // not installed, or the table is not there: nothing the kubelet could have left
      }
      for (const m of out.matchAll(/^-N (KUBE-\S+)$/gm)) chains.push(`${bin} -t ${table} ${m[1]}`);
    }
  }
  return chains.sort();
}

/** Mount points that a node leaves when torn down badly: under its dirs, or containerd's/the kubelet's. */
function nodeMounts(dirs: string[]): string[] {
  const prefixes = [...dirs, '/run/containerd', '/var/lib/kubelet', '/var/lib/containerd', '/var/run/netns'];
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m !== '' && prefixes.some((p) => m === p || m.startsWith(`${p}/`)))
    .sort();
}

function nodeProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const exe = readlinkSync(`/proc/${pid}/exe`);
      if (NODE_PROCESS_NAMES.has(basename(exe))) {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
        found.push(`${pid} ${cmd}`);
      }
    } catch {
      // gone, or a kernel thread
    }
  }
  return found.sort();
}

/** The host as far as a real node can change it; `dirs` are the cluster's own directories. */
export function captureHostState(dirs: string[] = []): HostState {
  return {
    sysctls: Object.fromEntries(NODE_SYSCTLS.map((s) => [s, sysctl(s)])),
    paths: NODE_HOST_PATHS.filter((p) => existsSync(p)),
    cgroups: kubepodsCgroups(),
    chains: iptablesChains(),
    mounts: nodeMounts(dirs),
    processes: nodeProcesses(),
  };
}

/** scripts/kube/lib.sh's lock: held by whichever real node is up on this machine. */
const NODE_LOCK = process.env['K6HA_KUBE_NODE_LOCK'] ?? '/tmp/k6ha-kube-node.lock';

/** True when no real node holds the lock (flock -n takes and drops it at once). */
function noNodeIsUp(): boolean {
  return spawnSync('flock', ['-n', NODE_LOCK, 'true']).status === 0;
}

/**
 * The host's "before", taken only while no other real node is up: a snapshot taken while another
 * run's node was up (a manual run next to CI) listed that node's processes and mounts as the
 * baseline, and the comparison after our own node went down reported them as gone — or, the other
 * way round, blamed us for its leftovers. Waits for the lock to be free before and after the
 * snapshot, so a node that came up during it is seen.
 */
export async function captureHostStateWithNoNodeUp(dirs: string[] = [], timeoutMs = 20 * 60_000): Promise<HostState> {
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    if (noNodeIsUp()) {
      const state = captureHostState(dirs);
      if (noNodeIsUp()) return state;
    }
    if (Date.now() > deadline)
      throw new Error(
        `another real node held ${NODE_LOCK} for ${Math.round(timeoutMs / 60_000)} min: stop it (scripts/kube/down.sh <dir>) before running the real-node tests`,
      );
    if (!said) {
      process.stderr.write(
        `[kube] another real node is up (${NODE_LOCK}); waiting for it before taking the host's snapshot\n`,
      );
      said = true;
    }
    await sleep(2000);
  }
}

/** Every way `after` differs from `before`, in words; empty when the host is as it was. */
export function hostChanges(before: HostState, after: HostState): string[] {
  const changes: string[] = [];
  for (const [name, value] of Object.entries(before.sysctls)) {
    if (after.sysctls[name] !== value) changes.push(`sysctl ${name} is ${after.sysctls[name]}, was ${value}`);
  }
  const added = (what: string, a: string[], b: string[]): void => {
    for (const x of b) if (!a.includes(x)) changes.push(`${what} left behind: ${x}`);
  };
  added('path', before.paths, after.paths);
  added('cgroup', before.cgroups, after.cgroups);
  added('iptables chain', before.chains, after.chains);
  added('mount', before.mounts, after.mounts);
  added('process', before.processes, after.processes);
  for (const p of before.paths) if (!after.paths.includes(p)) changes.push(`path removed that was there before: ${p}`);
  return changes;
}
