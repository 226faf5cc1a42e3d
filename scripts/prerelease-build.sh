#!/usr/bin/env bash
# The next Kubernetes minor, early (a CI step): vendor the newest kubernetes/cri-api tag,
# pre-releases included (`cargo xtask vendor --latest --pre`, v0.37.0-beta.0 today), into a
# scratch copy of this checkout, regenerate there, build every crate of the family against it
# and run their unit tests (not the peer suites), and print the change-log entry `cargo xtask
# changelog` would write. The checkout is never touched.
#
#   scripts/prerelease-build.sh [--git URL-OR-PATH] [--gogo-git URL-OR-PATH]
#
# Offline by default: from the git bundles in ../shared/upstream (or $CRI_UPSTREAM_BUNDLES);
# --git and --gogo-git fetch from elsewhere (a mirror, GitHub). The scratch copy (the working
# tree's files, uncommitted edits included, as one commit of a new repository) lives in
# $target/prerelease/workspace and is rebuilt on every run; it builds in the checkout's target
# directory, so dependencies are not built again (the family's own crates are: their paths
# differ). When the lock is already at the newest tag it says so and builds nothing.
#
# Exits non-zero, naming the step, when vendoring, regeneration, the build or a unit test fails
# on the pre-release: that is the news this step exists for.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bundles=${CRI_UPSTREAM_BUNDLES:-$root/../shared/upstream}
cri_api_git=$bundles/cri-api.bundle
gogo_git=$bundles/gogo-protobuf.bundle
while [ $# -gt 0 ]; do
  case "$1" in
    --git|--gogo-git)
      [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }
      if [ "$1" = --git ]; then cri_api_git=$2; else gogo_git=$2; fi
      shift ;;
    *) echo "error: unknown argument \`$1\` (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
for source in "$cri_api_git" "$gogo_git"; do
  case "$source" in
    *://*) ;;
    *) [ -e "$source" ] || { echo "error: $source does not exist (the offline upstream bundles; see the README, \"Updating to a new upstream release\")" >&2; exit 1; } ;;
  esac
done

target=${CARGO_TARGET_DIR:-$root/target}
scratch=$target/prerelease/workspace
started=$(date +%s)
step() { printf -- '--- %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail() { echo "error: on the pre-release, $*" >&2; exit 1; }

step "scratch copy of the working tree in $scratch"
rm -rf "$scratch"
mkdir -p "$scratch"
if git rev-parse --git-dir >/dev/null 2>&1; then
  # Tracked and untracked files, not the ignored ones (target/), nor files deleted locally.
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
    tar --null -T - -cf - | tar -xf - -C "$scratch"
else
  tar --exclude=./target --exclude=./.git -cf - . | tar -xf - -C "$scratch"
fi
# A repository of its own, so that `cargo xtask changelog` compares with proto/ as copied.
git -C "$scratch" init --quiet
git -C "$scratch" add -A
git -C "$scratch" -c user.name=prerelease -c user.email=prerelease@localhost \
  commit --quiet --no-verify -m "the checkout, copied"

# xtask is built from the checkout, and runs on the scratch copy (XTASK_ROOT).
xtask() { XTASK_ROOT=$scratch cargo xtask "$@"; }

step "cargo xtask vendor --latest --pre"
vendored=$(xtask vendor --latest --pre --git "$cri_api_git" --gogo-git "$gogo_git") ||
  fail "cargo xtask vendor --latest --pre failed"
printf '%s\n' "$vendored"
if grep -q '^runtime\.v1: already current' <<<"$vendored"; then
  echo "the lock is already at the newest tag: nothing newer to build against"
  exit 0
fi
to=$(sed -n 's/^runtime\.v1: moved from [^ ]* to \([^ ]*\)$/\1/p' <<<"$vendored")
[ -n "$to" ] || fail "cannot tell from \`cargo xtask vendor\` which tag it took"

step "cargo xtask regen ($to)"
xtask regen >/dev/null || fail "cargo xtask regen failed on $to"

step "the change log \`cargo xtask changelog\` would write for $to"
xtask changelog --dry-run || fail "cargo xtask changelog failed on $to"

family=(cri-api-v1 cri-api-v1alpha2 cri-convert cri-client cri-fake cri-streaming cri-log crictl)
packages=()
for name in "${family[@]}"; do packages+=(-p "$name"); done
step "build the family on $to and run its unit tests: ${family[*]}"
# Unit tests only (--lib --bins): the peer suites (cri-tests, the crates' tests/) stay out.
# No `cargo build` of the binaries: that would overwrite the checkout's target/debug/crictl.
# No incremental caches: the copy is new on every run, and they would only fill the disk.
(cd "$scratch" && CARGO_TARGET_DIR=$target CARGO_INCREMENTAL=0 cargo test --locked --all-features \
  --lib --bins "${packages[@]}") ||
  fail "the family does not build or its unit tests fail on $to (above)"

step "the family builds on $to and its unit tests pass"
