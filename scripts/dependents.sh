#!/usr/bin/env bash
# Builds a minimal crate *outside* the workspace that depends on each API crate by path, the
# way a user's crate would: once with `default-features = false` (and checks that no tonic or
# hyper is pulled in), once with every feature.
#
#   scripts/dependents.sh          build all four, sharing one target dir (quick; CI runs this)
#   scripts/dependents.sh --cold   each build from scratch in its own target dir, timed
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
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
    mkdir -p "$dir/src"
    if [ "$features" = none ]; then
      dep="{ path = \"$root/crates/$crate\", default-features = false }"
      extra=""
      code="pub fn encode(request: &$lib::ListContainersRequest) -> Vec<u8> {
    $lib::prost::Message::encode_to_vec(request)
}"
    else
      dep="{ path = \"$root/crates/$crate\", features = [\"client\", \"server\", \"serde\"] }"
      extra='serde_json = "1"'
      code="pub type Client<T> = $lib::runtime_service_client::RuntimeServiceClient<T>;
pub type Server<T> = $lib::image_service_server::ImageServiceServer<T>;
pub fn json(request: &$lib::ListContainersRequest) -> String {
    serde_json::to_string(request).unwrap()
}"
    fi
    cat >"$dir/Cargo.toml" <<TOML
[package]
name = "dependent-$crate-$features"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$crate = $dep
$extra

[workspace]
TOML
    printf '%s\n' "$code" >"$dir/src/lib.rs"
    (cd "$dir" && cargo fetch --quiet)
    if [ "$mode" = --cold ]; then target=$dir/target; else target=$shared_target; fi
    start=$(date +%s.%N)
    (cd "$dir" && CARGO_TARGET_DIR=$target cargo build --quiet)
    end=$(date +%s.%N)
    if [ "$features" = none ]; then
      tree=$(cd "$dir" && cargo tree --quiet -e normal --prefix none)
      if grep -Eq '^(tonic|hyper|tokio|h2) ' <<<"$tree"; then
        echo "error: $crate with default-features = false pulls in a transport stack:" >&2
        grep -E '^(tonic|hyper|tokio|h2) ' <<<"$tree" >&2
        exit 1
      fi
    fi
    printf '%-18s %-9s %.1f\n' "$crate" "$features" "$(echo "$end - $start" | bc)"
  done
done
