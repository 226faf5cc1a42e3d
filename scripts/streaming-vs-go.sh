#!/usr/bin/env bash
# The project's crictl beside the Go crictl v1.36.0, from the same run: time, CPU and peak
# memory of the crictl process for each streaming shape, over SPDY and WebSocket, through
# cri-fake's streaming server and (with --containerd) containerd 1.6's.
#
#   scripts/streaming-vs-go.sh [--runs N] [--bytes N] [--containerd] [--only REGEX]
#
# --runs N      runs per command and shape (default 3); ours and Go's alternate, medians shown
# --bytes N     bytes per bulk shape (default 1073741824, 1 GiB)
# --containerd  also against a private containerd 1.6 (../shared/peers/start-containerd.sh)
# --only REGEX  only the rows whose "target transport shape" matches REGEX
#
# Shapes: out (stdout only), in-out (`exec -i cat < FILE > /dev/null`), in (stdin only),
# small (100,000 lines of 64 bytes, each written and flushed on its own, through cat), echo
# (a whole `exec … echo` session, 20 of them), pf-echo (cri-fake: FILE through its echo port,
# both ways at once), pf-up / pf-down (containerd: FILE to a sink / from a source on the host).
# For port forward, "wall" is the transfer's time as the local client sees it; CPU and peak are
# the crictl process's. Figures come from /usr/bin/time (GNU time): wall seconds, user+system
# seconds, maximum resident set size. "server cpu s" is the user+system CPU the server's own
# processes spent meanwhile (cri-fake; containerd and its shim, not the commands they run),
# read from /proc: how much work the client's way of sending makes for the server.
#
# Binaries: $CRICTL (default target/release/crictl), $CRI_FAKE (default target/release/cri-fake;
# both built with `cargo build --release` when missing), $GO_CRICTL (default: scripts/critools.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=3
bytes=$((1 << 30))
with_containerd=
only=.
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --containerd) with_containerd=1; shift ;;
    --only) only=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--runs N] [--bytes N] [--containerd] [--only REGEX]" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "streaming-vs-go.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
target_dir=${CARGO_TARGET_DIR:-$root/target}
ours=${CRICTL:-$target_dir/release/crictl}
fake_bin=${CRI_FAKE:-$target_dir/release/cri-fake}
if [ -z "${CRICTL:-}" ] || [ -z "${CRI_FAKE:-}" ]; then
  cargo build --release --locked -q -p crictl -p cri-fake
fi
go=${GO_CRICTL:-$(scripts/critools.sh)/crictl}

work=$(mktemp -d /tmp/streaming-vs-go.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${ctrd_pid:-}" ]; then sh "${CRI_SHARED_DIR:-$root/../shared}/peers/stop-containerd.sh" "$ctrd_pid" "$work/c.sock" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
head -c "$bytes" /dev/urandom >"$work/data"
python3 - "$work/small" <<'EOF'
import sys
line = b"x" * 63 + b"\n"
with open(sys.argv[1], "w") as f:
    f.write("import os, sys\nline = %r\nfor _ in range(100000):\n    os.write(1, line)\n" % line)
EOF
: >"$work/crictl.yaml"

# One measured run of SCRIPT (sh), in which @T@ stands before the command to time: prints
# "wall cpu peak_mib", or "failed(CODE)" / "hung".
measure() {
  local out=$work/time.out rc=0
  local timed="/usr/bin/time -o $out -f '%e %U %S %M'"
  rm -f "$out"
  timeout 300 sh -c "${1//@T@/$timed}" || rc=$?
  if [ $rc -eq 124 ]; then echo hung; return; fi
  if [ $rc -ne 0 ] || [ ! -s "$out" ]; then echo "failed($rc)"; return; fi
  tail -n 1 "$out" | awk '{ printf "%.2f %.2f %.1f\n", $1, $2 + $3, $4 / 1024 }'
}

crictl_cmd() { # crictl_cmd BINARY ENDPOINT ARGS...: the argv, as words
  local bin=$1 endpoint=$2; shift 2
  echo "$bin" --config "$work/crictl.yaml" --runtime-endpoint "$endpoint" --image-endpoint "$endpoint" "$@"
}

# CPU ticks of the server's processes so far ($server_pids, set per target).
server_ticks() {
  local p t=0
  for p in $server_pids; do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo $t
}

# A shape's run for one client: "wall cpu peak server_cpu" (see measure).
run_shape() {
  local before result
  before=$(server_ticks)
  result=$(run_shape_inner "$@")
  case $result in
    [0-9]*) echo "$result $(awk -v t=$(($(server_ticks) - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')" ;;
    *) echo "$result" ;;
  esac
}

