#!/usr/bin/env bash
# cri-conformance (crates/cri-conformance) against the cri-fake binary: every spec, once;
# fails when a spec fails or the run takes longer than CONFORMANCE_BUDGET seconds (default
# 60, the target; it takes a few seconds).
#
#   scripts/conformance.sh [OUTDIR]      (default: $CARGO_TARGET_DIR or target, then /conformance)
#
# Leaves in OUTDIR: junit.xml, conformance.log (the run's output), fake.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
out=${1:-$target/conformance}
budget=${CONFORMANCE_BUDGET:-60}
mkdir -p "$out"

cargo build --locked -q -p cri-fake --bin cri-fake -p cri-conformance --bin cri-conformance
fake=$target/debug/cri-fake
suite=$target/debug/cri-conformance

sock=$out/fake.sock
rm -f "$sock"
# The fake ends when this script does: its stdin is a pipe that closes with us.
coproc FAKE { exec "$fake" --socket "$sock" --exit-on-stdin-close >"$out/fake.out" 2>"$out/fake.log"; }
fake_pid=$FAKE_PID
cleanup() { kill "$fake_pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  grep -q 'cri-fake: serving' "$out/fake.out" 2>/dev/null && break
  sleep 0.1
done
grep -q 'cri-fake: serving' "$out/fake.out" || { echo "conformance.sh: cri-fake did not start:" >&2; cat "$out/fake.log" >&2; exit 1; }

start=$(date +%s.%N)
set +e
timeout "$((budget * 2))" "$suite" --runtime-endpoint "unix://$sock" --junit "$out/junit.xml" >"$out/conformance.log" 2>&1
status=$?
set -e
elapsed=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
sed -n '/^cri-conformance summary/,$p' "$out/conformance.log"
echo "cri-conformance against the cri-fake binary: exit $status in ${elapsed} s (budget ${budget} s)"
[ "$status" -eq 0 ] || { grep -E '^test .*FAILED' "$out/conformance.log" >&2 || true; exit 1; }
if [ "$(echo "$elapsed > $budget" | bc)" -eq 1 ]; then
  echo "conformance.sh: over the budget of ${budget} s" >&2
  exit 1
fi
