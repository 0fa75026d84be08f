# lib.sh: shared helpers of the ensure-*.sh scripts. Source it; do not run it.
#
# cache_dir NAME FILE...  prints the cache folder for NAME keyed by the hash of
#                         FILE... (the recipe), the calling script and the Go version.
# publish TMP OUT         moves a finished build into place atomically.
# lock OUT                serialises builds of OUT across processes (parallel
#                         test binaries may ask for the same tool at once).
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

lock() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1.lock"
  flock 9
}
