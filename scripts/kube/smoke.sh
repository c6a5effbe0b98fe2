#!/usr/bin/env bash
# End-to-end check of the local cluster, printing TIMING lines:
#   1. 2 kwok nodes Ready; StatefulSet of 3 pods Running/Ready
#   2. delete a pod -> recreated and Ready
#   3. delete a node -> its pods are garbage-collected (slow, ~40-60s) and rescheduled
#   4. out-of-service taint + delete node -> pods gone in ~1s (fast node removal)
#   5. kwok chaos label node-not-ready -> NotReady, pods evicted and rescheduled
#   6. freeze the kwok of node group "zone-a" (kill -STOP) -> its node becomes
#      unreachable, pods are evicted but stay Terminating (nobody confirms), a
#      Deployment replaces them elsewhere; kill -CONT heals everything
#
# Usage: scripts/kube/smoke.sh [DIR]
#   With DIR: uses the cluster already running there (started by up.sh DIR);
#             step 6 needs K6HA_KUBE_KWOK_GROUPS=fake,zone-a at up.sh time.
#   Without:  starts a cluster (groups fake,zone-a) in a temp dir, removes it at the end.
set -euo pipefail

# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
if [[ $# -ge 1 ]]; then
  DIR="$(cd "$1" && pwd)"
else
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/k6-ha-kube-smoke.XXXXXX")"
  trap '"$KUBE_SCRIPTS_DIR/down.sh" "$DIR" --purge' EXIT
  t=$(now_ms)
  K6HA_KUBE_KWOK_GROUPS=fake,zone-a "$KUBE_SCRIPTS_DIR/up.sh" "$DIR"
  echo "TIMING up.sh: $(( $(now_ms) - t ))ms"
fi
export KUBECONFIG="$DIR/kubeconfig"
k() { "$KUBECTL" "$@"; }

# until_true TIMEOUT_S DESCRIPTION COMMAND... ; prints elapsed ms since $T0 (or since call)
until_true() {
  local timeout=$1 what=$2; shift 2
  local t0=${T0:-$(now_ms)}
  until "$@" >/dev/null 2>&1; do
    if (( $(now_ms) - t0 >= timeout * 1000 )); then
      echo "FAILED: timed out after ${timeout}s: $what" >&2
      k get nodes,pods -o wide >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  echo "TIMING $what: $(( $(now_ms) - t0 ))ms"
}
mark() { T0=$(now_ms); }

node_yaml() { # node_yaml NAME GROUP [extra label line]
  cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $1
  annotations:
    kwok.x-k8s.io/node: $2
  labels:
    type: kwok
    kubernetes.io/hostname: $1
YAML
}
node_ready() { [[ "$(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == "${2:-True}" ]]; }
node_not_ready() { ! node_ready "$1"; }
sts_ready() { [[ "$(k get sts web -o jsonpath='{.status.readyReplicas}')" == "$1" ]]; }
deploy_ready() { [[ "$(k get deploy "$1" -o jsonpath='{.status.readyReplicas}')" == "$2" ]]; }
pods_on() { k get pods -A --field-selector "spec.nodeName=$1" -o name; }
no_pods_on() { [[ -z "$(pods_on "$1")" ]]; }
terminating_on() { # terminating_on NODE N : at least N pods on NODE have a deletionTimestamp
  [[ "$(k get pods -A --field-selector "spec.nodeName=$1" -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -c .)" -ge "$2" ]]
}
has_taint() { k get node "$1" -o jsonpath='{range .spec.taints[*]}{.key}:{.effect}{"\n"}{end}' | grep -qx "$2"; }

k version

echo "== 1. two kwok nodes and a StatefulSet of 3"
node_yaml kwok-node-1 fake | k apply -f -
node_yaml kwok-node-2 fake | k apply -f -
mark; until_true 60 "2 nodes Ready" k wait --for=condition=Ready node kwok-node-1 kwok-node-2 --timeout=1s
mark
k apply -f - <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      nodeSelector:
        type: kwok
      # Not needed by our nodes (they have no taint); shown for nodes that carry
      # kwok's conventional taint kwok.x-k8s.io/node=fake:NoSchedule.
      tolerations:
      - key: kwok.x-k8s.io/node
        operator: Exists
        effect: NoSchedule
      containers:
      - name: web
        image: fake.invalid/web:1   # never pulled: kwok only fakes the status
YAML
until_true 120 "StatefulSet 3/3 Ready (OrderedReady)" sts_ready 3
k get pods -l app=web -o wide

echo "== 2. delete pod web-1"
old_uid=$(k get pod web-1 -o jsonpath='{.metadata.uid}')
new_web1_ready() {
  local uid ready
  uid=$(k get pod web-1 -o jsonpath='{.metadata.uid}') || return 1
  ready=$(k get pod web-1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') || return 1
  [[ -n "$uid" && "$uid" != "$old_uid" && "$ready" == True ]]
}
mark; k delete pod web-1 --wait=false
until_true 60 "web-1 recreated and Ready" new_web1_ready

echo "== 3. delete a node (plain delete)"
node_yaml kwok-node-3 fake | k apply -f -
until_true 60 "kwok-node-3 Ready" node_ready kwok-node-3
node=$(k get pod web-0 -o jsonpath='{.spec.nodeName}')
echo "deleting $node which runs: $(pods_on "$node" | tr '\n' ' ')"
mark; k delete node "$node" --wait=false
until_true 180 "pods of deleted node $node gone (pod GC of orphans)" no_pods_on "$node"
until_true 180 "StatefulSet back to 3/3 Ready" sts_ready 3
k get pods -l app=web -o wide

echo "== 4. fast node removal: out-of-service taint, then delete"
node=$(k get pod web-0 -o jsonpath='{.spec.nodeName}')
echo "removing $node which runs: $(pods_on "$node" | tr '\n' ' ')"
mark; k taint node "$node" node.kubernetes.io/out-of-service=nodeshutdown:NoExecute >/dev/null
until_true 60 "pods of out-of-service node $node gone" no_pods_on "$node"
k delete node "$node"
until_true 60 "StatefulSet back to 3/3 Ready" sts_ready 3
node_yaml kwok-node-4 fake | k apply -f -
until_true 60 "kwok-node-4 Ready" node_ready kwok-node-4
k get pods -l app=web -o wide

echo "== 5. kwok chaos: node-not-ready label"
node=$(k get pod web-0 -o jsonpath='{.spec.nodeName}')
echo "failing $node which runs: $(pods_on "$node" | tr '\n' ' ')"
mark; k label node "$node" node-not-ready.stage.kwok.x-k8s.io=true >/dev/null
until_true 60 "$node Ready=False" node_ready "$node" False
until_true 60 "$node tainted not-ready:NoExecute" has_taint "$node" node.kubernetes.io/not-ready:NoExecute
until_true 60 "pods evicted from $node (toleration ${K6HA_KUBE_TOLERATION_SECONDS:-5}s) and deleted" no_pods_on "$node"
until_true 60 "StatefulSet back to 3/3 Ready" sts_ready 3
mark; k label node "$node" node-not-ready.stage.kwok.x-k8s.io- >/dev/null
until_true 60 "$node Ready again after removing the label" node_ready "$node"
k get pods -l app=web -o wide

if grep -q '^kwok-zone-a ' "$DIR/pids" 2>/dev/null; then
  echo "== 6. unreachable node: freeze the kwok of node group zone-a"
  node_yaml zone-a-1 zone-a | k apply -f -
  until_true 60 "zone-a-1 Ready" node_ready zone-a-1
  k apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      nodeSelector:
        type: kwok
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            preference:
              matchExpressions:
              - key: kubernetes.io/hostname
                operator: In
                values: [zone-a-1]
      containers:
      - name: api
        image: fake.invalid/api:1
YAML
  until_true 60 "Deployment api 1/1 Ready" deploy_ready api 1
  k get pods -l app=api -o wide
  [[ "$(k get pods -l app=api -o jsonpath='{.items[0].spec.nodeName}')" == zone-a-1 ]] || { echo "FAILED: api pod not on zone-a-1" >&2; exit 1; }
  api_ready_elsewhere() {
    k get pods -l app=api -o jsonpath='{range .items[*]}{.spec.nodeName}|{.metadata.deletionTimestamp}|{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
      | awk -F'|' '$1 != "zone-a-1" && $2 == "" && $3 == "True" {found=1} END {exit !found}'
  }
  kwok_zone_a=$(awk '$1 == "kwok-zone-a" {print $2}' "$DIR/pids")
  mark; kill -STOP "$kwok_zone_a"
  until_true 120 "zone-a-1 Ready=Unknown (kwok frozen, lease expired)" node_ready zone-a-1 Unknown
  until_true 60 "zone-a-1 tainted unreachable:NoExecute" has_taint zone-a-1 node.kubernetes.io/unreachable:NoExecute
  until_true 60 "api pod on zone-a-1 evicted (Terminating)" terminating_on zone-a-1 1
  until_true 60 "replacement api pod Ready on another node" api_ready_elsewhere
  sleep 2
  echo "the evicted pod stays Terminating while zone-a-1's kwok is frozen (no kubelet confirms the deletion):"
  k get pods -l app=api -o wide
  terminating_on zone-a-1 1 || { echo "FAILED: expected a Terminating pod on zone-a-1" >&2; exit 1; }
  mark; kill -CONT "$kwok_zone_a"
  until_true 60 "zone-a-1 Ready again after kill -CONT" node_ready zone-a-1
  until_true 60 "Terminating pod on zone-a-1 deleted" no_pods_on zone-a-1
  k get pods -o wide
fi

echo "SMOKE OK"
