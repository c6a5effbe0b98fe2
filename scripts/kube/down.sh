#!/usr/bin/env bash
# Stops everything scripts/kube/up.sh DIR started (reverse order, whole process
# groups, SIGTERM then SIGKILL). Safe to run twice, and on a half-started DIR.
#
# Usage: scripts/kube/down.sh DIR           stop; keep DIR (logs, etcd data, certs)
#        scripts/kube/down.sh DIR --purge   stop, then delete DIR (only if up.sh made it)
set -euo pipefail

# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 1 && -n "$1" ]] || kube_die "usage: $0 DIR [--purge]"
PURGE=false
[[ "${2:-}" == --purge ]] && PURGE=true
if [[ ! -d "$1" ]]; then
  kube_log "$1 does not exist; nothing to stop"
  exit 0
fi
DIR="$(cd "$1" && pwd)"
GRACE_SECONDS="${K6HA_KUBE_STOP_GRACE_SECONDS:-10}"

# Only signal a PID if it is still one of ours: its command line mentions DIR
# (every component gets DIR-based paths as arguments), guarding against PID reuse.
ours() {
  local pid=$1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR"
}
group_alive() { kill -0 -- "-$1" 2>/dev/null; }

NAMES=(); PIDS=()
if [[ -f "$DIR/pids" ]]; then
  while read -r name pid; do
    [[ -n "${pid:-}" ]] || continue
    NAMES+=("$name"); PIDS+=("$pid")
  done <"$DIR/pids"
fi

# Reverse start order: watchdog, kwok, scheduler, controller-manager, apiserver, etcd.
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
  name=${NAMES[$i]}; pid=${PIDS[$i]}
  if ours "$pid"; then
    kube_log "stopping $name (process group $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(date +%s) + GRACE_SECONDS ))
    while group_alive "$pid" && (( $(date +%s) < deadline )); do sleep 0.2; done
    if group_alive "$pid"; then
      kube_log "$name did not stop within ${GRACE_SECONDS}s; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  elif group_alive "$pid"; then
    # The leader is gone (or is not ours) but its group may have children left.
    leftovers=$(ps -o pid= -g "$pid" 2>/dev/null | while read -r p; do ours "$p" && echo "$p"; done || true)
    if [[ -n "$leftovers" ]]; then
      kube_log "killing leftover processes of $name: $(echo $leftovers)"
      kill -KILL $leftovers 2>/dev/null || true
    fi
  fi
done

# Belt and braces: any process running one of our binaries (.tools/kube/...)
# with DIR in its command line.
sleep 0.2
TOOLS_REAL="$(cd "$KUBE_TOOLS_DIR" 2>/dev/null && pwd -P || echo "$KUBE_TOOLS_DIR")"
stray=""
for p in $(ps -eo pid=); do
  exe="$(readlink "/proc/$p/exe" 2>/dev/null || true)"
  [[ "$exe" == "$TOOLS_REAL"/* || "$exe" == "$KUBE_TOOLS_DIR"/* ]] && ours "$p" && stray+=" $p"
done
if [[ -n "$stray" ]]; then
  kube_log "killing stray processes:$stray"
  kill -KILL $stray 2>/dev/null || true
fi
rm -f "$DIR/pids"

if $PURGE; then
  if [[ -f "$DIR/.k6-ha-kube" ]]; then
    rm -rf -- "$DIR"
    kube_log "stopped and removed $DIR"
  else
    kube_log "stopped; NOT removing $DIR (no .k6-ha-kube marker, not created by up.sh)"
  fi
else
  kube_log "stopped (logs and data kept in $DIR)"
fi
