#!/usr/bin/env bash
# Builds (from the Go module proxy only) the binaries of a real Kubernetes
# control plane for integration tests, cached under .tools/kube/:
#
#   .tools/kube/kubernetes-<v>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
#   .tools/kube/etcd-<v>/bin/etcd
#   .tools/kube/kwok-<v>/bin/kwok  + .tools/kube/kwok-<v>/stages.yaml
#
# Idempotent: a component is skipped when its versioned directory is complete.
#
# Usage: scripts/kube/setup.sh            build whatever is missing
#        scripts/kube/setup.sh --check    only report; exit 1 if anything is missing
#        scripts/kube/setup.sh --force    rebuild everything
set -euo pipefail

# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=build
case "${1:-}" in
  "") ;;
  --check) MODE=check ;;
  --force) MODE=force ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) kube_die "unknown argument: $1 (expected --check, --force or nothing)" ;;
esac

if [[ $MODE == check ]]; then
  if missing=$(kube_missing_files); then
    kube_log "all binaries present (kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
    exit 0
  fi
  printf '[kube] missing: %s\n' $missing >&2
  printf '[kube] run scripts/kube/setup.sh to build them\n' >&2
  exit 1
fi

# --- prerequisites ------------------------------------------------------------
if ! command -v go >/dev/null 2>&1; then
  kube_die "the 'go' command was not found in PATH. Install Go >= $GO_MIN_VERSION (https://go.dev/dl/) and re-run scripts/kube/setup.sh"
