#!/usr/bin/env bash
# Follow kubernetes/cri-api: move runtime.v1 to the newest release tag, regenerate, refresh the
# API-surface snapshots and write the change log. .github/workflows/upstream.yml runs it daily;
# it runs the same on any machine.
#
#   scripts/upstream-update.sh [--pre] [--test] [--git URL-OR-PATH] [--gogo-git URL-OR-PATH]
#                              [--body FILE]
#
#   --pre       pre-releases (v0.37.0-beta.0) count as newer too
#   --test      then run `cargo xtask check` and the workspace's tests (all but cri-tests, whose
#               peers live outside the repository)
#   --git, --gogo-git   where to fetch from (a mirror or a git bundle) instead of GitHub
#   --body FILE the change-log entry for the pull request [default: $target/upstream-update.md]
#
# When upstream has not moved it says "nothing to do" and changes nothing. Either way it prints
# (and appends to $GITHUB_OUTPUT when set) `changed=true|false`, `from=`, `to=` and `body=`.
# XTASK_BIN runs a built xtask binary instead of `cargo xtask` (the script's own test does).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export XTASK_ROOT="$root"

pre=() tests=false body="" vendor_args=() cri_api_git="" gogo_git=""
while [ $# -gt 0 ]; do
  case "$1" in
    --pre) pre=(--pre) ;;
    --test) tests=true ;;
    --git|--gogo-git)
      [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }
      if [ "$1" = --git ]; then cri_api_git=$2; else gogo_git=$2; fi
      vendor_args+=("$1" "$2"); shift ;;
    --body)
      [ $# -ge 2 ] || { echo "error: --body needs a file" >&2; exit 2; }
      body=$2; shift ;;
    *) echo "error: unknown argument \`$1\` (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
body=${body:-${CARGO_TARGET_DIR:-$root/target}/upstream-update.md}
mkdir -p "$(dirname "$body")"

xtask() {
  if [ -n "${XTASK_BIN:-}" ]; then "$XTASK_BIN" "$@"; else cargo xtask "$@"; fi
}

output() {
  printf '%s\n' "$@"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then printf '%s\n' "$@" >>"$GITHUB_OUTPUT"; fi
}

# Refuse to mix an update with unrelated local edits of what the update writes.
if git rev-parse --git-dir >/dev/null 2>&1 && [ -n "$(git status --porcelain -- proto)" ]; then
  echo "error: proto/ has uncommitted changes; commit or restore them first" >&2
  exit 1
fi

vendored=$(xtask vendor --latest "${pre[@]}" "${vendor_args[@]}")
printf '%s\n' "$vendored"
moved=$(sed -n 's/^runtime\.v1: moved from \([^ ]*\) to \([^ ]*\)$/\1 \2/p' <<<"$vendored")
if [ -z "$moved" ]; then
  grep -q '^runtime\.v1: already current' <<<"$vendored" ||
    { echo "error: cannot tell from \`cargo xtask vendor --latest\` whether runtime.v1 moved" >&2; exit 1; }
  echo "nothing to do: upstream has no newer release"
  output changed=false
  exit 0
fi
read -r from to <<<"$moved"

xtask regen
xtask surface --write
xtask changelog --entry-out "$body"

if $tests; then
  # xtask's tests fetch from git bundles of the upstream repositories (../shared/upstream on
  # the project's machines); elsewhere, make them from the sources.
  if [ -z "${CRI_UPSTREAM_BUNDLES:-}" ] && [ ! -f "$root/../shared/upstream/cri-api.bundle" ]; then
    bundles=${CARGO_TARGET_DIR:-$root/target}/upstream-bundles
    make_bundle() {
      rm -rf "$bundles/$1.git"
      git clone --quiet --mirror "$2" "$bundles/$1.git"
      git -C "$bundles/$1.git" bundle create --quiet "$bundles/$1.bundle" --all
    }
    make_bundle cri-api "${cri_api_git:-https://github.com/kubernetes/cri-api}"
    make_bundle gogo-protobuf "${gogo_git:-https://github.com/gogo/protobuf}"
    export CRI_UPSTREAM_BUNDLES=$bundles
  fi
  xtask check
  cargo test --workspace --all-features --exclude cri-tests
fi

output changed=true "from=$from" "to=$to" "body=$body"
