#!/usr/bin/env bash
# ensure-vault.sh: print a folder holding a `vault` binary (HashiCorp Vault v1.14.2,
# the last MPL-2.0 release), building it from the Go module proxy the first time.
#
# Vault 1.14.2 needs two build-time fixes, made in a temporary folder (nothing
# is committed): (1) the published vault/sdk v0.9.2, copied with one init-time
# ExistenceCheck panic disabled, which 1.14's sys backend trips; (2) godebug
# x509negativeserial=1 (a dependency embeds a CA with a negative serial).
# Cold: about 8 min on 2 cores, peak memory about 4.5 GB. Cached by recipe hash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
tools="$here/../tools/vault"
out=$(cache_dir vault "$tools/go.mod" "$tools/go.sum")
if [[ -x "$out/vault" ]]; then echo "$out"; exit 0; fi
lock "$out"
if [[ -x "$out/vault" ]]; then echo "$out"; exit 0; fi
echo "ensure-vault: building Vault v1.14.2 into $out (cold: about 8 min on 2 cores)" >&2
tmp="$out.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp/src"
trap 'rm -rf "$tmp"' EXIT
cp "$tools/go.mod" "$tools/go.sum" "$tmp/src/"
(
  cd "$tmp/src"
  sdk=$(go mod download -json github.com/hashicorp/vault/sdk@v0.9.2 | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  mkdir -p third_party && cp -r "$sdk" third_party/vault-sdk && chmod -R u+w third_party/vault-sdk
  sed -i 's/^\t\tif p.ExistenceCheck == nil {$/\t\tif false \&\& p.ExistenceCheck == nil { \/\/ patched: vault 1.14 sys backend trips this check/' \
    third_party/vault-sdk/framework/backend.go
  grep -q 'if false && p.ExistenceCheck == nil' third_party/vault-sdk/framework/backend.go
  go build -trimpath -ldflags "-s -w" -o "$tmp/vault" github.com/hashicorp/vault >&2
)
rm -rf "$tmp/src"
"$tmp/vault" version >&2
publish "$tmp" "$out"
trap - EXIT
echo "$out"
