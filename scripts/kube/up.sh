#!/usr/bin/env bash
# Starts a local Kubernetes control plane for integration tests:
#   etcd -> kube-apiserver -> kube-controller-manager + kube-scheduler + kwok
# all bound to 127.0.0.1 on free ports, with state, logs and PIDs in DIR.
#
# Usage: scripts/kube/up.sh DIR
#
# Produces:
#   DIR/kubeconfig   admin kubeconfig (context "k6-ha-test", user in system:masters)
#   DIR/env          shell-sourceable facts: KUBECONFIG, KUBE_API_URL, ports, binaries
#   DIR/pids         "name pid" per component (each one leads its own process group)
#   DIR/*.log        one log per component
#
# Each run starts a fresh, empty cluster (state of a previous run in DIR is dropped).
#
# Fake nodes: create Nodes with annotation kwok.x-k8s.io/node=fake; kwok makes them
# Ready, renews their Leases, and makes pods bound to them Running/Ready.
#
# Tunables (environment):
#   K6HA_KUBE_NODE_LEASE_SECONDS      kwok node lease duration (renewed every 1/4)  [8]
#   K6HA_KUBE_NODE_GRACE_SECONDS      node-monitor-grace-period (NotReady after)    [10]
#   K6HA_KUBE_TOLERATION_SECONDS      default not-ready/unreachable toleration      [5]
#   K6HA_KUBE_TIMEOUT_SECONDS         max wait for each component to become ready   [90]
#   K6HA_KUBE_KWOK_GROUPS             node groups, one kwok process each: group G
#                                     manages Nodes annotated kwok.x-k8s.io/node=G;
#                                     "fake" -> pid name "kwok", else "kwok-G"     [fake]
#   K6HA_KUBE_OWNER_PID               if set, a watchdog runs down.sh DIR when this
#                                     process exits (protects against leaked clusters)
#   K6HA_KUBE_WATCHDOG_PURGE=1        ... and the watchdog uses down.sh DIR --purge
set -euo pipefail

# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 && -n "$1" ]] || kube_die "usage: $0 DIR"
if ! missing=$(kube_missing_files); then
  kube_die "kubernetes binaries are missing; run scripts/kube/setup.sh (missing: $(echo $missing))"
fi
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
command -v openssl >/dev/null || kube_die "openssl not found (apt-get install openssl)"
command -v curl >/dev/null || kube_die "curl not found (apt-get install curl)"

if [[ -s "$DIR/pids" ]]; then
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kube_die "a cluster is already running in $DIR ($name pid $pid); run scripts/kube/down.sh $DIR first"
    fi
  done <"$DIR/pids"
  rm -f "$DIR/pids"
