#!/usr/bin/env bash
# critest v1.36.0 (the CRI validation suite of kubernetes-sigs/cri-tools), every spec, against
# the cri-fake binary; then the result is compared with the list of specs expected to fail
# (crates/cri-fake/critest-expected-failures.txt: spec name, a tab, the kernel feature it
# needs). Fails when a spec outside the list fails, when a listed spec passes (the list stays
# true), when a listed spec is no longer in the suite, or when the run takes longer than
# CRITEST_BUDGET seconds (default 120, the target; it takes about 20 s).
#
#   scripts/critest.sh [OUTDIR]      (default: $CARGO_TARGET_DIR or target, then /critest)
#
# Leaves in OUTDIR: report.json (ginkgo's JSON report, which other tests may read instead of
# running critest again), results.tsv (state, seconds, spec name), critest.log, fake.log.
# Needs jq. Finds critest through CRI_CRITOOLS_DIR, else builds it with scripts/critools.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
out=${1:-$target/critest}
expected=$root/crates/cri-fake/critest-expected-failures.txt
budget=${CRITEST_BUDGET:-120}
mkdir -p "$out"
rm -f "$out/report.json" "$out/results.tsv"

command -v jq >/dev/null || { echo "critest.sh: jq is missing" >&2; exit 1; }
[ -f "$expected" ] || { echo "critest.sh: $expected is missing" >&2; exit 1; }
tools=${CRI_CRITOOLS_DIR:-$(scripts/critools.sh)}
critest=$tools/critest
[ -x "$critest" ] || { echo "critest.sh: $critest is missing (scripts/critools.sh builds it)" >&2; exit 1; }

cargo build --locked -q -p cri-fake --bin cri-fake
fake=$target/debug/cri-fake

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
grep -q 'cri-fake: serving' "$out/fake.out" || { echo "critest.sh: cri-fake did not start:" >&2; cat "$out/fake.log" >&2; exit 1; }

start=$(date +%s)
set +e
(cd "$out" && "$critest" \
  --runtime-endpoint "unix://$sock" --image-endpoint "unix://$sock" \
  --ginkgo.no-color --ginkgo.succinct \
  --ginkgo.json-report="$out/report.json" \
  --ginkgo.timeout=20m) >"$out/critest.log" 2>&1
status=$?
set -e
elapsed=$(( $(date +%s) - start ))
[ -s "$out/report.json" ] || { echo "critest.sh: critest wrote no report (exit $status):" >&2; tail -n 40 "$out/critest.log" >&2; exit 1; }

# One line per spec: state, seconds, the full name (its containers' texts and its own).
jq -r '.[].SpecReports[]? | select(.LeafNodeType == "It")
  | [.State, ((.RunTime // 0) / 1e9 | floor | tostring),
     ((.ContainerHierarchyTexts // []) + [.LeafNodeText] | join(" "))] | @tsv' \
  "$out/report.json" | sort -t "$(printf '\t')" -k3 >"$out/results.tsv"

count() { awk -F'\t' -v s="$1" '$1 == s' "$out/results.tsv" | wc -l; }
passed=$(count passed); skipped=$(count skipped)
failed=$(awk -F'\t' '$1 != "passed" && $1 != "skipped" && $1 != "pending"' "$out/results.tsv" | wc -l)
total=$(wc -l <"$out/results.tsv")
echo "critest against cri-fake: $passed passed, $failed failed, $skipped skipped of $total, in ${elapsed} s"

# The comparison with the list (comments and blank lines ignored).
grep -v -e '^#' -e '^[[:space:]]*$' "$expected" | cut -f1 | sort -u >"$out/expected.txt"
awk -F'\t' '$1 != "passed" && $1 != "skipped" && $1 != "pending" { print $3 }' "$out/results.tsv" | sort -u >"$out/failed.txt"
cut -f3 "$out/results.tsv" | sort -u >"$out/all.txt"
bad=0
while IFS= read -r spec; do
  echo "UNEXPECTED FAILURE: $spec"
  bad=1
done < <(comm -23 "$out/failed.txt" "$out/expected.txt")
while IFS= read -r spec; do
  if grep -qxF -- "$spec" "$out/all.txt"; then
    echo "LISTED BUT PASSED (remove it from $expected): $spec"
  else
    echo "LISTED BUT NOT IN THE SUITE (remove it from $expected): $spec"
  fi
  bad=1
done < <(comm -13 "$out/failed.txt" "$out/expected.txt")
if [ "$elapsed" -gt "$budget" ]; then
  echo "critest took ${elapsed} s, over the budget of ${budget} s (CRITEST_BUDGET)"
  echo "slowest specs:"; sort -t "$(printf '\t')" -k2 -rn "$out/results.tsv" | head -n 10
  bad=1
fi
if [ "$bad" -ne 0 ]; then
  echo "critest.sh: the result differs from $expected; critest's log: $out/critest.log" >&2
  exit 1
fi
echo "critest.sh: every failure is listed with its reason, every listed spec failed"
