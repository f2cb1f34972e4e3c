#!/usr/bin/env bash
# Prove the cluster build's cold path without a full rebuild: run e2e/cluster/build.sh against
# an empty Go module cache and a cache holding only the compiled binaries. It must fetch every
# file it reads from module sources itself, rebuild no binary, and leave every asset in place.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}"
work="$(mktemp -d)"
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Binaries only: hard links (or copies across file systems), no stages, no CRDs, no modules.
mkdir -p "$work/cache"
binaries=0
while IFS= read -r -d '' bin; do
  rel="${bin#"$cache"/}"
  mkdir -p "$work/cache/$(dirname "$rel")"
  ln "$bin" "$work/cache/$rel" 2>/dev/null || cp -p "$bin" "$work/cache/$rel"
  binaries=$((binaries + 1))
done < <(find "$cache" -mindepth 2 -maxdepth 2 -type f -perm -u+x -print0)
((binaries > 0)) || { echo "cold-build: no binaries under $cache: run \`make cluster-bin\` first" >&2; exit 1; }

start=$SECONDS
out="$(MODELSHIP_CACHE="$work/cache" GOMODCACHE="$work/gomodcache" bash e2e/cluster/build.sh 2>&1)" || {
  echo "$out" >&2; echo "cold-build: build.sh failed with an empty module cache" >&2; exit 1; }
if grep -q '^build ' <<<"$out"; then
  echo "$out" >&2; echo "cold-build: a cached binary was rebuilt" >&2; exit 1
fi

# Every asset the harness reads must exist and hold what it should.
py=.venv/bin/python; [[ -x $py ]] || py=python3
PYTHONPATH=e2e MODELSHIP_CACHE="$work/cache" "$py" - <<'PY'
import sys
from modelship_testing import cluster
checks = {
    cluster.kwok_stages(): ["node-initialize", "pod-ready", "pod-complete", "pod-delete"],
    cluster.gateway_api_crds(): ["httproutes.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io"],
    cluster.istio_crds(): ["virtualservices.networking.istio.io"],
    cluster.prometheus_operator_crds(): ["podmonitors.monitoring.coreos.com",
                                         "servicemonitors.monitoring.coreos.com"],
}
for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "helm",
             "modelship-health"):
    checks[cluster.binary(name)] = []
for path, needles in checks.items():
    text = path.read_bytes() if not needles else path.read_text()
    missing = [n for n in needles if n not in text]
    if not path.stat().st_size or missing:
        sys.exit(f"cold-build: {path} is empty or lacks {missing}")
PY
echo "cold-build: ok in $((SECONDS - start))s with an empty module cache ($binaries cached binaries, none rebuilt)"
