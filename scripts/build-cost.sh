#!/usr/bin/env bash
# What `cri-api-v1` adds to its users' builds, side by side with the crates.io crate `k8s-cri`:
# the cold `cargo build` (dev profile, fresh target directory, every crate compiled, downloads
# done beforehand) of a minimal crate outside the workspace that depends on
#
#   cri-api-v1 (by path)   with no features, with `serde`, with every feature
#   k8s-cri (crates.io)    its latest release, default features (it has no others)
#
# The cri-api-v1 `all` dependent and the k8s-cri one have the same code (a tonic client type, a
# server type, and JSON through serde_json). k8s-cri runs protoc in its build script: the script
# installs Debian's `protobuf-compiler` when `protoc` is missing.
#
#   scripts/build-cost.sh [--runs N] [--out FILE]
#
# --runs N    build each dependent N times, interleaved, and take the median (default 1)
# --out FILE  also write the figures as `key<TAB>value` lines (for scripts/bench-report.sh)
# K8S_CRI_VERSION=x.y.z picks another k8s-cri release than the latest.
#
# The times depend on the machine and on what else runs on it: on a shared machine, run it
# when nothing else compiles, or with --runs 3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/dependent.sh"

runs=1
out=
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--runs N] [--out FILE]" >&2; exit 2 ;;
  esac
done
case $runs in '' | *[!0-9]* | 0) echo "error: --runs takes a positive number" >&2; exit 2 ;; esac

# Nothing may cache compilation across the cold builds.
unset RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

if ! command -v protoc >/dev/null; then
  echo "protoc not found; installing Debian's protobuf-compiler (k8s-cri's build script needs it)" >&2
  sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq protobuf-compiler >/dev/null
fi

# The latest k8s-cri release, from the crates.io sparse index (`cargo search` needs the web
# API); without the index, the newest version cargo resolves.
latest() {
  local name=$1 prefix
  case ${#name} in
    1) prefix=1 ;; 2) prefix=2 ;; 3) prefix=3/${name:0:1} ;; *) prefix=${name:0:2}/${name:2:2} ;;
  esac
  curl -fsS --max-time 30 "https://index.crates.io/$prefix/$name" 2>/dev/null |
    grep -Ev '"yanked": ?true' |
    sed -nE 's/.*"vers": ?"([0-9]+\.[0-9]+\.[0-9]+)".*/\1/p' |
    sort -V | tail -n 1
}
k8s_version=${K8S_CRI_VERSION:-$(latest k8s-cri || true)}
k8s_req=${k8s_version:+=$k8s_version}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
crate=$root/crates/cri-api-v1
# Every feature of cri-api-v1, read from its manifest so that a new feature is counted.
all_features=$(sed -n '/^\[features\]/,/^\[/p' "$crate/Cargo.toml" |
  sed -nE 's/^([a-z0-9_-]+) *=.*/\1/p' | grep -vx default | sed 's/.*/"&"/' | paste -sd, -)

names=(none serde all k8s-cri)
write_dependent "$work/none" dependent-none \
  "cri-api-v1 = { path = \"$crate\", default-features = false }" \
  "$(dependent_code cri_api_v1 none cri_api_v1::prost)"
write_dependent "$work/serde" dependent-serde \
  "cri-api-v1 = { path = \"$crate\", default-features = false, features = [\"serde\"] }
serde_json = \"1\"" \
  "$(dependent_code cri_api_v1 serde cri_api_v1::prost)"
write_dependent "$work/all" dependent-all \
  "cri-api-v1 = { path = \"$crate\", features = [$all_features] }
serde_json = \"1\"" \
  "$(dependent_code cri_api_v1 all)"
write_dependent "$work/k8s-cri" dependent-k8s-cri \
  "k8s-cri = \"${k8s_req:-*}\"
serde_json = \"1\"" \
  "$(dependent_code k8s_cri::v1 all)"

# Download everything first, so that the timed builds only compile.
for name in "${names[@]}"; do (cd "$work/$name" && cargo fetch --quiet); done
k8s_version=$(cd "$work/k8s-cri" && cargo pkgid k8s-cri | sed 's/.*[@#]//')

declare -A times
for ((run = 1; run <= runs; run++)); do
  for name in "${names[@]}"; do
    target=$work/target-$name
    rm -rf "$target"
    printf 'run %d/%d: %-8s ' "$run" "$runs" "$name" >&2
    seconds=$(build_dependent "$work/$name" "$target")
    echo "${seconds}s" >&2
    times[$name]="${times[$name]:-} $seconds"
    rm -rf "$target"
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A med
for name in "${names[@]}"; do med[$name]=$(median <<<"${times[$name]}"); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v max="$2" -v strict="$3" 'BEGIN { ok = strict ? r < max : r <= max; print ok ? "met" : "NOT met" }'; }

k8s=${med[k8s-cri]}
r_none=$(ratio "${med[none]}" "$k8s")
r_serde=$(ratio "${med[serde]}" "$k8s")
r_all=$(ratio "${med[all]}" "$k8s")
v_all=$(verdict "$r_all" 0.5 0)
v_none=$(verdict "$r_none" 0.333333 1)

echo
echo "Cold dev build of a minimal dependent ($(nproc) cores; median of $runs run(s); seconds)"
printf '%-34s %10s %9s   %s\n' dependent seconds "/ k8s-cri" runs
row() { printf '%-34s %10s %9s   %s\n' "$1" "$2" "$3" "${4# }"; }
row "cri-api-v1, no features" "${med[none]}" "$r_none" "${times[none]}"
row "cri-api-v1, serde" "${med[serde]}" "$r_serde" "${times[serde]}"
row "cri-api-v1, all features" "${med[all]}" "$r_all" "${times[all]}"
row "k8s-cri $k8s_version (default)" "$k8s" "1.00" "${times[k8s-cri]}"
echo
echo "target: all features <= 1/2 of k8s-cri: $v_all ($r_all)"
echo "target: no features  <  1/3 of k8s-cri: $v_none ($r_none)"

if [ -n "$out" ]; then
  {
    printf 'runs\t%s\n' "$runs"
    printf 'k8s_cri_version\t%s\n' "$k8s_version"
    printf 'protoc\t%s\n' "$(protoc --version)"
    printf 'all_features\t%s\n' "$all_features"
    for name in "${names[@]}"; do printf 'seconds_%s\t%s\n' "$name" "${med[$name]}"; done
    printf 'ratio_none\t%s\nratio_serde\t%s\nratio_all\t%s\n' "$r_none" "$r_serde" "$r_all"
    printf 'target_all\t%s\ntarget_none\t%s\n' "$v_all" "$v_none"
  } >"$out"
fi
