#!/usr/bin/env bash
# Build the local control plane from Go modules into a cache outside the repository.
# Binaries are keyed by version, so a second run builds nothing.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}"

modver() { (cd "$here/$1" && go list -mod=mod -m -f '{{.Version}}' "$2"); }
kube_version="$(modver kubernetes k8s.io/kubernetes)"
etcd_version="$(modver etcd go.etcd.io/etcd/server/v3)"
kwok_version="$(modver kwok sigs.k8s.io/kwok)"
helm_version="$(modver helm helm.sh/helm/v3)"

export GOFLAGS="${GOFLAGS:-} -mod=mod -trimpath"
export CGO_ENABLED=0

# build MODULE_DIR OUT_DIR VERSION_LDFLAGS PACKAGE...
build() {
  local module="$1" out="$2" ldflags="$3"; shift 3
  local pkg name
  for pkg in "$@"; do
    name="${pkg##*/}"
    [[ "$name" == v3 ]] && name=etcd
    if [[ -x "$out/$name" ]]; then
      echo "cached  $out/$name"
      continue
    fi
    mkdir -p "$out"
    echo "build   $pkg -> $out/$name"
    local start=$SECONDS
    (cd "$here/$module" && go build -ldflags "-s -w $ldflags" -o "$out/$name.tmp" "$pkg")
    mv "$out/$name.tmp" "$out/$name"
    echo "built   $name in $((SECONDS - start))s"
  done
}

minor="${kube_version#v1.}"; minor="${minor%%.*}"
kube_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  kube_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

kube_pkgs=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
           k8s.io/kubernetes/cmd/kube-scheduler)
# kubectl only when the machine has none, so the project never depends on what is installed.
if ! command -v kubectl >/dev/null 2>&1 || [[ "${MODELSHIP_BUILD_KUBECTL:-0}" == 1 ]]; then
  kube_pkgs+=(k8s.io/kubernetes/cmd/kubectl)
fi

build etcd "$cache/etcd-$etcd_version" "-X go.etcd.io/etcd/api/v3/version.GitSHA=modelship" go.etcd.io/etcd/server/v3
build kwok "$cache/kwok-$kwok_version" \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$kube_version" \
  sigs.k8s.io/kwok/cmd/kwok
build kubernetes "$cache/kubernetes-$kube_version" "$kube_ldflags" "${kube_pkgs[@]}"
# helm renders and lints the chart, and installs it into the local cluster in tests.
build helm "$cache/helm-$helm_version" "-X helm.sh/helm/v3/internal/version.version=$helm_version" \
  helm.sh/helm/v3/cmd/helm

# KWOK's stage definitions (how fake nodes and pods move through their lifecycle) ship in its
# module source; keep the ones the local cluster uses beside the binary.
stages="$cache/kwok-$kwok_version/stages.yaml"
if [[ ! -s "$stages" ]]; then
  kwok_dir="$(cd "$here/kwok" && go list -mod=mod -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$kwok_dir/kustomize/stage/$f"
  done > "$stages.tmp"
  mv "$stages.tmp" "$stages"
  echo "wrote   $stages"
fi

# Gateway API CRDs (standard channel) from the module source, for the gatewayAPI router tests.
gateway_version="$(modver gateway-api sigs.k8s.io/gateway-api)"
gateway_crds="$cache/gateway-api-$gateway_version/crds.yaml"
if [[ ! -s "$gateway_crds" ]]; then
  mkdir -p "$(dirname "$gateway_crds")"
  gateway_dir="$(cd "$here/gateway-api" && go list -mod=mod -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)"
  for f in "$gateway_dir"/config/crd/standard/gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes,referencegrants}.yaml; do
    echo "---"
    cat "$f"
  done > "$gateway_crds.tmp"
  mv "$gateway_crds.tmp" "$gateway_crds"
  echo "wrote   $gateway_crds"
fi
