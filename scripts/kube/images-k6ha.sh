#!/usr/bin/env bash
# Builds the two images a k6-operator run needs, as OCI image tarballs, without a registry or a
# container tool (like images.sh), and imports them into a running real node when DIR is given:
#
#   docker.io/local/k6:<tag>     what grafana/k6 is: the pinned .tools/bin/k6 (k6 v2.2.0, with the
#                                loader and libraries it links), HOME=/home/k6, entrypoint k6
#   docker.io/local/k6-ha:<tag>  what deploy/Dockerfile builds: the host's node (20, with its
#                                libraries) and the repository's build output at /k6-ha — build/
#                                (the bundled CLI build/k6-ha.mjs and the scenarios), package.json,
#                                deploy/, thresholds/, experiments/ and the production dependencies
#                                of node_modules (`npm ls --omit=dev`, what `npm ci --omit=dev`
#                                installs); busybox for `kubectl cp` (tar) and `kubectl exec` (sh).
#                                Entrypoint: node /k6-ha/build/k6-ha.mjs (the Dockerfile's).
#
# <tag> is the first 12 hex digits of the layer's sha256. Output: $KUBE_TOOLS_DIR/images/
# <name>-<tag>.tar and images-k6ha.env (K6_IMAGE, K6HA_IMAGE, and the tar paths). ~3 s warm.
# Needs `node scripts/build.mjs` to have run (npm test does).
#
# Usage: scripts/kube/images-k6ha.sh [DIR]   (DIR: a cluster with a real node; imports both images)
set -euo pipefail

# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

K6_BIN="${K6HA_K6_BIN:-$KUBE_REPO_ROOT/.tools/bin/k6}"
NODE_BIN="${K6HA_NODE_BIN:-$(command -v node || true)}"
BUSYBOX_BIN="${K6HA_BUSYBOX_BIN:-/bin/busybox}"
[[ -x "$K6_BIN" ]] || kube_die "k6 not found at $K6_BIN: run \`npm run setup\` (npm test does) to build the pinned one"
[[ -n "$NODE_BIN" && -x "$NODE_BIN" ]] || kube_die "node not found in PATH (the sidecar image carries the host's node)"
"$NODE_BIN" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || kube_die "node $("$NODE_BIN" --version) is too old for the sidecar image: k6-ha needs node >= 20"
[[ -s "$KUBE_REPO_ROOT/build/k6-ha.mjs" ]] || kube_die "build/k6-ha.mjs is missing: run \`npm run build\` first"
if ! [[ -x "$BUSYBOX_BIN" ]] || ! file -L "$BUSYBOX_BIN" 2>/dev/null | grep -q 'statically linked'; then
  kube_die "a static busybox is needed at $BUSYBOX_BIN: apt-get install -y busybox-static"
fi

OUT="$KUBE_TOOLS_DIR/images"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
# shellcheck source=scripts/kube/oci.sh
source "$KUBE_SCRIPTS_DIR/oci.sh"

# --- k6 -------------------------------------------------------------------------------------------
r="$(rootfs k6)"
cp "$K6_BIN" "$r/bin/k6"
copy_libs "$K6_BIN" "$r"
mkdir -p "$r/home/k6"; chmod 1777 "$r/home/k6"
oci_image k6 "$r" '["k6"]' / '["PATH=/bin","HOME=/home/k6"]'; K6_IMAGE=$IMAGE_REF; K6_TAR=$IMAGE_TAR

# --- k6-ha (the sidecar) --------------------------------------------------------------------------
r="$(rootfs k6-ha)"
busybox_into "$r"
cp "$NODE_BIN" "$r/bin/node"
copy_libs "$NODE_BIN" "$r"
app="$r/k6-ha"
mkdir -p "$app"
(cd "$KUBE_REPO_ROOT" && cp -a package.json build deploy thresholds experiments "$app/")
rm -rf "$app/build/xk6-kubernetes"
# The production dependency tree, as `npm ci --omit=dev` would install it (hard links: no copy).
(cd "$KUBE_REPO_ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null) | while read -r dep; do
  rel="${dep#"$KUBE_REPO_ROOT"/}"
  [[ "$rel" == node_modules/* && -d "$dep" ]] || continue
  mkdir -p "$app/$(dirname "$rel")"
  [[ -e "$app/$rel" ]] || cp -al "$dep" "$app/$rel" 2>/dev/null || cp -a "$dep" "$app/$rel"
done
[[ -d "$app/node_modules/@kubernetes/client-node" ]] || kube_die "npm ls --omit=dev listed no @kubernetes/client-node: run npm install first"
# node_modules/.bin and the dev-only packages stay out; nested node_modules of a kept package stay in.
oci_image k6-ha "$r" '["/bin/node","/k6-ha/build/k6-ha.mjs"]' /k6-ha '["PATH=/bin","HOME=/tmp","NODE_ENV=production"]'
K6HA_IMAGE=$IMAGE_REF; K6HA_TAR=$IMAGE_TAR

cat >"$OUT/images-k6ha.env.tmp" <<ENV
K6_IMAGE=$K6_IMAGE
K6_TAR=$K6_TAR
K6HA_IMAGE=$K6HA_IMAGE
K6HA_TAR=$K6HA_TAR
ENV
mv "$OUT/images-k6ha.env.tmp" "$OUT/images-k6ha.env"

if [[ $# -ge 1 ]]; then
  [[ -s "$1/node/env" ]] || kube_die "$1 has no real node: run scripts/kube/node-up.sh $1 first"
  # shellcheck disable=SC1091
  source "$1/node/env"
  for tar in "$K6_TAR" "$K6HA_TAR"; do
    ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$tar" >&2 || kube_die "ctr images import $tar failed"
  done
fi
cat "$OUT/images-k6ha.env"
