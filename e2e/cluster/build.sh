#!/usr/bin/env bash
# Build the local control plane from Go modules into a cache outside the repository.
# Binaries are keyed by version, so a second run builds nothing. Every file read from a
# module's source is fetched here with `go mod download`, whatever the Go module cache holds.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}"

die() { echo "build: $*" >&2; exit 1; }

# A module whose go.mod names a `toolchain` is built with that Go, which the go command takes
# from the Go module proxy (GOTOOLCHAIN): health/ needs a newer Go than most machines have.
toolchain() { sed -n 's/^toolchain //p' "$here/$1/go.mod"; }
# The Go the other modules need: the highest `go` directive among them, checked before anything runs.
need_go="$(for mod in "$here"/*/go.mod; do
  grep -q '^toolchain ' "$mod" || sed -n 's/^go //p' "$mod"; done | sort -V | tail -1)"
command -v go >/dev/null 2>&1 ||
  die "Go is not installed; the local cluster is built with Go $need_go or newer (https://go.dev/dl)"
have_go="$(go env GOVERSION)"; have_go="${have_go#go}"
if [[ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" != "$need_go" ]]; then
  die "Go $need_go or newer is needed (e2e/cluster/*/go.mod); this machine has Go $have_go"
fi

# modver MODULE_DIR MODULE: the version its go.mod requires, read without any network access.
modver() {
  local v
  v="$(sed -nE "s#^[[:space:]]*(require[[:space:]]+)?$2 (v[^[:space:]]+).*#\2#p" "$here/$1/go.mod" | head -1)"
  [[ -n "$v" ]] || die "$2 is not required by e2e/cluster/$1/go.mod"
  echo "$v"
}
# moddir MODULE_DIR MODULE: download MODULE at its pinned version and print its source directory.
moddir() {
  local version json dir
  version="$(modver "$1" "$2")"
  json="$(cd "$here/$1" && GOFLAGS=-mod=mod go mod download -json "$2@$version" 2>&1)" ||
    die "could not download $2@$version: $(sed -n 's/.*"Error": "\(.*\)".*/\1/p' <<<"$json")${json:+
$json}"
  dir="$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"$json")"
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download $2@$version gave no source directory: $json"
  echo "$dir"
}

kube_version="$(modver kubernetes k8s.io/kubernetes)"
etcd_version="$(modver etcd go.etcd.io/etcd/server/v3)"
kwok_version="$(modver kwok sigs.k8s.io/kwok)"
helm_version="$(modver helm helm.sh/helm/v3)"
gateway_version="$(modver gateway-api sigs.k8s.io/gateway-api)"
istio_version="$(modver istio istio.io/api)"
promop_module=github.com/prometheus-operator/prometheus-operator
promop_version="$(modver prometheus-operator "$promop_module")"
argocd_version="$(modver health github.com/argoproj/argo-cd/v3)"
# health/ is modelship's own program: its source is part of its key, so a change rebuilds it.
health_key="$(LC_ALL=C; cat "$here/health/go.mod" "$here/health/go.sum" "$here"/health/*.go |
  sha256sum | cut -c1-12)"

export GOFLAGS="${GOFLAGS:-} -mod=mod -trimpath"
export CGO_ENABLED=0

# build MODULE_DIR OUT_DIR VERSION_LDFLAGS PACKAGE[=BINARY_NAME]...
build() {
  local module="$1" out="$2" ldflags="$3"; shift 3
  local pkg name go_toolchain
  go_toolchain="$(toolchain "$module")"
  for pkg in "$@"; do
    name="${pkg##*/}"
    [[ "$name" == v3 ]] && name=etcd
    [[ "$pkg" == *=* ]] && { name="${pkg#*=}"; pkg="${pkg%%=*}"; }
    if [[ -x "$out/$name" ]]; then
      echo "cached  $out/$name"
      continue
    fi
    mkdir -p "$out"
    echo "build   $pkg -> $out/$name"
    local start=$SECONDS
    (cd "$here/$module" && env ${go_toolchain:+GOTOOLCHAIN="$go_toolchain"} \
      go build -ldflags "-s -w $ldflags" -o "$out/$name.tmp" "$pkg") ||
      die "go build $pkg failed (module e2e/cluster/$module)"
    mv "$out/$name.tmp" "$out/$name"
    echo "built   $name in $((SECONDS - start))s"
  done
}

# prefetch MODULE_DIR OUT_DIR BINARY...: when a binary is missing, download the module's
# dependencies in the background, so that a cold build fetches while earlier binaries compile
# (most of a cold build's time is downloads). `go build` then finds them in the module cache.
prefetching=()
trap 'kill "${prefetching[@]}" 2>/dev/null || true' EXIT  # a failed build leaves no download running
prefetch() {
  local module="$1" out="$2" name go_toolchain; shift 2
  for name in "$@"; do
    if [[ ! -x "$out/$name" ]]; then
      go_toolchain="$(toolchain "$module")"
      (cd "$here/$module" && env ${go_toolchain:+GOTOOLCHAIN="$go_toolchain"} \
        go mod download >/dev/null 2>&1 || true) &
      prefetching+=("$!")
      return
    fi
  done
}
prefetch kwok "$cache/kwok-$kwok_version" kwok
prefetch kubernetes "$cache/kubernetes-$kube_version" kube-apiserver kube-controller-manager \
  kube-scheduler kubectl
