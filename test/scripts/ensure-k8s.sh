#!/usr/bin/env bash
# ensure-k8s.sh: print a folder holding kube-apiserver v1.37.2 and etcd v3.7.0,
# building them from the Go module proxy the first time.
#
# The binaries are cached under ${WISP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp}/bin/k8s-<hash>,
# where <hash> covers the wrapper module (test/tools/k8s/go.mod, go.sum), this script
# and the Go version, so a changed recipe builds afresh and an unchanged one is reused.
# Usage: export KUBEBUILDER_ASSETS=$(test/scripts/ensure-k8s.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools="$here/../tools/k8s"
cache="${WISP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp}"
hash=$( (cat "$tools/go.mod" "$tools/go.sum" "$0"; go version) | sha256sum | cut -c1-16)
out="$cache/bin/k8s-$hash"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then echo "$out"; exit 0; fi
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then echo "$out"; exit 0; fi
echo "ensure-k8s: building kube-apiserver and etcd into $out (cold: about 10 min on 2 cores)" >&2
tmp="$out.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
V=v1.37.2
LDF="-s -w -X k8s.io/component-base/version.gitVersion=$V -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/client-go/pkg/version.gitVersion=$V -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"
(
  cd "$tools"
  export GOFLAGS=-mod=mod
  go build -trimpath -ldflags "$LDF" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
  go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3 >&2
)
"$tmp/kube-apiserver" --version >&2
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
