#!/usr/bin/env bash
# The real Go crictl and critest v1.36.0 (kubernetes-sigs/cri-tools), built from the offline
# source archive beside the project by ../shared/peers/build-critools.sh, for the tests that
# use them as peers (tests/tests/go_crictl_streaming.rs, critest). Prints the directory that
# holds `crictl` and `critest`; a second run with the same archive builds nothing.
#
#   scripts/critools.sh [OUTDIR]          (default: target/critools)
#   export CRI_CRITOOLS_DIR="$(scripts/critools.sh)"
#
# The tests read CRI_CRITOOLS_DIR, else target/critools; they fail (never skip) when the
# binaries are missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target/critools}
shared=${CRI_SHARED_DIR:-$root/../shared}
build=$shared/peers/build-critools.sh
if [ ! -f "$build" ]; then
  echo "critools.sh: $build is missing (the shared directory beside the project)" >&2
  exit 1
fi
# build-critools.sh prints the directory last; its build output goes to stderr.
dir=$(sh "$build" "$out" | tail -n 1)
for tool in crictl critest; do
  if [ ! -x "$dir/$tool" ]; then
    echo "critools.sh: $dir/$tool was not built" >&2
    exit 1
  fi
done
echo "$dir"
