#!/usr/bin/env bash
# Soak check of the streaming server against the real Go crictl: `crictl exec -i cat` of
# 256 MiB into the cri-fake binary, N times, each bounded; counts completed, hung and short
# runs. It caught the SPDY stall probe deadlocking Go's spdystream (a PING answered by a
# frame worker while the stdin writer held the socket: 2 of 4 runs hung; 0 of 10 after).
#
#   scripts/go-crictl-stdin-soak.sh [--runs N] [--transport spdy|websocket] [--bound SECONDS]
#
# Binaries: $CRI_FAKE (default: built, release) and Go crictl ($CRI_GO_CRICTL, else
# scripts/critools.sh builds it). Exits 1 when any run hung or came back short.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=10 transport=spdy bound=40
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --bound) bound=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--transport spdy|websocket] [--bound SECONDS]" >&2; exit 2 ;;
  esac
done
fake=${CRI_FAKE:-}
if [ -z "$fake" ]; then
  cargo build --release --locked -q -p cri-fake
  fake=${CARGO_TARGET_DIR:-$root/target}/release/cri-fake
fi
go=${CRI_GO_CRICTL:-$(scripts/critools.sh)/crictl}
work=$(mktemp -d /tmp/go-crictl-soak.XXXXXX)
fake_pid=
cleanup() { [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
size=$((256 << 20))
head -c "$size" /dev/urandom >"$work/data"
: >"$work/crictl.yaml"
"$fake" --socket "$work/fake.sock" --seed 1 >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [ -S "$work/fake.sock" ] && break; sleep 0.05; done
crictl=("$go" --config "$work/crictl.yaml" -r "unix://$work/fake.sock")
ctr=$("${crictl[@]}" ps -q | head -n 1)
ok=0 hung=0 short=0
for i in $(seq "$runs"); do
  rc=0
  timeout -k 5 "$bound" "${crictl[@]}" exec --transport "$transport" -i "$ctr" cat <"$work/data" | wc -c >"$work/count" || rc=$?
  got=$(cat "$work/count")
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    hung=$((hung + 1)); echo "run $i: hung (over $bound s)"
  elif [ "$got" = "$size" ]; then
    ok=$((ok + 1))
  else
    short=$((short + 1)); echo "run $i: $got of $size bytes (exit $rc)"
  fi
done
echo "Go crictl exec -i cat, $transport, $runs runs of 256 MiB: $ok completed, $hung hung, $short short"
[ "$hung" = 0 ] && [ "$short" = 0 ]
