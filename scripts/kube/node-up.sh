#!/usr/bin/env bash
# Adds a real node to the control plane that `up.sh DIR` started: containerd + runc (Debian
# packages) and a kubelet v1.36.3 (setup.sh), registered as node "127.0.0.1", with the local
# images of images.sh imported (no registry). Everything it changes on the host is recorded in
# DIR/node/host-before.env so that node-down.sh (called by down.sh) puts the host back.
#
# Usage: scripts/kube/node-up.sh DIR        (as root, after scripts/kube/up.sh DIR)
#
# Produces DIR/node/: containerd.toml, kubelet.yaml, kubelet.kubeconfig, cni/ (loopback conflist),
# containerd/ (root, state), kubelet/ (root dir), pods-logs/, pids ("containerd PID", "kubelet PID"),
# env (NODE_NAME, KUBELET_PORT, KUBELET_HEALTHZ_PORT, CONTAINERD_SOCK, *_IMAGE), *.log.
#
# One real node per machine at a time: a second node-up.sh waits on $KUBE_NODE_LOCK. The
# kubelet listens on free loopback ports (never 10250/10248: kwok's nodes say 10250 and the
# kwok-based tests rely on nothing answering there).
#
# Tunables: K6HA_KUBE_TIMEOUT_SECONDS (90), K6HA_KUBE_SYNC_FREQUENCY (10s).
set -euo pipefail

# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 && -n "$1" ]] || kube_die "usage: $0 DIR (after scripts/kube/up.sh DIR)"
[[ -s "$1/env" && -s "$1/kubeconfig" ]] || kube_die "$1 has no running control plane: run scripts/kube/up.sh $1 first"
DIR="$(cd "$1" && pwd)"
NODE="$DIR/node"
TIMEOUT="${K6HA_KUBE_TIMEOUT_SECONDS:-90}"
SYNC_FREQUENCY="${K6HA_KUBE_SYNC_FREQUENCY:-10s}"

# --- prerequisites (exit 3: a missing tool, with the line that installs it) ------------------
missing_tool() { printf '[kube] ERROR: %s\n' "$*" >&2; exit 3; }
[[ "$(id -u)" == 0 ]] || missing_tool "a real kubelet needs root (cgroups, mounts, containers): run as root (sudo -E npm test)"
for t in containerd ctr runc; do
  command -v "$t" >/dev/null || missing_tool "$t not found: apt-get install -y containerd runc containernetworking-plugins"
done
[[ -x "$CNI_BIN_DIR/loopback" ]] || missing_tool "the CNI loopback plugin is not in $CNI_BIN_DIR: apt-get install -y containernetworking-plugins"
[[ -x "$KUBELET" ]] || missing_tool "the kubelet is not built: run scripts/kube/setup.sh (builds $KUBELET)"
grep -q ' /sys/fs/cgroup/memory ' /proc/self/mountinfo || grep -q ' - cgroup2 ' /proc/self/mountinfo \
  || missing_tool "no cgroup hierarchy is mounted under /sys/fs/cgroup"
# shellcheck disable=SC1091
source "$DIR/env"

mkdir -p "$KUBE_TOOLS_DIR"
exec 8>"$KUBE_NODE_LOCK"
if ! flock -n 8; then
  kube_log "another real node is up on this machine (lock $KUBE_NODE_LOCK); waiting for it to go"
  flock 8
fi

if [[ -s "$NODE/pids" ]]; then
  while read -r name pid; do
    kill -0 "$pid" 2>/dev/null && kube_die "a node is already running in $NODE ($name pid $pid); run scripts/kube/down.sh $DIR first"
  done <"$NODE/pids"
fi
rm -rf "$NODE"; mkdir -p "$NODE"
: >"$NODE/pids"
T0=$(date +%s.%N)

FAILED=""
on_exit() {
  local rc=$?
  if ((rc != 0)); then
    if [[ -n "$FAILED" && -f "$NODE/$FAILED.log" ]]; then
      echo "----- last lines of $NODE/$FAILED.log -----" >&2; tail -n 40 "$NODE/$FAILED.log" >&2 || true; echo "-----" >&2
    fi
    kube_log "node startup failed; taking down what was started"
    "$KUBE_SCRIPTS_DIR/node-down.sh" "$DIR" >&2 || true
  fi
}
trap on_exit EXIT

