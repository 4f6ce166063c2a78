#!/usr/bin/env bash
# Two nodes of broker/nats/examples/chat on one real nats-server, and two
# Chromium pages, one on each node, in the same room: each shows the
# other's line (two-nodes.mjs). .ci/run runs it after the module's tests.
#
#   bash broker/nats/interop/run.sh
#
# Uses Debian's chromium and the playwright-core of interop/node (installs
# either when missing), builds nats-server (from the module's tool
# dependency, or $UNIEVENT_NATS_SERVER) and the chat node, starts them on
# free ports of 127.0.0.1 and stops them by PID. Prints one PASS/FAIL line
# per case and "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module=$(dirname "$here")
root=$(cd "$module/../.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/broker-nats-interop.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
die() {
	echo "broker/nats interop: $*" >&2
	for f in "$tmp"/*.err; do [ -s "$f" ] && { echo "-- $f"; tail -n 20 "$f"; } >&2; done
	exit 1
}

if [ ! -x /usr/bin/chromium ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || die "installing chromium failed"
fi
if [ ! -d "$root/interop/node/node_modules/playwright-core" ]; then
	(cd "$root/interop/node" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

cd "$module" || exit 1
nats_bin=${UNIEVENT_NATS_SERVER:-}
if [ -z "$nats_bin" ]; then
	nats_bin="$tmp/nats-server"
	go build -o "$nats_bin" github.com/nats-io/nats-server/v2 || die "building nats-server failed"
fi
go build -o "$tmp/chat" ./examples/chat || die "building examples/chat failed"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

nats_port=$(free_port)
: >"$tmp/nats.err"
"$nats_bin" -a 127.0.0.1 -p "$nats_port" >"$tmp/nats.out" 2>"$tmp/nats.err" &
pids+=("$!")
for ((i = 0; i < 100; i++)); do
	grep -q "Server is ready" "$tmp/nats.err" && break
	sleep 0.1
done
grep -q "Server is ready" "$tmp/nats.err" || die "nats-server did not start"
nats_url="nats://127.0.0.1:$nats_port"
echo "nats-server: $nats_url"

# start_node NAME: a chat node on a free port, sharing rooms through NATS;
# sets addr to its HOST:PORT once it prints its listening line.
declare -A node_pid
start_node() {
	local name=$1 pid
	"$tmp/chat" -addr 127.0.0.1:0 -nats "$nats_url" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	node_pid[$name]=$pid
	addr=""
	for ((i = 0; i < 100; i++)); do
		addr=$(sed -n 's|^listening on ws://\([^/]*\)/.*|\1|p' "$tmp/$name.out")
		[ -n "$addr" ] && break
		kill -0 "$pid" 2>/dev/null || die "$name exited before listening"
		sleep 0.1
	done
	[ -n "$addr" ] || die "$name printed no listening line within 10 s"
	echo "$name: $addr (pid $pid)"
}
start_node node-a
a="http://$addr/"
start_node node-b
b="http://$addr/"

timeout -k 10 120 node "$here/two-nodes.mjs" --a "$a" --b "$b"
rc=$?
[ "$rc" = 0 ] || die "two-nodes.mjs exited with status $rc"

# Each node stops cleanly on SIGTERM (its connections closed, its broker
# closed after): exit status 0.
for name in node-a node-b; do
	kill -TERM "${node_pid[$name]}"
	wait "${node_pid[$name]}"
	rc=$?
	[ "$rc" = 0 ] || die "$name exited with status $rc on SIGTERM"
	echo "$name: stopped on SIGTERM, status 0"
done
