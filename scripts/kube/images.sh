#!/usr/bin/env bash
# Builds the real node's container images as OCI image tarballs, without a registry:
#
#   docker.io/local/pause:<tag>        the pod sandbox (images/pause, a static Go program)
#   docker.io/local/nats-server:<tag>  the pinned nats-server of .tools/bin (with the libc it links)
#                                      and busybox-static (sh, wget: the readiness probe)
#   docker.io/local/probe:<tag>        Debian's busybox-static (sh, kill, sleep, ...) and
#                                      /bin/restart-probe (images/restart-probe, the s3gw stand-in)
#   docker.io/local/nats-streaming-server:<tag>
#                                      the pinned nats-streaming-server v0.25.6 of .tools/bin (seed
#                                      004's `stan` pods; the libc it links) and busybox-static;
#                                      built only when that binary is there (STAN_IMAGE empty else)
#   docker.io/local/versitygw:<tag>    the pinned versitygw of .tools/bin (the S3 gateway of seed 003,
#                                      with the libc it links) and busybox-static (sh, kill, pidof:
#                                      execKill's exec); entrypoint /bin/versitygw
#
# <tag> is the first 12 hex digits of the layer's sha256: a changed image gets a new name
# (containerd keeps an old alias when a changed image is re-imported under the same tag).
# Output: $KUBE_TOOLS_DIR/images/<name>-<tag>.tar and images.env (PAUSE_IMAGE=..., one a line,
# plus the tar paths). Idempotent; ~2 s warm. Import with `ctr -n k8s.io images import FILE`.
#
# Usage: scripts/kube/images.sh
set -euo pipefail

# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NATS_SERVER_BIN="${K6HA_NATS_SERVER_BIN:-$KUBE_REPO_ROOT/.tools/bin/nats-server}"
VERSITYGW_BIN="${K6HA_VERSITYGW_BIN:-$KUBE_REPO_ROOT/.tools/bin/versitygw}"
STAN_SERVER_BIN="${K6HA_NATS_STREAMING_SERVER_BIN:-$KUBE_REPO_ROOT/.tools/bin/nats-streaming-server}"
BUSYBOX_BIN="${K6HA_BUSYBOX_BIN:-/bin/busybox}"
[[ -x "$NATS_SERVER_BIN" ]] || kube_die "nats-server not found at $NATS_SERVER_BIN: run \`node --import tsx scripts/setup.ts\` (npm test does) to build the pinned one"
[[ -x "$VERSITYGW_BIN" ]] || kube_die "versitygw not found at $VERSITYGW_BIN: run \`npm run setup\` (npm test does) to build the pinned v1.8.0"
if ! [[ -x "$BUSYBOX_BIN" ]] || ! file -L "$BUSYBOX_BIN" 2>/dev/null | grep -q 'statically linked'; then
  kube_die "a static busybox is needed at $BUSYBOX_BIN for the probe image: apt-get install -y busybox-static"
fi
command -v go >/dev/null || kube_die "go not found in PATH (needed to build images/pause and images/restart-probe)"

OUT="$KUBE_TOOLS_DIR/images"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

