# lib.sh: shared helpers of the ensure-*.sh scripts. Source it; do not run it.
#
# cache_dir NAME FILE...  prints the cache folder for NAME keyed by the hash of
#                         FILE... (the recipe), the calling script and the Go version.
# publish TMP OUT         moves a finished build into place atomically.
wisp_cache="${WISP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp}"

cache_dir() {
  local name=$1; shift
  local hash
  hash=$( (cat "$@" "${BASH_SOURCE[1]}"; go version) | sha256sum | cut -c1-16)
  echo "$wisp_cache/bin/$name-$hash"
}

publish() {
  local tmp=$1 out=$2
  rm -rf "$out"
  mv "$tmp" "$out"
}
