# shellcheck shell=bash
# OCI image layouts without a registry or a container tool, for the real node's local images
# (images-k6ha.sh; images.sh has its own copy of oci_image, to be folded in). Source it after lib.sh, with WORK (a scratch dir) and OUT (where
# the tarballs go) set.

sha() { sha256sum "$1" | cut -d' ' -f1; }

# oci_image NAME ROOTFS ENTRYPOINT-JSON [WORKDIR] [ENV-JSON] : writes $OUT/NAME-<tag>.tar, sets
# IMAGE_REF and IMAGE_TAR (defaults: WorkingDir "/", Env ["PATH=/bin"])
oci_image() {
  local name=$1 rootfs=$2 entrypoint=$3 workdir=${4:-/} envjson=${5:-'["PATH=/bin"]'}
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
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":%s,"WorkingDir":"%s"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$envjson" "$workdir" "$layer_sha" >"$d/config.json"
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

# copy_libs BINARY ROOTFS : the loader and the shared libraries a dynamically linked binary names
copy_libs() {
  local lib
  while read -r lib; do
    [[ -n "$lib" ]] || continue
    mkdir -p "$2$(dirname "$lib")"; cp -L "$lib" "$2$lib"
  done < <(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
}

# busybox_into ROOTFS : Debian's static busybox as /bin/busybox and its applets (sh, tar, kill, ...)
busybox_into() {
  local applet
  cp "$BUSYBOX_BIN" "$1/bin/busybox"
  for applet in $("$BUSYBOX_BIN" --list); do [[ -e "$1/bin/$applet" ]] || ln -s busybox "$1/bin/$applet"; done
}