fi
# Always a fresh, empty cluster: drop state of a previous run in the same DIR.
rm -rf "$DIR/etcd-data" "$DIR/certs" "$DIR/kubeconfig" "$DIR/env" "$DIR/kwok-stages.yaml" "$DIR"/*.log
touch "$DIR/.k6-ha-kube"

NODE_LEASE_SECONDS="${K6HA_KUBE_NODE_LEASE_SECONDS:-8}"
NODE_GRACE_SECONDS="${K6HA_KUBE_NODE_GRACE_SECONDS:-10}"
TOLERATION_SECONDS="${K6HA_KUBE_TOLERATION_SECONDS:-5}"
TIMEOUT="${K6HA_KUBE_TIMEOUT_SECONDS:-90}"
KWOK_GROUPS="$(tr ',' ' ' <<<"${K6HA_KUBE_KWOK_GROUPS:-fake}")"
CONTEXT=k6-ha-test
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
POD_CIDR=10.244.0.0/16

# On any failure: show the relevant logs, stop what was started.
FAILED_COMPONENT=""
on_exit() {
  local rc=$?
  if ((rc != 0)); then
    if [[ -n "$FAILED_COMPONENT" && -f "$DIR/$FAILED_COMPONENT.log" ]]; then
      echo "----- last lines of $DIR/$FAILED_COMPONENT.log -----" >&2
      tail -n 40 "$DIR/$FAILED_COMPONENT.log" >&2 || true
      echo "-----" >&2
    fi
    kube_log "startup failed; stopping everything started in $DIR"
    "$KUBE_SCRIPTS_DIR/down.sh" "$DIR" >&2 || true
  fi
}
trap on_exit EXIT

# --- free ports ---------------------------------------------------------------------
# Ports come from below the kernel's ephemeral range (ip_local_port_range), so
# that outgoing connections (apiserver->etcd, controllers->apiserver, ...) can not
# grab a port between the moment we pick it and the moment a component binds it.
declare -A TAKEN=()
read -r EPH_LO EPH_HI < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { EPH_LO=32768; EPH_HI=60999; }
if (( EPH_LO > 12000 )); then PORT_LO=10000; PORT_HI=$(( EPH_LO - 1 )); else PORT_LO=$(( EPH_HI + 1 )); PORT_HI=65535; fi
port_in_use() {
  if command -v ss >/dev/null; then
    [[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
free_port() { # free_port VAR : sets VAR (not a subshell, so TAKEN is kept)
  local p
  for _ in $(seq 1 500); do
    p=$(( PORT_LO + (RANDOM * 32768 + RANDOM) % (PORT_HI - PORT_LO + 1) ))
    [[ -z "${TAKEN[$p]:-}" ]] || continue
    port_in_use "$p" && continue
    TAKEN[$p]=1; printf -v "$1" '%s' "$p"; return 0
  done
  kube_die "could not find a free port in $PORT_LO-$PORT_HI"
}
free_port ETCD_PORT; free_port ETCD_PEER_PORT; free_port API_PORT
free_port KCM_PORT; free_port SCHED_PORT
API_URL="https://127.0.0.1:$API_PORT"

# --- certificates -------------------------------------------------------------------
CERTS="$DIR/certs"
mkdir -p "$CERTS"; chmod 700 "$CERTS"
kube_log "generating CA, serving/client certificates and service-account keys in $CERTS"
ossl() { openssl "$@" 2>>"$DIR/openssl.log" >/dev/null || kube_die "openssl $1 failed (see $DIR/openssl.log)"; }
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

newkey "$CERTS/ca.key"
ossl req -x509 -new -key "$CERTS/ca.key" -sha256 -days 3650 -subj "/CN=k6-ha-test-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -out "$CERTS/ca.crt"

# sign NAME SUBJECT EXTFILE-CONTENT
sign() {
  local name=$1 subj=$2 ext=$3
  newkey "$CERTS/$name.key"
  ossl req -new -key "$CERTS/$name.key" -subj "$subj" -out "$CERTS/$name.csr"
  printf '%s\n' "$ext" >"$CERTS/$name.ext"
  ossl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -CAcreateserial \
    -sha256 -days 3650 -extfile "$CERTS/$name.ext" -out "$CERTS/$name.crt"
  rm -f "$CERTS/$name.csr" "$CERTS/$name.ext"
}
CLIENT_EXT=$'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
sign apiserver "/CN=kube-apiserver" \
  $'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n'"subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=k6-ha-test-admin" "$CLIENT_EXT"
sign controller-manager "/CN=system:kube-controller-manager" "$CLIENT_EXT"
sign scheduler "/CN=system:kube-scheduler" "$CLIENT_EXT"
# kwok acts as every fake kubelet (nodes, node status, leases, pod status, pod deletion).
sign kwok "/O=system:masters/CN=kwok" "$CLIENT_EXT"
# Aggregation layer / requestheader authentication (silences "missing content for
# CA bundle requestheader-client-ca-file" errors in the controller-manager/scheduler).
newkey "$CERTS/front-proxy-ca.key"
ossl req -x509 -new -key "$CERTS/front-proxy-ca.key" -sha256 -days 3650 -subj "/CN=k6-ha-test-front-proxy-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -out "$CERTS/front-proxy-ca.crt"
newkey "$CERTS/front-proxy-client.key"
ossl req -new -key "$CERTS/front-proxy-client.key" -subj "/CN=front-proxy-client" -out "$CERTS/front-proxy-client.csr"
printf '%s\n' "$CLIENT_EXT" >"$CERTS/front-proxy-client.ext"
ossl x509 -req -in "$CERTS/front-proxy-client.csr" -CA "$CERTS/front-proxy-ca.crt" -CAkey "$CERTS/front-proxy-ca.key" \
  -CAcreateserial -sha256 -days 3650 -extfile "$CERTS/front-proxy-client.ext" -out "$CERTS/front-proxy-client.crt"
rm -f "$CERTS/front-proxy-client.csr" "$CERTS/front-proxy-client.ext"
# Service-account token signing key pair (RS256).
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$CERTS/sa.key"
ossl pkey -in "$CERTS/sa.key" -pubout -out "$CERTS/sa.pub"
chmod 600 "$CERTS"/*.key

# write_kubeconfig FILE CERT-NAME
write_kubeconfig() {
  cat >"$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: $CONTEXT
  cluster:
    server: $API_URL
    certificate-authority-data: $(base64 -w0 <"$CERTS/ca.crt")
users:
- name: $CONTEXT-$2
  user:
    client-certificate-data: $(base64 -w0 <"$CERTS/$2.crt")
    client-key-data: $(base64 -w0 <"$CERTS/$2.key")
contexts:
- name: $CONTEXT
  context:
    cluster: $CONTEXT
    user: $CONTEXT-$2
current-context: $CONTEXT
KUBECONFIG
  chmod 600 "$1"
}
write_kubeconfig "$DIR/kubeconfig" admin
write_kubeconfig "$CERTS/controller-manager.kubeconfig" controller-manager
write_kubeconfig "$CERTS/scheduler.kubeconfig" scheduler
write_kubeconfig "$CERTS/kwok.kubeconfig" kwok

# --- process helpers ----------------------------------------------------------------
# start NAME BINARY ARGS... : runs BINARY as the leader of a new session/process
# group (setsid), output to DIR/NAME.log, records "NAME PID" in DIR/pids.
start() {
  local name=$1; shift
  FAILED_COMPONENT=$name
  kube_log "starting $name"
  setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$DIR/pids"
  eval "PID_${name//-/_}=$!"
}
alive() { local v="PID_${1//-/_}"; kill -0 "${!v}" 2>/dev/null; }

# wait_for NAME DESCRIPTION COMMAND... : polls COMMAND until it succeeds.
wait_for() {
  local name=$1 what=$2; shift 2
  FAILED_COMPONENT=$name
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    alive "$name" || kube_die "$name exited while waiting for $what"
    (( $(date +%s) < deadline )) || kube_die "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.3
  done
}
CURL_ADMIN=(curl -sf --max-time 5 --cacert "$CERTS/ca.crt" --cert "$CERTS/admin.crt" --key "$CERTS/admin.key")
api_ok() { [[ "$("${CURL_ADMIN[@]}" "$API_URL$1")" == ok ]]; }
healthz_ok() { [[ "$(curl -sfk --max-time 5 "https://127.0.0.1:$1/healthz")" == ok ]]; }
etcd_ok() { curl -sf --max-time 5 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
default_sa_exists() { "${CURL_ADMIN[@]}" "$API_URL/api/v1/namespaces/default/serviceaccounts/default" >/dev/null; }
kwok_ok() { curl -sf --max-time 5 "http://127.0.0.1:$1/healthz" >/dev/null; }

T0=$(date +%s)
: >"$DIR/pids"

# --- etcd ---------------------------------------------------------------------------
start etcd "$ETCD" \
  --name k6-ha-test \
  --data-dir "$DIR/etcd-data" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "k6-ha-test=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state new \
  --unsafe-no-fsync \
  --log-level warn
wait_for etcd "etcd /health" etcd_ok

# --- kube-apiserver -------------------------------------------------------------------
start kube-apiserver "$KUBE_APISERVER" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 \
  --advertise-address 127.0.0.1 \
  --secure-port "$API_PORT" \
  --cert-dir "$CERTS" \
  --tls-cert-file "$CERTS/apiserver.crt" \
  --tls-private-key-file "$CERTS/apiserver.key" \
  --client-ca-file "$CERTS/ca.crt" \
  --requestheader-client-ca-file "$CERTS/front-proxy-ca.crt" \
  --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User \
  --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$CERTS/front-proxy-client.crt" \
  --proxy-client-key-file "$CERTS/front-proxy-client.key" \
  --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$CERTS/sa.pub" \
  --service-account-signing-key-file "$CERTS/sa.key" \
  --api-audiences https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --allow-privileged=true \
  --default-not-ready-toleration-seconds "$TOLERATION_SECONDS" \
  --default-unreachable-toleration-seconds "$TOLERATION_SECONDS" \
  --profiling=false \
  --v=1
wait_for kube-apiserver "kube-apiserver /readyz" api_ok /readyz

# --- kube-controller-manager / kube-scheduler / kwok -----------------------------------
start kube-controller-manager "$KUBE_CONTROLLER_MANAGER" \
  --kubeconfig "$CERTS/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$CERTS/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$CERTS/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 \
  --secure-port "$KCM_PORT" \
  --cert-dir "$CERTS/controller-manager-serving" \
  --controllers '*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file "$CERTS/sa.key" \
  --root-ca-file "$CERTS/ca.crt" \
  --cluster-signing-cert-file "$CERTS/ca.crt" \
  --cluster-signing-key-file "$CERTS/ca.key" \
  --cluster-name k6-ha-test \
  --leader-elect=false \
  --node-monitor-period 1s \
  --node-monitor-grace-period "${NODE_GRACE_SECONDS}s" \
  --node-startup-grace-period 30s \
  --terminated-pod-gc-threshold 10 \
  --kube-api-qps 200 \
  --kube-api-burst 400 \
  --profiling=false \
  --v=1

start kube-scheduler "$KUBE_SCHEDULER" \
  --kubeconfig "$CERTS/scheduler.kubeconfig" \
  --authentication-kubeconfig "$CERTS/scheduler.kubeconfig" \
  --authorization-kubeconfig "$CERTS/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 \
  --secure-port "$SCHED_PORT" \
  --cert-dir "$CERTS/scheduler-serving" \
  --leader-elect=false \
  --profiling=false \
  --v=1

# One kwok per node group: group G manages the Nodes annotated kwok.x-k8s.io/node=G
# (group "fake" -> component "kwok", others -> "kwok-G"). Freezing one kwok
# (kill -STOP) makes exactly its nodes unreachable, like a dead kubelet/zone.
KWOK_STAGES="$DIR/kwok-stages.yaml"
cp "$KWOK_STAGES_FILE" "$KWOK_STAGES"
KWOK_NAMES=(); port=""
for group in $KWOK_GROUPS; do
  [[ "$group" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || kube_die "invalid kwok group name: $group"
  name=kwok; [[ "$group" == fake ]] || name="kwok-$group"
  free_port port
  start "$name" "$KWOK" \
    --config "$KWOK_STAGES" \
    --kubeconfig "$CERTS/kwok.kubeconfig" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector "kwok.x-k8s.io/node=$group" \
    --node-lease-duration-seconds "$NODE_LEASE_SECONDS" \
    --cidr "$POD_CIDR" \
    --node-ip 127.0.0.1 \
    --server-address "127.0.0.1:$port"
  KWOK_NAMES+=("$name"); eval "KWOK_PORT_${name//-/_}=$port"
done

wait_for kube-controller-manager "kube-controller-manager /healthz" healthz_ok "$KCM_PORT"
wait_for kube-scheduler "kube-scheduler /healthz" healthz_ok "$SCHED_PORT"
for name in "${KWOK_NAMES[@]}"; do
  v="KWOK_PORT_${name//-/_}"
  wait_for "$name" "$name /healthz" kwok_ok "${!v}"
done
# Pods are rejected until the serviceaccount controller has created "default".
wait_for kube-controller-manager "the default ServiceAccount in namespace default" default_sa_exists
FAILED_COMPONENT=""

# --- optional watchdog ------------------------------------------------------------------
if [[ -n "${K6HA_KUBE_OWNER_PID:-}" ]]; then
  OWNER="$K6HA_KUBE_OWNER_PID"
  PURGE_ARG=""; [[ "${K6HA_KUBE_WATCHDOG_PURGE:-}" == 1 ]] && PURGE_ARG=--purge
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -s "$2/pids" ]]; do sleep 2; done
                  [[ -s "$2/pids" ]] && exec "$3" "$2" $4' \
    k6-ha-kube-watchdog "$OWNER" "$DIR" "$KUBE_SCRIPTS_DIR/down.sh" "$PURGE_ARG" >>"$DIR/watchdog.log" 2>&1 </dev/null &
  echo "watchdog $!" >>"$DIR/pids"
fi

cat >"$DIR/env" <<ENV
KUBECONFIG=$DIR/kubeconfig
KUBE_CONTEXT=$CONTEXT
KUBE_API_URL=$API_URL
KUBE_API_PORT=$API_PORT
ETCD_URL=http://127.0.0.1:$ETCD_PORT
KCM_PORT=$KCM_PORT
SCHEDULER_PORT=$SCHED_PORT
KWOK_GROUPS="$KWOK_GROUPS"
KUBECTL=$KUBECTL
K8S_VERSION=$K8S_VERSION
ETCD_VERSION=$ETCD_VERSION
KWOK_VERSION=$KWOK_VERSION
ENV

kube_log "cluster ready in $(( $(date +%s) - T0 ))s: $API_URL"
kube_log "  export KUBECONFIG=$DIR/kubeconfig   # context $CONTEXT"
kube_log "  kubectl: $KUBECTL"
kube_log "  stop with: scripts/kube/down.sh $DIR"
