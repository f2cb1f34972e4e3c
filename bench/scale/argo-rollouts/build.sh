#!/usr/bin/env bash
# Build the Argo Rollouts controller from its Go module at a pinned release, as the local
# control plane is built (e2e/cluster/build.sh): a consumer module that requires
# github.com/argoproj/argo-rollouts and copies its replace directives (which `go install
# pkg@version` refuses), built into $MODELSHIP_CACHE keyed by version; its CRDs are copied
# from the same module source. Prints the directory holding rollouts-controller and crds/.
# Run by bench/scale/run.py --argo-rollouts, never by `make test`.
set -euo pipefail

version="${ARGO_ROLLOUTS_VERSION:-v1.10.2}"
# v1.9.x and v1.10.x say `go 1.26.10`: the go command takes this approved toolchain from the
# Go module proxy when the machine's Go is older.
export GOTOOLCHAIN="${ARGO_ROLLOUTS_GOTOOLCHAIN:-go1.27.3}"
cache="${MODELSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelship}"
out="$cache/argo-rollouts-$version"
module=github.com/argoproj/argo-rollouts

if [[ -x "$out/rollouts-controller" && -d "$out/crds" ]]; then
  echo "$out"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init modelship.local/bench-argo-rollouts >/dev/null 2>&1
json="$(GOFLAGS=-mod=mod go mod download -json "$module@$version")" || {
  echo "argo-rollouts build: go mod download $module@$version failed: $json" >&2; exit 1; }
src="$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"$json")"
gomod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' <<<"$json")"
go_directive="$(sed -n 's/^go //p' "$gomod" | head -1)"
{
  echo "module modelship.local/bench-argo-rollouts"
  echo
  echo "go $go_directive"
  echo
  echo "require $module $version"
  echo
  # Its replace block, verbatim: the staging k8s.io modules at their published versions.
  sed -n '/^replace (/,/^)/p' "$gomod"
  sed -n '/^replace [^(]/p' "$gomod"
} >go.mod
cat >tools.go <<GO
//go:build tools

package tools

import _ "$module/cmd/rollouts-controller"
GO
mkdir -p "$out.tmp"
start=$SECONDS
echo "argo-rollouts build: $module@$version with $GOTOOLCHAIN (go $go_directive)" >&2
GOFLAGS="-mod=mod -trimpath" CGO_ENABLED=0 go build \
  -ldflags "-s -w -X $module/utils/version.version=${version#v}" \
  -o "$out.tmp/rollouts-controller" "$module/cmd/rollouts-controller" >&2
mkdir -p "$out.tmp/crds"
cp "$src"/manifests/crds/*-crd.yaml "$out.tmp/crds/"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "argo-rollouts build: built in $((SECONDS - start))s" >&2
echo "$out"
