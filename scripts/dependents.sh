#!/usr/bin/env bash
# Builds a minimal crate *outside* the workspace that depends on each API crate by path, the
# way a user's crate would: once with `default-features = false` (and checks that no tonic or
# hyper is pulled in), once with every feature.
#
#   scripts/dependents.sh          build all four, sharing one target dir (quick; CI runs this)
#   scripts/dependents.sh --cold   each build from scratch in its own target dir, timed
#
# scripts/build-cost.sh compares such cold builds with the same dependent of `k8s-cri`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/dependent.sh"
mode=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shared_target=$root/target/dependents

if [ "$mode" = --cold ]; then what="cold build (s)"; else what="build (s), shared target"; fi
printf '%-18s %-9s %s\n' crate features "$what"
for crate in cri-api-v1 cri-api-v1alpha2; do
  lib=${crate//-/_}
  for features in none all; do
    dir=$work/$crate-$features
    if [ "$features" = none ]; then
      deps="$crate = { path = \"$root/crates/$crate\", default-features = false }"
    else
      deps="$crate = { path = \"$root/crates/$crate\", features = [\"client\", \"server\", \"serde\"] }
serde_json = \"1\""
    fi
    write_dependent "$dir" "dependent-$crate-$features" "$deps" "$(dependent_code "$lib" "$features" "$lib::prost")"
    if [ "$mode" = --cold ]; then target=$dir/target; else target=$shared_target; fi
    seconds=$(build_dependent "$dir" "$target")
    if [ "$features" = none ]; then
      tree=$(cd "$dir" && cargo tree --quiet -e normal --prefix none)
      if grep -Eq '^(tonic|hyper|tokio|h2) ' <<<"$tree"; then
        echo "error: $crate with default-features = false pulls in a transport stack:" >&2
        grep -E '^(tonic|hyper|tokio|h2) ' <<<"$tree" >&2
        exit 1
      fi
    fi
    printf '%-18s %-9s %s\n' "$crate" "$features" "$seconds"
  done
done
# cri-client's `serde` feature alone must give JSON for the API types (no direct cri-api-v1 dependency).
dir=$work/cri-client-serde
write_dependent "$dir" dependent-cri-client-serde \
  "cri-client = { path = \"$root/crates/cri-client\", features = [\"serde\"] }
serde_json = \"1\"" \
  "$(dependent_code cri_client::cri_api_v1 serde cri_client::cri_api_v1::prost)"
if [ "$mode" = --cold ]; then target=$dir/target; else target=$shared_target; fi
printf '%-18s %-9s %s\n' cri-client serde "$(build_dependent "$dir" "$target")"
