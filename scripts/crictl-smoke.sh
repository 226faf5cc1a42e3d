#!/usr/bin/env bash
# Runs every read command of crictl (crates/crictl) in every output format against the
# built-in fake runtime and against a private containerd 1.6 (started with
# ../shared/peers/start-containerd.sh), after creating pods and containers there with crictl's
# own write commands (runp, create, start, stopp) from the configs of the golden tests (../shared/crictl-golden/state).
# Fails on any error, invalid JSON, empty output, or a `jq` state selection that finds nothing.
#
#   scripts/crictl-smoke.sh             fake runtime and containerd
#   scripts/crictl-smoke.sh --fake      fake runtime only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${CRI_SHARED_DIR:-$root/../shared}
cargo build --quiet -p crictl
bin=${CARGO_TARGET_DIR:-$root/target}/debug/crictl
# The built-in fake afresh each run, leaving nothing in the user's state directory.
export CRICTL_FAKE_STATE=none
states=$shared/crictl-golden/state
out=$(mktemp)
trap 'rm -f "$out"' EXIT
command -v jq >/dev/null || { echo "crictl smoke needs jq (apt-get install jq)" >&2; exit 1; }

run() {
  echo "+ crictl $*"
  "$bin" --config /dev/null "$@" >"$out" 2>/dev/null || { echo "failed: crictl $*" >&2; "$bin" --config /dev/null "$@" >&2 || true; exit 1; }
  case " $* " in
    *" -o json "*|*" info "*|*" inspect "*|*" inspectp "*|*" inspecti "*)
      case " $* " in *" -o table "*|*" -o yaml "*) ;; *)
        jq -e . "$out" >/dev/null || { echo "not JSON: crictl $*" >&2; cat "$out" >&2; exit 1; } ;;
      esac ;;
  esac
  grep -q . "$out" || { echo "no output: crictl $*" >&2; exit 1; }
  head -n 3 "$out" | sed 's/^/    /'
}

every_format() {
  for output in table json yaml; do run "$@" -o "$output"; done
}

# Every read command in every format; $1.. are the global flags.
smoke() {
  run "$@" version
  run "$@" info
  run "$@" info -o json
  run "$@" info -o yaml
  every_format "$@" pods
  every_format "$@" ps -a
  run "$@" ps
  every_format "$@" images
  every_format "$@" imagefsinfo
  every_format "$@" stats -a
  every_format "$@" statsp
  local ps_json container pod image
  ps_json=$("$bin" --config /dev/null "$@" ps -a -o json 2>/dev/null)
  # crictl ps -a -o json | jq '.containers[]|select(.state=="CONTAINER_RUNNING")'
  running=$(jq -c '.containers[]|select(.state=="CONTAINER_RUNNING")|.id' <<<"$ps_json" | wc -l)
  listed=$("$bin" --config /dev/null "$@" ps -q 2>/dev/null | wc -l)
  [ "$running" -gt 0 ] && [ "$running" = "$listed" ] \
    || { echo "jq selected $running running containers, crictl ps lists $listed" >&2; exit 1; }
  container=$(jq -r '.containers[0].id' <<<"$ps_json")
  pod=$(jq -r '.containers[0].podSandboxId' <<<"$ps_json")
  image=$(jq -r '.containers[0].image.image' <<<"$ps_json")
  every_format "$@" inspect "$container"
  every_format "$@" inspectp "$pod"
  every_format "$@" inspecti "$image"
}

echo "== against the built-in fake runtime"
dir=$(mktemp -d /tmp/crictl-smoke.XXXXXX)
( cd "$dir" && env -u CONTAINER_RUNTIME_ENDPOINT "$bin" --config /dev/null version 2>&1 >/dev/null | grep -q "built-in fake runtime" ) \
  || [ -e /run/containerd/containerd.sock ] || { echo "no note about the built-in fake runtime" >&2; exit 1; }
if [ ! -e /run/containerd/containerd.sock ] && [ ! -e /run/crio/crio.sock ] && [ ! -e /var/run/cri-dockerd.sock ]; then
  smoke
fi
rm -rf "$dir"

[ "${1:-}" = --fake ] && exit 0

echo "== against containerd 1.6"
dir=$(mktemp -d /tmp/crictl-smoke.XXXXXX)
pid=$(sh "$shared/peers/start-containerd.sh" "$dir/c.sock")
trap 'sh "$shared/peers/stop-containerd.sh" "$pid" "$dir/c.sock" >/dev/null 2>&1; rm -rf "$dir" "$out"' EXIT
c=(--runtime-endpoint "unix://$dir/c.sock" --timeout 30s)
web=$("$bin" --config /dev/null "${c[@]}" runp "$states/web.json")
batch=$("$bin" --config /dev/null "${c[@]}" runp "$states/batch.json")
app=$("$bin" --config /dev/null "${c[@]}" create "$web" "$states/app.json" "$states/web.json")
"$bin" --config /dev/null "${c[@]}" start "$app" >/dev/null
"$bin" --config /dev/null "${c[@]}" create "$web" "$states/side.json" "$states/web.json" >/dev/null
job=$("$bin" --config /dev/null "${c[@]}" create "$batch" "$states/job.json" "$states/batch.json")
"$bin" --config /dev/null "${c[@]}" start "$job" >/dev/null
sleep 2
"$bin" --config /dev/null "${c[@]}" stopp "$batch" >/dev/null
smoke "${c[@]}"
run "${c[@]}" inspect "$job"
run "${c[@]}" inspectp "$batch"
echo "crictl smoke: all commands passed"