# --- what the host looks like before (node-down.sh restores it) ------------------------------
{
  for s in "${KUBE_NODE_SYSCTLS[@]}"; do printf 'SYSCTL %s %s\n' "$s" "$(sysctl -n "$s")"; done
  for p in "${KUBE_NODE_HOST_PATHS[@]}"; do [[ -e "$p" ]] && printf 'EXISTED %s\n' "$p"; done
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for c in $("$ipt" -w 5 -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do printf 'CHAIN %s %s\n' "$ipt" "$c"; done
  done
} >"$NODE/host-before"

# --- images (no registry) ---------------------------------------------------------------------
"$KUBE_SCRIPTS_DIR/images.sh" >"$NODE/images.log" 2>&1 || { cat "$NODE/images.log" >&2; kube_die "images.sh failed"; }
# shellcheck disable=SC1091
source "$KUBE_TOOLS_DIR/images/images.env"

# --- containerd -------------------------------------------------------------------------------
SOCK="$NODE/containerd/containerd.sock"
mkdir -p "$NODE/containerd" "$NODE/cni"
echo '{"cniVersion":"0.4.0","name":"lo","plugins":[{"type":"loopback"}]}' >"$NODE/cni/10-loopback.conflist"
# restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, the sandbox's oom_score_adj -998 can
# not be written and runc fails every sandbox ("can't get final child's PID from pipe: EOF").
containerd config default | sed \
  -e "s#^root = .*#root = \"$NODE/containerd/root\"#" \
  -e "s#^state = .*#state = \"$NODE/containerd/state\"#" \
  -e "s#^  address = \"/run/containerd/containerd.sock\"#  address = \"$SOCK\"#" \
  -e "s#restrict_oom_score_adj = false#restrict_oom_score_adj = true#" \
  -e "s#sandbox_image = .*#sandbox_image = \"$PAUSE_IMAGE\"#" \
  -e "s#bin_dir = \"/opt/cni/bin\"#bin_dir = \"$CNI_BIN_DIR\"#" \
  -e "s#conf_dir = \"/etc/cni/net.d\"#conf_dir = \"$NODE/cni\"#" \
  >"$NODE/containerd.toml"
grep -q "address = \"$SOCK\"" "$NODE/containerd.toml" || kube_die "could not set the grpc address in $NODE/containerd.toml"

start() { # start NAME ARGS... (own session, log in NODE/NAME.log, "NAME PID" in NODE/pids)
  local name=$1; shift
  FAILED=$name
  kube_log "starting $name"
  setsid "$@" >"$NODE/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$NODE/pids"
  eval "PID_$name=$!"
}
wait_for() { # wait_for NAME WHAT CMD...
  local name=$1 what=$2; shift 2
  local pid="PID_$name" deadline=$(( $(date +%s) + TIMEOUT ))
  FAILED=$name
  until "$@" >/dev/null 2>&1; do
    kill -0 "${!pid}" 2>/dev/null || kube_die "$name exited while waiting for $what"
    (( $(date +%s) < deadline )) || kube_die "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.2
  done
}
CTR=(ctr --address "$SOCK" -n k8s.io)

start containerd containerd --config "$NODE/containerd.toml"
wait_for containerd "containerd on $SOCK" ctr --address "$SOCK" version
for tar in "$PAUSE_TAR" "$NATS_TAR" "$PROBE_TAR" "$VERSITYGW_TAR" ${STAN_TAR:+"$STAN_TAR"}; do
  "${CTR[@]}" images import "$tar" >>"$NODE/images.log" 2>&1 || kube_die "ctr images import $tar failed (see $NODE/images.log)"
done

# --- kubelet ----------------------------------------------------------------------------------
CERTS="$DIR/certs"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$NODE/kubelet-client.key" 2>/dev/null
openssl req -new -key "$NODE/kubelet-client.key" -subj "/O=system:masters/CN=system:node:$KUBE_NODE_NAME" \
  -out "$NODE/kubelet-client.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$NODE/kubelet-client.ext"
openssl x509 -req -in "$NODE/kubelet-client.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -CAcreateserial \
  -sha256 -days 3650 -extfile "$NODE/kubelet-client.ext" -out "$NODE/kubelet-client.crt" 2>/dev/null \
  || kube_die "could not sign the kubelet's client certificate"
rm -f "$NODE/kubelet-client.csr" "$NODE/kubelet-client.ext"
cat >"$NODE/kubelet.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: $KUBE_CONTEXT
  cluster: { server: "$KUBE_API_URL", certificate-authority: "$CERTS/ca.crt" }
users:
- name: kubelet
  user: { client-certificate: "$NODE/kubelet-client.crt", client-key: "$NODE/kubelet-client.key" }
contexts:
- name: $KUBE_CONTEXT
  context: { cluster: $KUBE_CONTEXT, user: kubelet }
current-context: $KUBE_CONTEXT
KUBECONFIG

# Free ports below the ephemeral range, as up.sh picks them (never 10250/10248).
read -r EPH_LO _ </proc/sys/net/ipv4/ip_local_port_range
port_free() { [[ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]] && (( $1 != 10250 && $1 != 10248 )); }
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 10000 + RANDOM % (EPH_LO - 10000) ))
    port_free "$p" && { echo "$p"; return; }
  done
  kube_die "no free port below $EPH_LO"
}
KUBELET_PORT="$(pick_port)"
KUBELET_HEALTHZ_PORT="$(pick_port)"
[[ "$KUBELET_PORT" != "$KUBELET_HEALTHZ_PORT" ]] || KUBELET_HEALTHZ_PORT="$(pick_port)"

