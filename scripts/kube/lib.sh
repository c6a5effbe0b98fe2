# shellcheck shell=bash disable=SC2034
# Shared settings for scripts/kube/*.sh. Source it, do not execute it.
#
# Pinned versions. Every one of these was probed against proxy.golang.org
# (some versions answer "403 This module version is not available").
K8S_VERSION="v1.36.3"          # k8s.io/kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)
K8S_STAGING_VERSION="v0.36.3"  # k8s.io/{api,apimachinery,client-go,...} matching K8S_VERSION
ETCD_VERSION="v3.6.16"         # go.etcd.io/etcd/server/v3
KWOK_VERSION="v0.8.0"          # sigs.k8s.io/kwok
GO_MIN_VERSION="1.26.0"        # all three modules declare "go 1.26.0"

KUBE_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_REPO_ROOT="$(cd "$KUBE_SCRIPTS_DIR/../.." && pwd)"
KUBE_TOOLS_DIR="${K6HA_KUBE_TOOLS_DIR:-$KUBE_REPO_ROOT/.tools/kube}"

K8S_BIN_DIR="$KUBE_TOOLS_DIR/kubernetes-$K8S_VERSION/bin"
ETCD_BIN_DIR="$KUBE_TOOLS_DIR/etcd-$ETCD_VERSION/bin"
KWOK_DIR="$KUBE_TOOLS_DIR/kwok-$KWOK_VERSION"
KWOK_BIN_DIR="$KWOK_DIR/bin"
KWOK_STAGES_FILE="$KWOK_DIR/stages.yaml"

KUBE_APISERVER="$K8S_BIN_DIR/kube-apiserver"
KUBE_CONTROLLER_MANAGER="$K8S_BIN_DIR/kube-controller-manager"
KUBE_SCHEDULER="$K8S_BIN_DIR/kube-scheduler"
KUBECTL="$K8S_BIN_DIR/kubectl"
ETCD="$ETCD_BIN_DIR/etcd"
KWOK="$KWOK_BIN_DIR/kwok"
# The real node (scripts/kube/node-up.sh): a kubelet from the same k8s.io/kubernetes wrapper module,
# kept in its own directory so that adding it does not rebuild (or briefly remove) the control plane.
KUBELET_DIR="$KUBE_TOOLS_DIR/kubelet-$K8S_VERSION"
KUBELET="$KUBELET_DIR/bin/kubelet"
KUBE_NODE_NAME="127.0.0.1"                 # --hostname-override: the node's name and InternalIP
CNI_BIN_DIR="${K6HA_CNI_BIN_DIR:-/usr/lib/cni}"   # Debian's containernetworking-plugins
# One real node per machine: node-up.sh takes this lock and its containerd and kubelet inherit it.
KUBE_NODE_LOCK="${K6HA_KUBE_NODE_LOCK:-/tmp/k6ha-kube-node.lock}"
# What a kubelet + containerd change on the host, and node-down.sh puts back (node-up.sh records
# the values and which of the paths existed before).
KUBE_NODE_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory)
KUBE_NODE_HOST_PATHS=(
  /var/log/containers /var/log/pods /var/lib/kubelet/device-plugins /var/lib/kubelet
  /run/containerd /var/run/netns /var/lib/cni /usr/libexec/kubernetes /var/lib/containerd
)

# Every file that must exist for up.sh to work.
KUBE_REQUIRED_FILES=(
  "$KUBE_APISERVER" "$KUBE_CONTROLLER_MANAGER" "$KUBE_SCHEDULER" "$KUBECTL"
  "$ETCD" "$KWOK" "$KWOK_STAGES_FILE" "$KUBELET"
)

# Only the Go module proxy is reachable from this network; "direct" fails.
export GOPROXY="${K6HA_GOPROXY:-https://proxy.golang.org}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

kube_log() { printf '[kube %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kube_die() { printf '[kube] ERROR: %s\n' "$*" >&2; exit 1; }

# Prints the missing files (one per line); returns 1 if any is missing.
kube_missing_files() {
  local f rc=0
  for f in "${KUBE_REQUIRED_FILES[@]}"; do
    if [[ ! -x "$f" && ! ( "$f" == *.yaml && -s "$f" ) ]]; then
      echo "$f"
      rc=1
    fi
  done
  return $rc
}