fi
GO_VERSION="$(go env GOVERSION)"   # e.g. go1.26.8
if [[ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "${GO_VERSION#go}" | sort -V | head -n1)" != "$GO_MIN_VERSION" ]]; then
  kube_die "$GO_VERSION is too old: kubernetes $K8S_VERSION, etcd $ETCD_VERSION and kwok $KWOK_VERSION need Go >= $GO_MIN_VERSION"
fi

mkdir -p "$KUBE_TOOLS_DIR"
exec 9>"$KUBE_TOOLS_DIR/.setup.lock"
if ! flock -n 9; then
  kube_log "another setup.sh is running; waiting for it to finish..."
  flock 9
fi

SRC_DIR="$KUBE_TOOLS_DIR/src"
LDFLAGS_BASE="-s -w"
export GOFLAGS="${GOFLAGS:-} -trimpath"
# Static binaries (as upstream release builds): no libc dependency, portable caches.
export CGO_ENABLED="${CGO_ENABLED:-0}"
kube_log "using $GO_VERSION, GOPROXY=$GOPROXY, CGO_ENABLED=$CGO_ENABLED, GOMODCACHE=$(go env GOMODCACHE)"

# done_marker DIR -> path of the marker that says DIR was built completely
done_marker() { echo "$1/.complete"; }

needs_build() { # needs_build DIR [files...]
  local dir=$1; shift
  [[ $MODE == force ]] && return 0
  [[ -f "$(done_marker "$dir")" ]] || return 0
  local f
  for f in "$@"; do [[ -x "$f" || -s "$f" ]] || return 0; done
  return 1
}

elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# Returns a path inside the module cache (field = GoMod | Dir) for module@version.
mod_path() { # mod_path FIELD MODULE@VERSION
  local json
  if ! json="$(go mod download -json "$2" 2>&1)"; then
    kube_die "cannot download $2 from $GOPROXY:
$json"
  fi
  local err
  err="$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  [[ -z "$err" ]] || kube_die "cannot download $2 from $GOPROXY: $err"
  sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" <<<"$json"
}

# --- kubernetes ------------------------------------------------------------------
# k8s.io/kubernetes replaces every k8s.io/<staging> module with ./staging/src/...,
# so `go install k8s.io/kubernetes/cmd/...@v` refuses to build it. We write a
# wrapper module that requires k8s.io/kubernetes and replaces every staging module
# with the published k8s.io/<module> $K8S_STAGING_VERSION instead.
# k8s_build LABEL OUT_DIR SRC_NAME PKG... : writes the wrapper module to $SRC_DIR/SRC_NAME, then
# `go get PKG...@$K8S_VERSION` and one `go build -o OUT_DIR/bin/ PKG...`, with the version stamped.
k8s_build() {
  local label=$1 out_dir=$2 src_name=$3; shift 3
  local pkgs=("$@")
  local t0; t0=$(date +%s)
  kube_log "$label $K8S_VERSION: preparing wrapper module"
  local k8s_gomod; k8s_gomod="$(mod_path GoMod "k8s.io/kubernetes@$K8S_VERSION")"
  [[ -s "$k8s_gomod" ]] || kube_die "no go.mod for k8s.io/kubernetes@$K8S_VERSION"

  # Staging modules: replaced with ./staging/... AND required as v0.0.0.
  # (k8s.io/sample-cli-plugin is replaced but not required; its published
  # version answers 403 on the proxy, so only replace what is required.)
  local staging required mods=()
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$k8s_gomod" | sort -u)"
  required="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) v0\.0\.0\([[:space:]].*\)\{0,1\}$#\1#p' "$k8s_gomod" | sort -u)"
  mapfile -t mods < <(comm -12 <(echo "$staging") <(echo "$required"))
  ((${#mods[@]} > 0)) || kube_die "found no staging modules in $k8s_gomod"
  kube_log "$label $K8S_VERSION: replacing ${#mods[@]} staging modules with $K8S_STAGING_VERSION"

  local src="$SRC_DIR/$src_name"
  rm -rf "$src"; mkdir -p "$src"
  {
    echo "// Generated by scripts/kube/setup.sh: builds k8s.io/kubernetes $K8S_VERSION from the module proxy."
    echo "module k6ha.local/kube-build"
    echo
    echo "go $GO_MIN_VERSION"
    echo
    # The main module's godebug wins; kubernetes declares "godebug default=go1.26".
    sed -n 's/^godebug /godebug /p' "$k8s_gomod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    local m; for m in "${mods[@]}"; do echo "	$m => $m $K8S_STAGING_VERSION"; done
    echo ")"
  } >"$src/go.mod"

  kube_log "$label $K8S_VERSION: resolving dependencies (go get)"
  (cd "$src" && go get "${pkgs[@]/%/@$K8S_VERSION}") || kube_die "go get failed in $src"

  local build_date
  build_date="$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' "${k8s_gomod%.mod}.info" 2>/dev/null || true)"
  build_date="${build_date:-1970-01-01T00:00:00Z}"
  local major minor
  major="$(cut -d. -f1 <<<"${K8S_VERSION#v}")"; minor="$(cut -d. -f2 <<<"$K8S_VERSION")"
  local ldflags="$LDFLAGS_BASE" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitCommit=unknown -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
  done

  local tmp="$out_dir/bin.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  kube_log "$label $K8S_VERSION: compiling ${pkgs[*]##*/} (slow on a cold cache)"
  (cd "$src" && go build -ldflags="$ldflags" -o "$tmp/" "${pkgs[@]}") || kube_die "go build of $label $K8S_VERSION failed"
  rm -rf "$out_dir/bin"; mv "$tmp" "$out_dir/bin"
  echo "$label $K8S_VERSION staging $K8S_STAGING_VERSION $GO_VERSION" >"$(done_marker "$out_dir")"
  kube_log "$label $K8S_VERSION: built in $(elapsed "$t0") -> $out_dir/bin"
}

build_kubernetes() {
  local out_dir="$KUBE_TOOLS_DIR/kubernetes-$K8S_VERSION"
  if ! needs_build "$out_dir" "$KUBE_APISERVER" "$KUBE_CONTROLLER_MANAGER" "$KUBE_SCHEDULER" "$KUBECTL"; then
    kube_log "kubernetes $K8S_VERSION: already built in $K8S_BIN_DIR (skipping)"
    return
  fi
  k8s_build kubernetes "$out_dir" "kubernetes-$K8S_VERSION" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
}

# The kubelet of the real node (node-up.sh): the same wrapper module plus cmd/kubelet (go get adds
# 3 modules), built on its own so that a control plane already in .tools is left alone. Pinned to
# v1.36: containerd 1.6 (Debian bookworm) lacks the CRI RuntimeConfig RPC and 1.36 is the last
# kubelet that falls back to the cgroupDriver of its config.
build_kubelet() {
  if ! needs_build "$KUBELET_DIR" "$KUBELET"; then
    kube_log "kubelet $K8S_VERSION: already built in $KUBELET_DIR/bin (skipping)"
    return
  fi
  k8s_build kubelet "$KUBELET_DIR" "kubelet-$K8S_VERSION" k8s.io/kubernetes/cmd/kubelet
}

# --- etcd -------------------------------------------------------------------------
# go.etcd.io/etcd/server/v3 is the etcd main package, but its go.mod replaces
# api/client/pkg with ../ paths, so `go install` refuses it as well. The wrapper
# module needs no replace: server's go.mod already requires those at $ETCD_VERSION.
build_etcd() {
  local out_dir="$KUBE_TOOLS_DIR/etcd-$ETCD_VERSION"
  if ! needs_build "$out_dir" "$ETCD"; then
    kube_log "etcd $ETCD_VERSION: already built in $ETCD_BIN_DIR (skipping)"
    return
  fi
  local t0; t0=$(date +%s)
  local src="$SRC_DIR/etcd-$ETCD_VERSION"
  rm -rf "$src"; mkdir -p "$src"
  cat >"$src/go.mod" <<GOMOD
// Generated by scripts/kube/setup.sh: builds etcd $ETCD_VERSION from the module proxy.
module k6ha.local/etcd-build

go $GO_MIN_VERSION

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  kube_log "etcd $ETCD_VERSION: resolving dependencies (go get)"
  (cd "$src" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION") || kube_die "go get failed in $src"
  local tmp="$out_dir/bin.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  kube_log "etcd $ETCD_VERSION: compiling"
  (cd "$src" && go build -ldflags="$LDFLAGS_BASE -X go.etcd.io/etcd/api/v3/version.GitSHA=proxy" \
      -o "$tmp/etcd" go.etcd.io/etcd/server/v3) || kube_die "go build of etcd $ETCD_VERSION failed"
  rm -rf "$ETCD_BIN_DIR"; mv "$tmp" "$ETCD_BIN_DIR"
  echo "etcd $ETCD_VERSION $GO_VERSION" >"$(done_marker "$out_dir")"
  kube_log "etcd $ETCD_VERSION: built in $(elapsed "$t0") -> $ETCD_BIN_DIR"
}

# --- kwok -------------------------------------------------------------------------
# sigs.k8s.io/kwok has no replace directives: plain `go install` works.
build_kwok() {
  local out_dir="$KWOK_DIR"
  if ! needs_build "$out_dir" "$KWOK"; then
    kube_log "kwok $KWOK_VERSION: already built in $KWOK_BIN_DIR (skipping)"
    return
  fi
  local t0; t0=$(date +%s)
  local tmp="$out_dir/bin.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  kube_log "kwok $KWOK_VERSION: compiling (go install)"
  (cd "$out_dir" && GOBIN="$tmp" go install -ldflags="$LDFLAGS_BASE" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") \
    || kube_die "go install sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION failed"
  rm -rf "$KWOK_BIN_DIR"; mv "$tmp" "$KWOK_BIN_DIR"
  echo "kwok $KWOK_VERSION $GO_VERSION" >"$(done_marker "$out_dir")"
  kube_log "kwok $KWOK_VERSION: built in $(elapsed "$t0") -> $KWOK_BIN_DIR"
}

# Standalone kwok (unlike kwokctl) has no built-in stages: without --config it
# exits with "no stages found". We assemble kwokctl's default set from the module
# source (node-initialize, node-heartbeat-with-lease, pod-ready, pod-complete,
# pod-delete) plus the label-gated chaos stages (inactive unless a Node/Pod
# carries the label, see README).
KWOK_STAGE_FILES=(
  kustomize/stage/node/fast/node-initialize.yaml
  kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  kustomize/stage/node/chaos/node-not-ready.yaml
  kustomize/stage/pod/fast/pod-ready.yaml
  kustomize/stage/pod/fast/pod-complete.yaml
  kustomize/stage/pod/fast/pod-delete.yaml
  kustomize/stage/pod/chaos/pod-container-running-failed.yaml
)
build_kwok_stages() {
  local stamp="$KWOK_DIR/.stages" want="$KWOK_VERSION ${KWOK_STAGE_FILES[*]}"
  if [[ $MODE != force && -s "$KWOK_STAGES_FILE" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    kube_log "kwok $KWOK_VERSION: stages.yaml up to date (skipping)"
    return
  fi
  local kwok_src; kwok_src="$(mod_path Dir "sigs.k8s.io/kwok@$KWOK_VERSION")"
  local f
  mkdir -p "$KWOK_DIR"
  {
    echo "# Generated by scripts/kube/setup.sh from sigs.k8s.io/kwok@$KWOK_VERSION (kustomize/stage)."
    for f in "${KWOK_STAGE_FILES[@]}"; do
      [[ -s "$kwok_src/$f" ]] || kube_die "missing $f in $kwok_src"
      echo "---"
      echo "# $f"
      grep -v '^---[[:space:]]*$' "$kwok_src/$f"
    done
  } >"$KWOK_STAGES_FILE.tmp"
  mv "$KWOK_STAGES_FILE.tmp" "$KWOK_STAGES_FILE"
  echo "$want" >"$stamp"
  kube_log "kwok $KWOK_VERSION: wrote $KWOK_STAGES_FILE (${#KWOK_STAGE_FILES[@]} stages)"
}

T0=$(date +%s)
build_kwok
build_kwok_stages
build_etcd
build_kubernetes
build_kubelet
if missing=$(kube_missing_files); then
  kube_log "done in $(elapsed "$T0"): kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION in $KUBE_TOOLS_DIR"
else
  kube_die "setup finished but files are still missing: $missing"
fi
