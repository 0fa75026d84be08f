#!/usr/bin/env bash
# ensure-spire.sh: print a folder holding spire-server, spire-agent and
# oidc-discovery-provider (SPIRE v1.13.3), building them from the Go module
# proxy the first time. Needs cgo and gcc (go-sqlite3).
# Cold: about 5 min on 2 cores. Cached by recipe hash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
tools="$here/../tools/spire"
out=$(cache_dir spire "$tools/go.mod" "$tools/go.sum")
if [[ -x "$out/spire-server" && -x "$out/spire-agent" && -x "$out/oidc-discovery-provider" ]]; then echo "$out"; exit 0; fi
lock "$out"
if [[ -x "$out/spire-server" && -x "$out/spire-agent" && -x "$out/oidc-discovery-provider" ]]; then echo "$out"; exit 0; fi
echo "ensure-spire: building SPIRE v1.13.3 into $out (cold: about 5 min on 2 cores)" >&2
tmp="$out.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tools"
  # The version tag goes in without the "v": with it the server panics at init.
  CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X github.com/spiffe/spire/pkg/common/version.gittag=1.13.3" -o "$tmp/" \
    github.com/spiffe/spire/cmd/spire-server github.com/spiffe/spire/cmd/spire-agent \
    github.com/spiffe/spire/support/oidc-discovery-provider >&2
)
"$tmp/spire-server" --version >&2 || true
publish "$tmp" "$out"
trap - EXIT
echo "$out"
