#!/usr/bin/env bash
# The cri-fake binary's start-up time to a serving socket (issue 11's target: under 100 ms),
# measured by its bench (release build): spawn, first Version answer, clean stop; 20 runs
# without seeding and 20 with 1000 pods. Fails if the median without seeding misses the target.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked -p cri-fake --bench startup -- 20