run_shape_inner() { # run_shape_inner BINARY ENDPOINT TRANSPORT SHAPE CTR POD KIND
  local bin=$1 ep=$2 tr=$3 shape=$4 ctr=$5 pod=$6 kind=$7
  local c v4=
  c=$(crictl_cmd "$bin" "$ep" exec --transport "$tr")
  # containerd speaks WebSocket v4, which cannot close stdin: commands that end by themselves.
  if [ "$kind" = containerd ] && [ "$tr" = websocket ]; then v4=1; fi
  case $shape in
    out)
      if [ "$kind" = fake ]; then
        measure "exec @T@ $c $ctr seq $((bytes / 9)) >/dev/null"
      else
        measure "exec @T@ $c $ctr busybox head -c $bytes /dev/zero >/dev/null"
      fi ;;
    in-out)
      if [ -n "$v4" ]; then
        measure "exec @T@ $c -i $ctr busybox head -c $bytes <'$work/data' >/dev/null"
      else
        measure "exec @T@ $c -i $ctr cat <'$work/data' >/dev/null"
      fi ;;
    in)
      if [ -n "$v4" ]; then
        # (busybox's head with its stdout on /dev/null ends at once, having read nothing)
        measure "exec @T@ $c -i $ctr sh -c 'busybox head -c $bytes | busybox wc -c' <'$work/data' >/dev/null"
      elif [ "$kind" = containerd ]; then
        # (in containerd's busybox, `cat` or `wc` with stdout on /dev/null end at once)
        measure "exec @T@ $c -i $ctr busybox wc -c <'$work/data' >/dev/null"
      else
        measure "exec @T@ $c -i $ctr sh -c 'cat >/dev/null' <'$work/data'"
      fi ;;
    small)
      if [ -n "$v4" ]; then
        measure "python3 '$work/small' | @T@ $c -i $ctr busybox head -c 6400000 >/dev/null"
      else
        measure "python3 '$work/small' | @T@ $c -i $ctr cat >/dev/null"
      fi ;;
    echo)
      measure "exec @T@ sh -c 'for i in \$(seq 20); do $c $ctr echo hi >/dev/null || exit 1; done'" ;;
    pf-*)
      port_forward "$bin" "$ep" "$tr" "$shape" "$pod" ;;
  esac
}

# Port forward: crictl in the background, a Python client moving the data; crictl's CPU time
# and peak memory are read from /proc before it is stopped.
port_forward() { # port_forward BINARY ENDPOINT TRANSPORT SHAPE POD
  local bin=$1 ep=$2 tr=$3 shape=$4 pod=$5 remote
  case $shape in
    pf-echo) remote=8080 ;;
    pf-up) remote=$sink_port ;;
    pf-down) remote=$source_port ;;
  esac
  local log=$work/pf.log
  : >"$log"
  # shellcheck disable=SC2046
  $(crictl_cmd "$bin" "$ep" port-forward --transport "$tr" "$pod" "0:$remote") >"$log" 2>&1 &
  local pid=$! port="" i=0
  while [ -z "$port" ] && [ $i -lt 200 ]; do
    port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -n 1)
    if ! kill -0 $pid 2>/dev/null; then break; fi
    sleep 0.05; i=$((i + 1))
  done
  if [ -z "$port" ]; then wait $pid 2>/dev/null || true; echo "failed(listen)"; return; fi
  local wall
  wall=$(timeout 300 python3 - "$port" "$shape" "$work/data" "$bytes" <<'EOF' || echo failed
import socket, sys, threading, time
port, shape, path, size = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
start = time.monotonic()
def send():
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
got = 0
if shape in ("pf-echo", "pf-up"):
    t = threading.Thread(target=send); t.start()
buf = bytearray(1 << 20)
while True:
    n = s.recv_into(buf)
    if n == 0:
        break
    got += n
if shape in ("pf-echo", "pf-up"):
    t.join()
want = {"pf-echo": size, "pf-up": 0, "pf-down": size}[shape]
if got != want:
    print("failed(%d bytes back)" % got); sys.exit(0)
print("%.2f" % (time.monotonic() - start))
EOF
)
  local ticks peak
  ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
  peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
  kill -TERM $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  case $wall in
    failed*) echo "$wall"; return ;;
  esac
  awk -v wall="$wall" -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" -v peak="$peak" \
    'BEGIN { printf "%s %.2f %.1f\n", wall, ticks / hz, peak / 1024 }'
}

median() { # median VALUES...: the median of the numbers, or the first non-number
  local v
  for v in "$@"; do case $v in [0-9]*) ;; *) echo "$v"; return ;; esac; done
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

