#!/usr/bin/env bash
# Release readiness (a CI step): every publishable crate of the workspace (found with
# `cargo metadata`, so new crates are covered)
#   1. follows the README's versioning rule and has its LICENSE, README.md, docs.rs settings and
#      a CHANGELOG.md entry for its version (`cargo xtask release-check`);
#   2. packages with LICENSE, README.md and CHANGELOG.md inside, and the packages build on their own
#      (`cargo package`, verified: what `cargo publish --dry-run` checks, without the upload);
#   3. documents as docs.rs builds it (all features, `--cfg docsrs`, RUSTC_BOOTSTRAP=1 standing
#      in for nightly), warnings denied;
#   4. for a patch release, keeps its API: cargo-semver-checks against the newest release tag
#      `v*` of this repository. It runs when a crate's version differs from its version at that
#      tag on the same 0.M line (a patch release being prepared) or with SEMVER_CHECKS=always;
#      a new 0.M line may break (the versioning rule), a crate unchanged since the tag is not
#      being released. Without any tag there is nothing to compare with, and it says so.
#
#   scripts/release-check.sh [--api-only]     (--api-only: steps 1 and 4)
set -euo pipefail
api_only=false
case "${1:-}" in
  "") ;;
  --api-only) api_only=true ;;
  *) echo "error: unknown argument \`$1\` (see the comment at the top of $0)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
semver_checks_version=0.51.0

echo "--- versioning rule and package metadata"
crates=$(cargo xtask release-check)
printf '%s\n' "$crates"
names=$(awk '{print $1}' <<<"$crates")
package_args=()
for name in $names; do package_args+=(-p "$name"); done

if ! $api_only; then
echo "--- package contents"
while read -r name version dir; do
  list=$(cargo package --locked --list -p "$name")
  for file in Cargo.toml LICENSE README.md CHANGELOG.md; do
    grep -qx "$file" <<<"$list" ||
      { echo "error: the package of $name $version ($dir) has no $file; add it to \`include\`" >&2; exit 1; }
  done
  echo "$name $version: $(wc -l <<<"$list") files, LICENSE, README.md and CHANGELOG.md included"
done <<<"$crates"

echo "--- cargo package, verified (${#package_args[@]} args)"
cargo package --locked "${package_args[@]}"
# Every member packages (publish = false ones too), as a maintainer runs it.
cargo package --locked --workspace --no-verify --allow-dirty >/dev/null

echo "--- docs as docs.rs builds them"
# Each crate alone (docs.rs builds one at a time, so features do not unify across crates), in a
# target directory of its own: RUSTC_BOOTSTRAP is part of cargo's fingerprints, and sharing
# the main one would make every later build start over.
for name in $names; do
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/docs-rs" RUSTC_BOOTSTRAP=1 \
    RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo doc --locked --no-deps --all-features -p "$name"
done
fi

echo "--- API check for patch releases"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "error: not a git repository: the API check compares with a release tag" >&2
  exit 1
fi
baseline=$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD 2>/dev/null || true)
if [ -z "$baseline" ]; then
  echo "no release tag v* in this repository yet: no baseline, no API check (the first"
  echo "release of each 0.M line may change anything)"
  exit 0
fi
to_check=()
while read -r name version dir; do
  old=$(git show "$baseline:$dir/Cargo.toml" 2>/dev/null | sed -n 's/^version = "\(.*\)"$/\1/p' | head -n1 || true)
  if [ -z "$old" ]; then
    echo "$name: new since $baseline; nothing to compare with"
  elif [ "${old%.*}" != "${version%.*}" ]; then
    echo "$name: $old at $baseline, now $version: a new line, breaking changes allowed"
  elif [ "$old" != "$version" ] || [ "${SEMVER_CHECKS:-}" = always ]; then
    echo "$name: $old at $baseline, now $version: a patch release, its API must not break"
    to_check+=("$name")
  else
    echo "$name: still $version as at $baseline: not being released (SEMVER_CHECKS=always checks it)"
  fi
done <<<"$crates"
[ ${#to_check[@]} -gt 0 ] || exit 0
tools=${CARGO_TARGET_DIR:-$root/target}/release-tools
if ! "$tools/bin/cargo-semver-checks" --version 2>/dev/null | grep -q " $semver_checks_version\$"; then
  echo "installing cargo-semver-checks $semver_checks_version (about 12 minutes on 2 cores)"
  cargo install --locked --quiet --root "$tools" "cargo-semver-checks@$semver_checks_version"
fi
for name in "${to_check[@]}"; do
  "$tools/bin/cargo-semver-checks" semver-checks --package "$name" --baseline-rev "$baseline"
done
