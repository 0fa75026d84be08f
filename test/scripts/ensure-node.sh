#!/usr/bin/env bash
# ensure-node.sh: print a folder holding kubelet, kube-controller-manager and
# kube-scheduler v1.37.2, building them from the Go module proxy the first
# time, and install the node's Debian packages when they are missing
# (containerd, runc, the CNI plugins, iptables; needs root).
#
# The binaries are cached under ${WISP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp}/bin/node-<hash>,
# <hash> covering the wrapper module (test/tools/node), this script and the Go
# version. Cold: about 10-12 min on 2 cores (less after ensure-k8s.sh, whose
# compiled packages it shares).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# Debian's packages: containerd 1.6 + runc run the pods, the CNI plugins give
# the node its (unused: every test pod is hostNetwork) pod network, which the
# kubelet needs to report Ready.
missing=()
for pkg in containerd runc containernetworking-plugins iptables; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "ensure-node: installing ${missing[*]} from Debian's packages" >&2
  (
    exec 8>/tmp/wisp-apt.lock
    flock 8
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
      { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
  )
fi

tools="$here/../tools/node"
out=$(cache_dir node "$tools/go.mod" "$tools/go.sum")
bins=(kubelet kube-controller-manager kube-scheduler)
ready() { for b in "${bins[@]}"; do [[ -x "$out/$b" ]] || return 1; done; }
if ready; then echo "$out"; exit 0; fi
lock "$out"
if ready; then echo "$out"; exit 0; fi
echo "ensure-node: building kubelet, kube-controller-manager and kube-scheduler v1.37.2 into $out (cold: about 10 min on 2 cores)" >&2
tmp="$out.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
V=v1.37.2
LDF="-s -w -X k8s.io/component-base/version.gitVersion=$V -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/client-go/pkg/version.gitVersion=$V -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"
(
  cd "$tools"
  export GOFLAGS=-mod=mod
  go build -trimpath -ldflags "$LDF" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler >&2
)
"$tmp/kubelet" --version >&2
publish "$tmp" "$out"
trap - EXIT
echo "$out"
