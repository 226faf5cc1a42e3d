#!/usr/bin/env bash
# Runs every command of the crictl example (crates/cri-client/examples/crictl.rs) in every
# output format, against the built-in fake runtime and against a private containerd 1.6
# (started with ../shared/peers/start-containerd.sh). Fails on any error or invalid JSON.
#
#   scripts/crictl-smoke.sh             fake runtime and containerd
#   scripts/crictl-smoke.sh --fake      fake runtime only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${CRI_SHARED_DIR:-$root/../shared}
cargo build --quiet -p cri-client --example crictl
bin=$root/target/debug/examples/crictl
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() {
  echo "+ crictl $*"
  "$bin" "$@" >"$out" 2>/dev/null || { echo "failed: crictl $*" >&2; "$bin" "$@" >&2 || true; exit 1; }
  # JSON is asked for with -o json, and is the default of info and inspect*.
  local json=no
  case " $* " in
    *" -o json "*) json=yes ;;
    *" -o "*) ;;
    *" info "*|*" inspect "*|*" inspectp "*|*" inspecti "*) json=yes ;;
  esac
  if [ $json = yes ]; then
    python3 -m json.tool "$out" >/dev/null || { echo "not JSON: crictl $*" >&2; cat "$out" >&2; exit 1; }
  fi
  head -n 4 "$out" | sed 's/^/    /'
}

every_format() {
  for output in table json yaml; do run "$@" -o "$output"; done
}

smoke() {
  run "$@" version
  every_format "$@" version
  run "$@" info
  every_format "$@" pods
  every_format "$@" ps -a
  every_format "$@" images
}

echo "== against the built-in fake runtime"
smoke
ps_json=$("$bin" ps -o json 2>/dev/null)
container=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["containers"][0]["id"])' <<<"$ps_json")
pod=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["containers"][0]["podSandboxId"])' <<<"$ps_json")
run inspect "$container"
run inspectp "$pod" -o yaml
run inspecti docker.io/library/busybox:1.36

[ "${1:-}" = --fake ] && exit 0

echo "== against containerd 1.6"
dir=$(mktemp -d /tmp/crictl-smoke.XXXXXX)
pid=$(sh "$shared/peers/start-containerd.sh" "$dir/c.sock")
trap 'sh "$shared/peers/stop-containerd.sh" "$pid" "$dir/c.sock" >/dev/null 2>&1; rm -rf "$dir" "$out"' EXIT
smoke --runtime-endpoint "unix://$dir/c.sock"
run --runtime-endpoint "unix://$dir/c.sock" inspecti localhost/busybox:1
run --runtime-endpoint "unix://$dir/c.sock" --v1-only version
echo "crictl smoke: all commands passed"