mkdir -p "$NODE/kubelet" "$NODE/kubelet-pki" "$NODE/pods-logs" "$NODE/volume-plugins"
cat >"$NODE/kubelet.yaml" <<YAML
# Generated by scripts/kube/node-up.sh (see ../shared note real-kubelet.md for why each line).
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
imageServiceEndpoint: unix://$SOCK
address: 127.0.0.1
port: $KUBELET_PORT
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
readOnlyPort: 0
authentication:
  anonymous: { enabled: true }
  webhook: { enabled: false }
authorization: { mode: AlwaysAllow }
failSwapOn: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeLeaseDurationSeconds: 8
nodeStatusUpdateFrequency: 2s
syncFrequency: $SYNC_FREQUENCY
podLogsDir: $NODE/pods-logs
volumePluginDir: $NODE/volume-plugins
serializeImagePulls: false
evictionHard: { memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
resolvConf: /etc/resolv.conf
YAML
start kubelet "$KUBELET" \
  --config "$NODE/kubelet.yaml" \
  --kubeconfig "$NODE/kubelet.kubeconfig" \
  --hostname-override "$KUBE_NODE_NAME" \
  --root-dir "$NODE/kubelet" \
  --cert-dir "$NODE/kubelet-pki" \
  --v=2
node_ready() {
  [[ "$("$KUBECTL" --kubeconfig "$DIR/kubeconfig" get node "$KUBE_NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
wait_for kubelet "node $KUBE_NODE_NAME Ready" node_ready
FAILED=""

cat >"$NODE/env" <<ENV
NODE_NAME=$KUBE_NODE_NAME
KUBELET_PORT=$KUBELET_PORT
KUBELET_HEALTHZ_PORT=$KUBELET_HEALTHZ_PORT
CONTAINERD_SOCK=$SOCK
PAUSE_IMAGE=$PAUSE_IMAGE
NATS_IMAGE=$NATS_IMAGE
PROBE_IMAGE=$PROBE_IMAGE
VERSITYGW_IMAGE=$VERSITYGW_IMAGE
STAN_IMAGE=${STAN_IMAGE:-}
ENV
kube_log "node $KUBE_NODE_NAME Ready in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s (kubelet :$KUBELET_PORT, containerd $SOCK)"
