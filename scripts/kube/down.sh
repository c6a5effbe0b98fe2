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
# A real node (node-up.sh) goes first, while the apiserver can still delete its pods.
if [[ -d "$DIR/node" ]]; then "$KUBE_SCRIPTS_DIR/node-down.sh" "$DIR" || kube_log "node-down.sh reported errors (see above)"; fi
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

# stop_groups NAME=PID... : SIGTERM all the groups at once, wait up to
# GRACE_SECONDS for all of them, then SIGKILL whatever is left.
SELF_PGID="$(ps -o pgid= $$ | tr -d ' ')"
stop_groups() {
  local entry name pid live=()
  for entry in "$@"; do
    name=${entry%%=*}; pid=${entry#*=}
    # The watchdog execs this script when its owner dies: do not kill ourselves.
    [[ "$pid" == "$$" || "$pid" == "$SELF_PGID" ]] && continue
    if ours "$pid"; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      # A test may have frozen it (kill -STOP): it must run to handle SIGTERM.
      kill -CONT -- "-$pid" 2>/dev/null || true
      live+=("$entry")
    elif group_alive "$pid"; then
      # The leader is gone (or is not ours) but its group may have children left.
      local p leftovers=""
      for p in $(ps -o pid= -g "$pid" 2>/dev/null); do ours "$p" && leftovers+=" $p"; done
      if [[ -n "$leftovers" ]]; then
        kube_log "killing leftover processes of $name:$leftovers"
        kill -KILL $leftovers 2>/dev/null || true
      fi
    fi
  done
  ((${#live[@]} > 0)) || return 0
  kube_log "stopping ${live[*]%%=*}"
  local deadline=$(( $(date +%s) + GRACE_SECONDS )) any
  while :; do
    any=false
    for entry in "${live[@]}"; do group_alive "${entry#*=}" && any=true; done
    $any || break
    if (( $(date +%s) >= deadline )); then
      for entry in "${live[@]}"; do
        if group_alive "${entry#*=}"; then
          kube_log "${entry%%=*} did not stop within ${GRACE_SECONDS}s; sending SIGKILL"
          kill -KILL -- "-${entry#*=}" 2>/dev/null || true
        fi
      done
      break
    fi
    sleep 0.1
  done
}

# The watchdog first (so it does not start a second down.sh), then every
# component at once, etcd last (the apiserver shuts down faster with etcd up).
first=(); middle=(); last=()
for ((i = 0; i < ${#PIDS[@]}; i++)); do
  case "${NAMES[$i]}" in
    watchdog) first+=("${NAMES[$i]}=${PIDS[$i]}") ;;
    etcd) last+=("${NAMES[$i]}=${PIDS[$i]}") ;;
    *) middle+=("${NAMES[$i]}=${PIDS[$i]}") ;;
  esac
done
stop_groups "${first[@]}"
stop_groups "${middle[@]}"
stop_groups "${last[@]}"

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