(cd "$KUBE_SCRIPTS_DIR/images" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$WORK/bin/" ./pause ./restart-probe) \
  || kube_die "go build of scripts/kube/images failed"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# oci_image NAME ROOTFS ENTRYPOINT-JSON : writes $OUT/NAME-<tag>.tar, sets IMAGE_REF and IMAGE_TAR
oci_image() {
  local name=$1 rootfs=$2 entrypoint=$3
  local d="$WORK/oci-$name"
  mkdir -p "$d/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$d/layer.tar" .
  local layer_sha layer_size tag
  layer_sha="$(sha "$d/layer.tar")"; layer_size="$(stat -c %s "$d/layer.tar")"
  tag="${layer_sha:0:12}"
  IMAGE_REF="docker.io/local/$name:$tag"
  IMAGE_TAR="$OUT/$name-$tag.tar"
  if [[ -s "$IMAGE_TAR" ]]; then return; fi
  mv "$d/layer.tar" "$d/blobs/sha256/$layer_sha"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$layer_sha" >"$d/config.json"
  local cfg_sha cfg_size
  cfg_sha="$(sha "$d/config.json")"; cfg_size="$(stat -c %s "$d/config.json")"
  mv "$d/config.json" "$d/blobs/sha256/$cfg_sha"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cfg_sha" "$cfg_size" "$layer_sha" "$layer_size" >"$d/manifest.json"
  local man_sha man_size
  man_sha="$(sha "$d/manifest.json")"; man_size="$(stat -c %s "$d/manifest.json")"
  mv "$d/manifest.json" "$d/blobs/sha256/$man_sha"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man_sha" "$man_size" "$IMAGE_REF" "$tag" >"$d/index.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$d" -cf "$IMAGE_TAR.tmp" oci-layout index.json blobs
  mv "$IMAGE_TAR.tmp" "$IMAGE_TAR"
  kube_log "image $IMAGE_REF -> $IMAGE_TAR"
}

# rootfs NAME : a fresh root with /tmp (1777) and /var/run
rootfs() {
  local r="$WORK/root-$1"
  mkdir -p "$r/bin" "$r/tmp" "$r/var/run"
  chmod 1777 "$r/tmp"
  echo "$r"
}

# with_libs ROOT BIN : copies the loader and the shared libraries BIN links into ROOT
with_libs() {
  local root=$1 bin=$2 lib
  while read -r lib; do
    [[ -n "$lib" ]] || continue
    mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
  done < <(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
}
# with_busybox ROOT : busybox-static and its applets in ROOT/bin
with_busybox() {
  local root=$1 applet
  cp "$BUSYBOX_BIN" "$root/bin/busybox"
  for applet in $("$BUSYBOX_BIN" --list); do [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"; done
}

r="$(rootfs pause)"; cp "$WORK/bin/pause" "$r/pause"
oci_image pause "$r" '["/pause"]'; PAUSE_IMAGE=$IMAGE_REF; PAUSE_TAR=$IMAGE_TAR

r="$(rootfs nats-server)"; cp "$NATS_SERVER_BIN" "$r/nats-server"
# busybox too: the pods' exec readiness probe (wget of the member's own /healthz, whose port
# differs per pod index) and `sh` for kubectl exec.
cp "$BUSYBOX_BIN" "$r/bin/busybox"
for applet in $("$BUSYBOX_BIN" --list); do [[ -e "$r/bin/$applet" ]] || ln -s busybox "$r/bin/$applet"; done
# The pinned nats-server links libc (cgo): the image carries the loader and the libraries it names.
with_libs "$r" "$NATS_SERVER_BIN"
oci_image nats-server "$r" '["/nats-server"]'; NATS_IMAGE=$IMAGE_REF; NATS_TAR=$IMAGE_TAR

# Seed 004's image (the seed runs nats-streaming:alpine): the same layout as nats-server's. The
# binary is built by `npm run setup` (scripts/setup.ts); without it only the STAN test fails.
STAN_IMAGE=""; STAN_TAR=""
if [[ -x "$STAN_SERVER_BIN" ]]; then
  r="$(rootfs nats-streaming-server)"; cp "$STAN_SERVER_BIN" "$r/nats-streaming-server"
  with_busybox "$r"
  with_libs "$r" "$STAN_SERVER_BIN"
  oci_image nats-streaming-server "$r" '["/nats-streaming-server"]'; STAN_IMAGE=$IMAGE_REF; STAN_TAR=$IMAGE_TAR
else
  kube_log "no nats-streaming-server at $STAN_SERVER_BIN (npm run setup builds it): no STAN image"
fi

r="$(rootfs probe)"; cp "$BUSYBOX_BIN" "$r/bin/busybox"; cp "$WORK/bin/restart-probe" "$r/bin/restart-probe"
for applet in $("$BUSYBOX_BIN" --list); do [[ -e "$r/bin/$applet" ]] || ln -s busybox "$r/bin/$applet"; done
oci_image probe "$r" '["/bin/restart-probe"]'; PROBE_IMAGE=$IMAGE_REF; PROBE_TAR=$IMAGE_TAR

# versitygw: the gateway binary (cgo: libc) and busybox for execKill's `sh -c 'kill …'`; the pod
# gives the arguments (posix <dir on the volume>) and the root credentials (ROOT_ACCESS_KEY / …).
r="$(rootfs versitygw)"; cp "$VERSITYGW_BIN" "$r/bin/versitygw"
with_libs "$r" "$VERSITYGW_BIN"
with_busybox "$r"
oci_image versitygw "$r" '["/bin/versitygw"]'; VERSITYGW_IMAGE=$IMAGE_REF; VERSITYGW_TAR=$IMAGE_TAR

cat >"$OUT/images.env.tmp" <<ENV
PAUSE_IMAGE=$PAUSE_IMAGE
PAUSE_TAR=$PAUSE_TAR
NATS_IMAGE=$NATS_IMAGE
NATS_TAR=$NATS_TAR
PROBE_IMAGE=$PROBE_IMAGE
PROBE_TAR=$PROBE_TAR
VERSITYGW_IMAGE=$VERSITYGW_IMAGE
VERSITYGW_TAR=$VERSITYGW_TAR
STAN_IMAGE=$STAN_IMAGE
STAN_TAR=$STAN_TAR
ENV
mv "$OUT/images.env.tmp" "$OUT/images.env"
cat "$OUT/images.env"
