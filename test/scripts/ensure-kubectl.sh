#!/usr/bin/env bash
# ensure-kubectl.sh: print a folder holding kubectl v1.37.2, building it from
# the Go module proxy the first time (k8s.io/kubernetes/cmd/kubectl of the
# wrapper module test/tools/node, the kubelet's, so both are one release).
#
# Cached under ${WISP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp}/bin/kubectl-<hash>,
# <hash> covering test/tools/node, this script and the Go version; a key of its
# own, so that adding kubectl rebuilds nothing of ensure-node.sh.
# Cold: about 6 min on 2 cores (less after ensure-node.sh, whose compiled
# packages it shares).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
tools="$here/../tools/node"
out=$(cache_dir kubectl "$tools/go.mod" "$tools/go.sum")
if [[ -x "$out/kubectl" ]]; then echo "$out"; exit 0; fi
lock "$out"
if [[ -x "$out/kubectl" ]]; then echo "$out"; exit 0; fi
echo "ensure-kubectl: building kubectl v1.37.2 into $out (cold: about 6 min on 2 cores)" >&2
tmp="$out.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp/src"
trap 'rm -rf "$tmp"' EXIT
V=v1.37.2
LDF="-s -w -X k8s.io/component-base/version.gitVersion=$V -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/client-go/pkg/version.gitVersion=$V -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"
# A copy of the wrapper module: -mod=mod may add kubectl's few modules of its
# own to go.sum, and the repository's files stay as they are.
cp "$tools/go.mod" "$tools/go.sum" "$tmp/src/"
(
  cd "$tmp/src"
  export GOFLAGS=-mod=mod
  go build -trimpath -ldflags "$LDF" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl >&2
)
rm -rf "$tmp/src"
"$tmp/kubectl" version --client >&2
publish "$tmp" "$out"
trap - EXIT
echo "$out"
