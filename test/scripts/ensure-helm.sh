#!/usr/bin/env bash
# ensure-helm.sh: print a folder holding a `helm` binary (Helm v3.22.0), building
# it from the Go module proxy the first time.
#
# The ldflags are those of Helm's own Makefile: the version, and the default
# Kubernetes version that `helm template` and `helm lint` assume without a
# cluster (1.37, from the client-go v0.37 Helm is built with; left unset, Helm
# would assume 1.20 and refuse the chart's kubeVersion ">=1.30.0-0").
# Cold: about 4 min on 2 cores (measured 4m13s with an empty build cache on a
# busy machine). Cached by recipe hash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
tools="$here/../tools/helm"
out=$(cache_dir helm "$tools/go.mod" "$tools/go.sum")
if [[ -x "$out/helm" ]]; then echo "$out"; exit 0; fi
lock "$out"
if [[ -x "$out/helm" ]]; then echo "$out"; exit 0; fi
echo "ensure-helm: building Helm v3.22.0 into $out (cold: about 4 min on 2 cores)" >&2
tmp="$out.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
LDF="-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0 -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  LDF="$LDF -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=37"
done
(
  cd "$tools"
  CGO_ENABLED=0 go build -trimpath -ldflags "$LDF" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm >&2
)
"$tmp/helm" version --short >&2
publish "$tmp" "$out"
trap - EXIT
echo "$out"
