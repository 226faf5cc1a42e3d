#!/usr/bin/env bash
# Interoperability check of cri-streaming's SPDY/3.1 layer against an independent
# implementation: npm's `spdy-transport` (SPDY/3.1 framing, zlib header compression, stream
# and connection flow control). Both directions: our client against its server, its client
# against our server, each echoing BYTES bytes on one stream.
#
# Not part of CI (it needs node/npm and the npm registry); run it by hand:
#   scripts/spdy-npm-interop.sh [BYTES]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bytes=${1:-5000000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

command -v node >/dev/null || { echo "node is required (apt-get install nodejs npm)" >&2; exit 1; }
(cd "$work" && npm init -y >/dev/null && npm install --silent spdy-transport@3 >/dev/null)
cp "$root"/crates/cri-streaming/tests/npm/*.js "$work/"
cargo build --quiet -p cri-streaming --example spdy_peer
peer=$target/debug/examples/spdy_peer

echo "== our client -> spdy-transport server"
node "$work/server.js" 18431 >"$work/node-server.log" 2>&1 &
node_pid=$!
sleep 1
timeout 60 "$peer" client 127.0.0.1:18431 "$bytes"
wait "$node_pid" || true
cat "$work/node-server.log"
grep -q "echoed $bytes bytes" "$work/node-server.log"

echo "== spdy-transport client -> our server"
"$peer" server 127.0.0.1:18432 >"$work/rust-server.log" 2>&1 &
rust_pid=$!
sleep 1
(cd "$work" && timeout 60 node client.js 18432 "$bytes")
wait "$rust_pid" || true
cat "$work/rust-server.log"
grep -q "echoed $bytes bytes" "$work/rust-server.log"
echo "spdy-transport interop: ok"
