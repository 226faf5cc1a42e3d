#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a short, fixed time, starting from its committed seed
# corpus (fuzz/corpus/<target>/, read only: new inputs go to a scratch directory).
#
#   scripts/fuzz.sh                 every target, FUZZ_SECONDS (default 60) each
#   scripts/fuzz.sh json            one target
#   FUZZ_SECONDS=3600 scripts/fuzz.sh wire
#
# Installs cargo-fuzz if missing (cargo install cargo-fuzz --locked, about 80 s on 2 cores).
# No nightly toolchain: RUSTC_BOOTSTRAP=1 lets stable build with libFuzzer's instrumentation,
# and --sanitizer none because the sanitizers need nightly's std. Runs every target even when
# one fails, then fails naming the targets that crashed; crash inputs are in
# fuzz/artifacts/<target>/ (reproduce: cargo fuzz run --sanitizer none <target> <file>).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
# The fuzz workspace builds with other flags: keep it apart from the main target dir.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}/fuzz

if ! command -v cargo-fuzz >/dev/null; then
  start=$(date +%s)
  cargo install cargo-fuzz --locked
  echo "cargo-fuzz installed in $(( $(date +%s) - start )) s"
fi

cd "$root/fuzz"
start=$(date +%s)
cargo fuzz build --sanitizer none
echo "fuzz targets built in $(( $(date +%s) - start )) s"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
failed=()
for target in "${targets[@]}"; do
  [ -d "corpus/$target" ] || { echo "no seed corpus at fuzz/corpus/$target" >&2; exit 1; }
  scratch=$(mktemp -d)
  echo "--- $target: ${seconds} s from $(ls "corpus/$target" | wc -l) seeds"
  if cargo fuzz run --sanitizer none "$target" "$scratch" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 2>&1 | tail -n 40; then
    echo "--- $target: no failure in ${seconds} s"
  else
    failed+=("$target")
    echo "--- $target: FAILED; inputs in fuzz/artifacts/$target/:"
    ls "artifacts/$target" || true
  fi
  rm -rf "$scratch"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]}" >&2
  exit 1
fi
