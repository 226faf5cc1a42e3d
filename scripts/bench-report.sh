#!/usr/bin/env bash
# Regenerates benches/RESULTS.md: runs the criterion benches of `cri-benches` (protobuf, proto3
# JSON, v1alpha2 <-> v1 conversion), then scripts/build-cost.sh, and writes the tables with the
# machine, the date and the targets of issue 6.
#
#   scripts/bench-report.sh [--build-runs N] [--no-build-cost] [-- CRITERION-OPTIONS...]
#   scripts/bench-report.sh --report-only
#
# --build-runs N     cold builds per dependent in build-cost.sh (median; default 1)
# --no-build-cost    keep the build-cost table out (benches only)
# --report-only      rewrite RESULTS.md from the last run's saved figures, measuring nothing
# CRITERION-OPTIONS  passed to the benches, e.g. `-- --quick` for a rough run in a minute or two
#
# Benchmarks need a quiet machine: other builds running at the same time lower the figures.
# The load average before and after is written into the report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command_line="scripts/bench-report.sh${*:+ $*}"
build_runs=1
build_cost=1
report_only=
while [ $# -gt 0 ]; do
  case $1 in
    --build-runs) build_runs=$2; shift 2 ;;
    --no-build-cost) build_cost=; shift ;;
    --report-only) report_only=1; shift ;;
    --) shift; break ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--build-runs N] [--no-build-cost] [-- CRITERION-OPTIONS...]" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
load() { cut -d' ' -f1 /proc/loadavg; }
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -E 's/.*"target_directory":"([^"]*)".*/\1/')
# The last run's machine and build-cost figures, beside criterion's (for --report-only).
saved=$target_dir/criterion/cri-bench-report
mkdir -p "$saved"

cargo build -p cri-benches --example report --quiet
if [ -z "$report_only" ]; then
  # Build everything before the first measurement, so that compiling does not disturb it.
  cargo bench -p cri-benches --no-run --quiet

  load_before=$(load)
  echo "== criterion benches (load average $load_before)" >&2
  cargo bench -p cri-benches --bench wire --bench json --bench convert -- "$@"
  load_after=$(load)

  rm -f "$saved/build-cost.tsv"
  if [ -n "$build_cost" ]; then
    echo "== build cost" >&2
    scripts/build-cost.sh --runs "$build_runs" --out "$saved/build-cost.tsv"
  fi

  elapsed=$(($(date +%s) - start))
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  {
    printf 'command\t%s\n' "$command_line"
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'elapsed\t%dm%02ds\n' $((elapsed / 60)) $((elapsed % 60))
    printf 'cpu\t%s\n' "${cpu:-unknown CPU}"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'memory_mib\t%s\n' "$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
    printf 'rustc\t%s\n' "$(rustc -V)"
    printf 'load_before\t%s\n' "$load_before"
    printf 'load_after\t%s\n' "$load_after"
    printf 'started\t%s\n' "$start"
  } >"$saved/machine.tsv"
elif [ ! -f "$saved/machine.tsv" ]; then
  echo "error: no saved run in $saved: run scripts/bench-report.sh first" >&2
  exit 1
fi

build_tsv=$saved/build-cost.tsv
[ -f "$build_tsv" ] || build_tsv=-
cargo run -p cri-benches --example report --quiet -- \
  "$target_dir/criterion" "$build_tsv" "$saved/machine.tsv" >"$saved/RESULTS.md"
cp "$saved/RESULTS.md" benches/RESULTS.md
echo "wrote benches/RESULTS.md ($(sed -n 's/^elapsed\t//p' "$saved/machine.tsv") of measuring)" >&2
