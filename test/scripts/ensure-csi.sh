#!/usr/bin/env bash
# ensure-csi.sh: print a folder holding spiffe-csi-driver v0.2.6 and registrar
# (test/tools/csi/registrar: registers the driver with the kubelet, in place of
# node-driver-registrar, which the Go module proxy does not serve), building
# them the first time. Cold: about 1 min. Cached by recipe hash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
tools="$here/../tools/csi"
out=$(cache_dir csi "$tools/go.mod" "$tools/go.sum" "$tools/registrar/main.go")
ready() { [[ -x "$out/spiffe-csi-driver" && -x "$out/registrar" ]]; }
if ready; then echo "$out"; exit 0; fi
lock "$out"
if ready; then echo "$out"; exit 0; fi
echo "ensure-csi: building spiffe-csi-driver v0.2.6 and registrar into $out" >&2
tmp="$out.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tools"
  # spiffe-csi v0.2.6 has no entry in the checksum database; go.sum pins it.
  export GOFLAGS=-mod=mod GONOSUMDB=github.com/spiffe/spiffe-csi CGO_ENABLED=0
  go build -trimpath -ldflags "-s -w" -o "$tmp/" github.com/spiffe/spiffe-csi/cmd/spiffe-csi-driver ./registrar >&2
)
publish "$tmp" "$out"
trap - EXIT
echo "$out"
