#!/usr/bin/env bash
# End to end on a real cluster (kind or minikube), for users: build the image, load it into the
# cluster, install the chart, port-forward the four apps and run the README's curl flows.
# Not part of `npm test` (this machine has no cluster); run it yourself:
#
#   KUBECONFIG=~/.kube/config tests/e2e/real-cluster.sh            # kind (default)
#   CLUSTER=minikube tests/e2e/real-cluster.sh
#
# Needs: docker, kubectl, helm, jq, curl, and kind or minikube. Leaves nothing behind unless
# KEEP=1 is set.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${KUBECONFIG:?set KUBECONFIG to the cluster to test against}"
CLUSTER="${CLUSTER:-kind}"
NAMESPACE="${NAMESPACE:-trainyard-e2e}"
RELEASE="${RELEASE:-trainyard}"
IMAGE="trainyard:e2e-$(date +%s)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ "${KEEP:-0}" != 1 ]]; then
    helm uninstall "$RELEASE" -n "$NAMESPACE" --wait >/dev/null 2>&1 || true
    kubectl delete namespace "$NAMESPACE" --wait=false >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

step "build $IMAGE and load it into $CLUSTER"
docker build -t "$IMAGE" .
case "$CLUSTER" in
  kind) kind load docker-image "$IMAGE" ;;
  minikube) minikube image load "$IMAGE" ;;
  *) fail "CLUSTER must be kind or minikube" ;;
esac

step "install the chart"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
helm install "$RELEASE" charts/trainyard -n "$NAMESPACE" \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE#*:}" \
  --set image.pullPolicy=Never --wait --timeout 5m

step "port-forward 8003-8007"
for pair in naive:8003 polling:8004 webhook:8005 webhook-client:8006 controller:8007; do
  kubectl -n "$NAMESPACE" port-forward "svc/$RELEASE-${pair%%:*}" "${pair##*:}:${pair##*:}" >/dev/null &
  PIDS+=("$!")
done
sleep 3

PENGUIN='{"data": {"species": "Adelie", "island": "Torgersen", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "sex": "male"}}'

step "naive: POST /train waits for the result, then predict"
[[ "$(curl -sf -X POST http://localhost:8003/train | jq -r .status)" == completed ]] || fail "naive train"
curl -sf -X POST http://localhost:8003/predict -H "Content-Type: application/json" -d "$PENGUIN" \
  | jq -e '.predictions[0].body_mass_g > 3000' >/dev/null || fail "predict"

step "polling: submit, status, result, cancel"
TASK_ID=$(curl -sf -X POST http://localhost:8004/train | jq -r '.id')
for _ in $(seq 1 60); do
  STATUS=$(curl -sf "http://localhost:8004/train/$TASK_ID/status" | jq -r .status)
  [[ "$STATUS" == completed ]] && break
  sleep 2
done
[[ "$STATUS" == completed ]] || fail "polling task ended $STATUS"
curl -sf "http://localhost:8004/train/$TASK_ID/result" | jq -e '.result.n == 333' >/dev/null || fail "result"
LONG=$(curl -sf -X POST http://localhost:8004/train -H 'Content-Type: application/json' -d '{"duration_seconds": 120}' | jq -r .id)
sleep 5
[[ "$(curl -sf -X DELETE "http://localhost:8004/train/$LONG" | jq -r .status)" == cancelled ]] || fail "cancel"
sleep 5
[[ -z "$(kubectl -n "$NAMESPACE" get jobs -o name | grep "$LONG" || true)" ]] || fail "the cancelled task's Job is still there"

step "logs: off by default (the API pods hold no Kubernetes token): 501 logs_disabled"
[[ "$(curl -s "http://localhost:8004/train/$TASK_ID/logs" | jq -r .code)" == logs_disabled ]] \
  || fail "GET /train/{id}/logs with logs.podLogAccess=false"

step "controller: /metrics through its Service"
curl -sf http://localhost:8007/metrics | grep -q '^trainyard_' || fail "controller metrics"

step "webhook: the server calls the client back"
curl -sf -X POST http://localhost:8005/train -H "Content-Type: application/json" \
  -d "{\"callback_url\": \"http://$RELEASE-webhook-client:8006/callback\"}" >/dev/null
CLIENT_TASK=$(curl -sf -X POST http://localhost:8006/train | jq -r .id)
for _ in $(seq 1 60); do
  curl -sf http://localhost:8006/callbacks | jq -e --arg id "$CLIENT_TASK" \
    '.items | map(.body.id) | index($id)' >/dev/null && break
  sleep 2
done
curl -sf http://localhost:8006/callbacks | jq -e --arg id "$CLIENT_TASK" \
  '.items[] | select(.body.id == $id) | .verified' >/dev/null || fail "no verified callback"

printf '\nPASS: naive, polling, webhook and webhook-client work on %s\n' "$CLUSTER"
