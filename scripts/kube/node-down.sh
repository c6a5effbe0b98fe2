#!/usr/bin/env bash
# Takes down the real node node-up.sh DIR started and puts the host back as node-up.sh found it,
# in the order that leaves nothing behind: delete the workloads and wait for their pods to go ->
# SIGTERM the kubelet -> kill and remove leftover containerd tasks and containers -> SIGTERM
# containerd (and any shim left) -> unmount what is left under DIR (deepest first) -> remove the
# kubepods cgroup trees depth first -> restore the sysctls -> delete the KUBE-* iptables chains
# (v4, v6) the kubelet made -> remove the host directories that did not exist before.
# Safe to run twice and on a half-started node. down.sh DIR calls it first.
#
# Usage: scripts/kube/node-down.sh DIR
set -uo pipefail

# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 && -n "$1" ]] || kube_die "usage: $0 DIR"
[[ -d "$1/node" ]] || exit 0
DIR="$(cd "$1" && pwd)"
NODE="$DIR/node"
T0=$(date +%s)
SOCK="$NODE/containerd/containerd.sock"

pid_of() { sed -n "s/^$1 \([0-9]*\)$/\1/p" "$NODE/pids" 2>/dev/null | tail -n1; }
ours() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$NODE"; }
# stop PID GRACE : SIGTERM (and SIGCONT), SIGKILL after GRACE seconds
stop() {
  local pid=$1 grace=$2 name=$3
  [[ -n "$pid" ]] && ours "$pid" || return 0
  kube_log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null; kill -CONT "$pid" 2>/dev/null
  local deadline=$(( $(date +%s) + grace ))
  while kill -0 "$pid" 2>/dev/null; do
    if (( $(date +%s) >= deadline )); then kube_log "$name did not stop in ${grace}s: SIGKILL"; kill -KILL "$pid" 2>/dev/null; sleep 0.2; break; fi
    sleep 0.1
  done
}

KUBELET_PID="$(pid_of kubelet)"
CONTAINERD_PID="$(pid_of containerd)"

# 1. workloads first, so that the kubelet stops the containers itself (preStop, grace periods).
if [[ -n "$KUBELET_PID" ]] && kill -0 "$KUBELET_PID" 2>/dev/null && [[ -s "$DIR/kubeconfig" ]]; then
  K=("$KUBECTL" --kubeconfig "$DIR/kubeconfig" --request-timeout 10s)
  for ns in $("${K[@]}" get ns -o jsonpath='{.items[*].metadata.name}' 2>/dev/null); do
    case "$ns" in kube-system|kube-public|kube-node-lease) continue ;; esac
    "${K[@]}" -n "$ns" delete statefulsets,deployments,replicasets,daemonsets,jobs --all --wait=false >/dev/null 2>&1
  done
  "${K[@]}" delete pods -A --field-selector "spec.nodeName=$KUBE_NODE_NAME" --wait=false >/dev/null 2>&1
  deadline=$(( $(date +%s) + ${K6HA_KUBE_NODE_DRAIN_SECONDS:-40} ))
  while [[ -n "$("${K[@]}" get pods -A --field-selector "spec.nodeName=$KUBE_NODE_NAME" -o name 2>/dev/null)" ]]; do
    if (( $(date +%s) >= deadline )); then
      kube_log "pods still on the node after ${K6HA_KUBE_NODE_DRAIN_SECONDS:-40}s; going on (containers are killed below)"
      break
    fi
    sleep 0.5
  done
fi

# 2. the kubelet
stop "$KUBELET_PID" 15 kubelet

# 3. containerd's tasks and containers (sandboxes too) that are left
if [[ -S "$SOCK" ]] && ctr --address "$SOCK" version >/dev/null 2>&1; then
  CTR=(ctr --address "$SOCK" -n k8s.io)
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
    "${CTR[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1
    "${CTR[@]}" tasks delete -f "$t" >/dev/null 2>&1
  done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers rm "$c" >/dev/null 2>&1; done
fi

# 4. containerd, then any shim or container process of ours still there
stop "$CONTAINERD_PID" 15 containerd
for p in $(ps -eo pid=); do
  exe="$(readlink "/proc/$p/exe" 2>/dev/null)" || continue
  case "$exe" in
    */containerd-shim*|*/runc|*/containerd|"$KUBELET") ours "$p" && { kube_log "killing leftover $exe (pid $p)"; kill -KILL "$p" 2>/dev/null; } ;;
  esac
done
sleep 0.2

# 5. mounts under DIR (and the kubelet's and containerd's own), deepest first
umount_under() {
  local prefix=$1 m
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep -F -- "$prefix" | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || kube_log "could not unmount $m"
  done
}
umount_under "$NODE/"
umount_under "$NODE"

# 6. the kubepods cgroup trees, depth first (all their processes are gone by now)
for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods.slice; do
  [[ -d "$root" ]] || continue
  find "$root" -depth -type d -exec rmdir {} + 2>/dev/null
  [[ -d "$root" ]] && kube_log "could not remove cgroup $root (processes left: $(cat "$root"/cgroup.procs 2>/dev/null | wc -l))"
done

BEFORE="$NODE/host-before"
if [[ -s "$BEFORE" ]]; then
  # 7. sysctls back to what they were
  while read -r kind a b; do
    [[ "$kind" == SYSCTL ]] || continue
    [[ "$(sysctl -n "$a" 2>/dev/null)" == "$b" ]] || sysctl -qw "$a=$b" || kube_log "could not restore $a=$b"
  done <"$BEFORE"
  # 8. KUBE-* chains that were not there before, in every table (flush first, then delete)
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle; do
      for c in $("$ipt" -w 5 -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
        grep -qxF "CHAIN $ipt $c" "$BEFORE" && continue
        # rules in other chains that jump to it
        "$ipt" -w 5 -t "$table" -S 2>/dev/null | grep -- "-j $c\$" | grep -v "^-A $c " | sed 's/^-A /-D /' | while read -r rule; do
          # shellcheck disable=SC2086
          "$ipt" -w 5 -t "$table" $rule 2>/dev/null
        done
        "$ipt" -w 5 -t "$table" -F "$c" 2>/dev/null
      done
      for c in $("$ipt" -w 5 -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
        grep -qxF "CHAIN $ipt $c" "$BEFORE" && continue
        "$ipt" -w 5 -t "$table" -X "$c" 2>/dev/null || kube_log "could not delete $ipt -t $table chain $c"
      done
    done
  done
  # 9. host directories that did not exist before (deepest first: device-plugins before /var/lib/kubelet)
  for p in "${KUBE_NODE_HOST_PATHS[@]}"; do
    [[ -e "$p" ]] || continue
    grep -qxF "EXISTED $p" "$BEFORE" && continue
    umount_under "$p/"
    rm -rf -- "$p" || kube_log "could not remove $p"
  done
fi
rm -f "$NODE/pids"
kube_log "node $KUBE_NODE_NAME down in $(( $(date +%s) - T0 ))s; host restored"
