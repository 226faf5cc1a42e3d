#!/usr/bin/env bash
# containerd 1.6 as ../shared/peers/start-containerd.sh starts it, restarted with its
# registry.k8s.io, k8s.gcr.io and gcr.io mirrors pointed at a local registry (scripts/registry-peer.sh),
# so that pulls of the suites' images work without network.
#
#   scripts/containerd-with-registry.sh SOCKET ADDRESS    prints containerd's PID
#
# Stop it with ../shared/peers/stop-containerd.sh PID SOCKET.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SOCKET ADDRESS" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
sock=$(realpath -m "$1"); address=$2; dir=$sock.d
pid=$(sh "$root/../shared/peers/start-containerd.sh" "$sock")
kill "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
cat >>"$dir/config.toml" <<CFG
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
  endpoint = ["http://$address"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."gcr.io"]
  endpoint = ["http://$address"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."k8s.gcr.io"]
  endpoint = ["http://$address"]
CFG
containerd --config "$dir/config.toml" </dev/null >>"$dir/containerd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  ctr -a "$sock" version >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "containerd exited:" >&2; tail -n 20 "$dir/containerd.log" >&2; exit 1; }
  sleep 0.1
done
ctr -a "$sock" version >/dev/null 2>&1 || { echo "containerd did not answer" >&2; kill "$pid"; exit 1; }
# The CRI plugin answers a moment after containerd's own API.
sleep 1
echo "$pid"