compare() { # compare TARGET TRANSPORT SHAPE ENDPOINT CTR POD KIND
  local target=$1 tr=$2 shape=$3 ep=$4 ctr=$5 pod=$6 kind=$7
  echo "$target $tr $shape" | grep -Eq -- "$only" || return 0
  local ow=() oc=() op=() os=() gw=() gc=() gp=() gs=() r
  for _ in $(seq "$runs"); do
    read -r -a r <<<"$(run_shape "$ours" "$ep" "$tr" "$shape" "$ctr" "$pod" "$kind")"
    ow+=("${r[0]}"); oc+=("${r[1]:-}"); op+=("${r[2]:-}"); os+=("${r[3]:-}")
    if [ "$kind" = containerd ] && [ "$tr" = websocket ]; then
      # Go crictl asks containerd 1.6 for v5 only (exec: 403) and tunnels SPDY (port forward),
      # which containerd does not serve.
      gw+=(n/a); gc+=(""); gp+=(""); gs+=("")
    else
      read -r -a r <<<"$(run_shape "$go" "$ep" "$tr" "$shape" "$ctr" "$pod" "$kind")"
      gw+=("${r[0]}"); gc+=("${r[1]:-}"); gp+=("${r[2]:-}"); gs+=("${r[3]:-}")
    fi
  done
  printf '%-10s %-9s %-7s | %7s %7s | %7s %7s | %7s %7s | %7s %7s\n' "$target" "$tr" "$shape" \
    "$(median "${ow[@]}")" "$(median "${gw[@]}")" \
    "$(median "${oc[@]}")" "$(median "${gc[@]}")" \
    "$(median "${op[@]}")" "$(median "${gp[@]}")" \
    "$(median "${os[@]}")" "$(median "${gs[@]}")"
}

header() {
  echo "streaming, the project's crictl (ours) beside Go crictl v1.36.0 (go): medians of $runs runs each, alternating; $bytes bytes per bulk shape"
  echo "ours: $ours"; echo "go:   $go"
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-10s %-9s %-7s | %15s | %15s | %15s | %15s\n' target transport shape "wall s (ours go)" "cpu s (ours go)" "peak MiB (ours go)" "server cpu s"
}

# cri-fake: one seeded pod and container.
"$fake_bin" --socket "$work/fake.sock" --seed 1 >"$work/fake.log" 2>&1 &
pids+=($!)
server_pids=$!
for _ in $(seq 100); do [ -S "$work/fake.sock" ] && break; sleep 0.05; done
fake_ep=unix://$work/fake.sock
fake_ctr=$($go --config "$work/crictl.yaml" -r "$fake_ep" ps -q | head -n 1)
fake_pod=$($go --config "$work/crictl.yaml" -r "$fake_ep" pods -q | head -n 1)

header
for tr in spdy websocket; do
  for shape in out in-out in small echo pf-echo; do
    compare cri-fake "$tr" "$shape" "$fake_ep" "$fake_ctr" "$fake_pod" fake
  done
done

if [ -n "$with_containerd" ]; then
  ctrd_pid=$(sh "${CRI_SHARED_DIR:-$root/../shared}/peers/start-containerd.sh" "$work/c.sock" 2>/dev/null | tail -n 1)
  ctrd_ep=unix://$work/c.sock
  mkdir -p "$work/logs"
  cat >"$work/pod.json" <<EOF
{"metadata":{"name":"bench","uid":"bench","namespace":"bench","attempt":0},"log_directory":"$work/logs",
 "linux":{"cgroup_parent":"/streaming-vs-go","security_context":{"namespace_options":{"network":2}}}}
EOF
  echo '{"metadata":{"name":"bench"},"image":{"image":"localhost/busybox:1"},"command":["/bin/sleep","3600"],"log_path":"bench.log"}' >"$work/ctr.json"
  g() { "$go" --config "$work/crictl.yaml" -r "$ctrd_ep" -i "$ctrd_ep" "$@"; }
  ctrd_pod=$(g runp "$work/pod.json")
  ctrd_ctr=$(g create "$ctrd_pod" "$work/ctr.json" "$work/pod.json")
  g start "$ctrd_ctr" >/dev/null
  server_pids="$ctrd_pid $(pgrep -f "containerd-shim.* -address $work/c.sock" | tr '\n' ' ')"
  # The pod shares the host's network: a sink and a source for port forward.
  python3 - "$bytes" >"$work/ports" <<'EOF' &
import socket, sys, threading
size = int(sys.argv[1])
def serve(sock, handler):
    while True:
        c, _ = sock.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()
def sink(c):
    buf = bytearray(1 << 20)
    try:
        while c.recv_into(buf):
            pass
    except OSError:
        pass
    c.close()
def source(c):
    block = bytes(1 << 20)
    left = size
    try:
        while left:
            n = min(left, len(block))
            c.sendall(block[:n])
            left -= n
    except OSError:
        pass
    c.close()
socks = []
for handler in (sink, source):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16); socks.append(s)
    threading.Thread(target=serve, args=(s, handler), daemon=True).start()
print(socks[0].getsockname()[1], socks[1].getsockname()[1], flush=True)
threading.Event().wait()
EOF
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.05; done
  read -r sink_port source_port <"$work/ports"
  for tr in spdy websocket; do
    for shape in out in-out in small echo pf-up pf-down; do
      compare containerd "$tr" "$shape" "$ctrd_ep" "$ctrd_ctr" "$ctrd_pod" containerd
    done
  done
fi