prefetch helm "$cache/helm-$helm_version" helm
prefetch health "$cache/health-$argocd_version-$health_key" modelship-health

minor="${kube_version#v1.}"; minor="${minor%%.*}"
kube_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  kube_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

# kubectl is built too, so the tests never depend on whichever kubectl a machine happens to have.
build etcd "$cache/etcd-$etcd_version" "-X go.etcd.io/etcd/api/v3/version.GitSHA=modelship" go.etcd.io/etcd/server/v3
build kwok "$cache/kwok-$kwok_version" \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$kube_version" \
  sigs.k8s.io/kwok/cmd/kwok
build kubernetes "$cache/kubernetes-$kube_version" "$kube_ldflags" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
# helm renders and lints the chart, and installs it into the local cluster in tests.
build helm "$cache/helm-$helm_version" "-X helm.sh/helm/v3/internal/version.version=$helm_version" \
  helm.sh/helm/v3/cmd/helm
# modelship-health: the health Argo CD's and kstatus's own code give modelship objects
# (tests/integration/test_health.py measures docs/gitops.md's health table with it).
build health "$cache/health-$argocd_version-$health_key" "" .=modelship-health

# A prefetch whose build came first is still downloading what go build already fetched.
for pid in "${prefetching[@]}"; do wait "$pid" || true; done

# concat OUT SOURCE_DIR FILE...: join YAML files from a module's source into OUT, atomically.
concat() {
  local out="$1" dir="$2" f; shift 2
  [[ -s "$out" ]] && { echo "cached  $out"; return; }
  mkdir -p "$(dirname "$out")"
  for f in "$@"; do
    [[ -s "$dir/$f" ]] || die "$f is missing from $dir"
    echo "---"
    cat "$dir/$f"
  done > "$out.tmp"
  mv "$out.tmp" "$out"
  echo "wrote   $out"
}

# KWOK's stage definitions (how fake nodes and pods move through their lifecycle) ship in its
# module source; keep the ones the local cluster uses beside the binary.
stages="$cache/kwok-$kwok_version/stages.yaml"
[[ -s "$stages" ]] || { kwok_dir="$(moddir kwok sigs.k8s.io/kwok)" || exit 1; }
[[ -s "$stages" ]] || concat "$stages" "$kwok_dir/kustomize/stage" \
  node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml

# Gateway API CRDs (standard channel) from the module source, for the gatewayAPI router tests.
gateway_crds="$cache/gateway-api-$gateway_version/crds.yaml"
[[ -s "$gateway_crds" ]] || { gateway_dir="$(moddir gateway-api sigs.k8s.io/gateway-api)" || exit 1; }
[[ -s "$gateway_crds" ]] || concat "$gateway_crds" "$gateway_dir/config/crd/standard" \
  gateway.networking.k8s.io_gatewayclasses.yaml gateway.networking.k8s.io_gateways.yaml \
  gateway.networking.k8s.io_httproutes.yaml gateway.networking.k8s.io_referencegrants.yaml

# The Prometheus Operator's PodMonitor, ServiceMonitor and PrometheusRule CRDs from the module
# source: the chart's monitors and deploy/prometheus's rules are checked against them.
promop_crds="$cache/prometheus-operator-$promop_version/crds.yaml"
[[ -s "$promop_crds" ]] || { promop_dir="$(moddir prometheus-operator "$promop_module")" || exit 1; }
[[ -s "$promop_crds" ]] || concat "$promop_crds" "$promop_dir/example/prometheus-operator-crd" \
  monitoring.coreos.com_podmonitors.yaml monitoring.coreos.com_servicemonitors.yaml \
  monitoring.coreos.com_prometheusrules.yaml

# Istio's VirtualService CRD, cut from the module's generated bundle, for the istio router tests.
istio_crds="$cache/istio-api-$istio_version/crds.yaml"
if [[ ! -s "$istio_crds" ]]; then
  istio_dir="$(moddir istio istio.io/api)" || exit 1
  bundle="$istio_dir/kubernetes/customresourcedefinitions.gen.yaml"
  [[ -s "$bundle" ]] || die "kubernetes/customresourcedefinitions.gen.yaml is missing from $istio_dir"
  mkdir -p "$(dirname "$istio_crds")"
  awk 'BEGIN { RS = "\n---\n"; ORS = "" }
       /\n  name: virtualservices\.networking\.istio\.io\n/ { print "---\n" $0 "\n"; found = 1 }
       END { exit !found }' "$bundle" > "$istio_crds.tmp" ||
    die "no virtualservices.networking.istio.io CRD in $bundle"
  mv "$istio_crds.tmp" "$istio_crds"
  echo "wrote   $istio_crds"
else
  echo "cached  $istio_crds"
fi
