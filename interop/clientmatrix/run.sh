#!/usr/bin/env bash
# The client matrix: this project's client (ws/client, driven by the
# clientmatrix program here) against real servers, each started three times
# (plain, -deflate, -deflate with a certificate for wss), on 127.0.0.1.
#
#   bash interop/clientmatrix/run.sh
#
# interop/run.sh runs it as one of its suites. It needs what interop/run.sh
# installs (interop/node's node_modules, Debian's python3-websockets); it
# makes a CA and a server certificate at run time for wss, builds the peer
# servers and the driver into a temporary directory, starts every server
# (PIDs kept, stopped on exit), runs the driver once per peer, at the same
# time, and prints their "PASS unievent-client PEER/MODE/CASE" and
# "FAIL ...: reason" lines. Exits non-zero on any failure, or when a server
# died during the run.
#
# Environment: INTEROP_CASE_TIMEOUT_MS (default 10000) bounds each case,
# CLIENTMATRIX_PEER_TIMEOUT (seconds, default 100) each peer's driver;
# CLIENTMATRIX_RACE=1 builds the driver (and so ws/client) with -race, some
# six times slower: give it INTEROP_CASE_TIMEOUT_MS=60000 and
# CLIENTMATRIX_PEER_TIMEOUT=300.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
interop=$(dirname "$here")
root=$(dirname "$interop")
cd "$root" || exit 1
export PATH="/usr/local/go/bin:$PATH"
export INTEROP_CASE_TIMEOUT_MS="${INTEROP_CASE_TIMEOUT_MS:-10000}"
peer_timeout="${CLIENTMATRIX_PEER_TIMEOUT:-100}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unievent-clientmatrix.XXXXXX")
pids=() # every process this script started, stopped on exit by PID
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
	echo "FAIL unievent-client setup: $*"
	exit 1
}

[ -d "$interop/node/node_modules/ws" ] || die "interop/node/node_modules is missing (npm ci in interop/node, as interop/run.sh does)"
/usr/bin/python3 -c 'import websockets' 2>/dev/null || die "/usr/bin/python3 cannot import websockets (Debian's python3-websockets)"
[ -x /usr/bin/tinyproxy ] || die "/usr/bin/tinyproxy is missing (Debian's tinyproxy)"

go build -o "$tmp/echo" ./examples/echo || die "building examples/echo failed"
# The root's go vet does not descend into this module.
(cd "$here" && go vet ./...) >"$tmp/vet.txt" 2>&1 || die "go vet in interop/clientmatrix: $(tr '\n' ' ' <"$tmp/vet.txt")"
(cd "$here" && go build ${CLIENTMATRIX_RACE:+-race} -o "$tmp/clientmatrix" . &&
	go build -o "$tmp/gorillaserver" ./gorillaserver &&
	go build -o "$tmp/coderserver" ./coderserver &&
	go build -o "$tmp/unieventserver" ./unieventserver) || die "building interop/clientmatrix failed"
"$tmp/clientmatrix" -gencert "$tmp" || die "making the certificates failed"
ca="$tmp/ca.pem"

# start_server NAME COMMAND...: starts COMMAND, waits for its
# "listening on ws://HOST:PORT/" (or wss://) line and sets url to that URL.
servers=()
start_server() {
	local name=$1 pid i
	shift
	: >"$tmp/$name.out"
	"$@" >>"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	servers+=("$name:$pid")
	url=""
	for ((i = 0; i < 100; i++)); do
		url=$(sed -n 's|^listening on \(wss\?://[^/]*/\).*|\1|p' "$tmp/$name.out")
		[ -n "$url" ] && break
		kill -0 "$pid" 2>/dev/null || { tail -n 20 "$tmp/$name.err"; die "server $name exited before listening"; }
		sleep 0.1
	done
	[ -n "$url" ] || die "server $name printed no listening line within 10 s"
}

# start_peer PEER COMMAND...: the three servers of one peer (COMMAND,
# COMMAND -deflate, COMMAND -deflate with the certificate, after
# tls_flag[PEER] if it needs one: the wss modes offer compression or not);
# sets the driver's URL flags in peer_args[PEER].
declare -A peer_args
declare -A tls_flag=([unievent-echo]=-tls)
start_peer() {
	local peer=$1
	shift
	start_server "$peer-plain" "$@"
	peer_args[$peer]="-plain $url"
	start_server "$peer-deflate" "$@" -deflate
	peer_args[$peer]+=" -deflate $url"
	start_server "$peer-wss" "$@" -deflate ${tls_flag[$peer]:-} -cert "$tmp/cert.pem" -key "$tmp/key.pem"
	peer_args[$peer]+=" -wss $url -ca $ca"
}

# A real HTTP proxy for the proxy modes: Debian's tinyproxy in the
# foreground on a free port, wanting Basic credentials.
proxy_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '%s\n' "Port $proxy_port" "Listen 127.0.0.1" "Allow 127.0.0.1" "Timeout 30" \
	"MaxClients 200" "BasicAuth interop s3cret" "LogLevel Notice" >"$tmp/tinyproxy.conf"
/usr/bin/tinyproxy -d -c "$tmp/tinyproxy.conf" >"$tmp/tinyproxy.out" 2>&1 &
pids+=("$!")
servers+=("tinyproxy:$!")
for ((i = 0; i < 100; i++)); do
	(exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null && break
	sleep 0.1
done
((i < 100)) || die "tinyproxy does not listen on $proxy_port: $(tail -n 3 "$tmp/tinyproxy.out")"

start_peer node-ws node "$interop/node/ws-server.mjs"
start_peer python-websockets /usr/bin/python3 "$interop/python/server.py"
start_peer gorilla "$tmp/gorillaserver"
start_peer coder "$tmp/coderserver"
start_peer unievent-echo "$tmp/echo" -addr 127.0.0.1:0 -max-message $((32 << 20))
start_peer unievent-server "$tmp/unieventserver"
# WebSockets over HTTP/2 (RFC 8441): Node's http2 with ws's framing on the
# streams, and examples/echo -h2 (Go's HTTP/2 serves extended CONNECT only
# with GODEBUG=http2xconnect=1).
start_server node-ws-h2 node "$interop/node/ws-server.mjs" -h2 -cert "$tmp/cert.pem" -key "$tmp/key.pem"
peer_args[node-ws]+=" -h2 $url"
start_server unievent-echo-h2 env GODEBUG=http2xconnect=1 "$tmp/echo" -addr 127.0.0.1:0 -max-message $((32 << 20)) \
	-deflate -tls -h2 -cert "$tmp/cert.pem" -key "$tmp/key.pem"
peer_args[unievent-echo]+=" -h2 $url"

# The drivers run at the same time, one per peer, each under a time limit.
# The 16 MiB cases (binary and text) run in the plain mode of every peer
# but unievent-server, in the deflate mode of node-ws and unievent-echo, in
# the wss and h2 modes of node-ws and the wss-deflate mode of coder.
declare -A big=([node-ws]=plain,deflate,wss,h2 [python-websockets]=plain [gorilla]=plain [coder]=plain,wss-deflate [unievent-echo]=plain,deflate [unievent-server]=none)
# What differs from peer to peer: examples/echo echoes on every path (the
# echo cases only); unievent-server closes and pings (this project's server
# has no call that sends a fragment, nor one that ends the TCP connection
# right after its close frame); coder has no such call either; gorilla
# accepts server_max_window_bits=10 without answering it (RFC 7692 section
# 7.1.2.1 wants the parameter in the answer), which the client must refuse;
# coder declines that offer; node-ws over HTTP/2 has no permessage-deflate. Python's websockets cannot send text that is
# not UTF-8 (the invalid group).
# The proxy modes go to node-ws.
declare -A extra=(
	[node-ws]="-proxy http://interop:s3cret@127.0.0.1:$proxy_port -expect h2-deflate=declined"
	[unievent-echo]="-cases echo"
	[unievent-server]="-cases close,ping,handshake"
	[gorilla]="-expect deflate-window10=refused"
	[python-websockets]="-cases echo,fragmented,close,abrupt,ping,handshake"
	[coder]="-expect deflate-window10=declined -cases echo,fragmented,close,ping,handshake,invalid"
)
driver_pids=()
for peer in node-ws python-websockets gorilla coder unievent-echo unievent-server; do
	# shellcheck disable=SC2086 # peer_args holds flags and URLs without spaces
	timeout -k 5 "$peer_timeout" "$tmp/clientmatrix" -peer "$peer" ${peer_args[$peer]} \
		-big "${big[$peer]}" ${extra[$peer]:-} >"$tmp/$peer.log" 2>"$tmp/$peer.derr" &
	pids+=("$!")
	driver_pids+=("$peer:$!")
done

failed=0
for d in "${driver_pids[@]}"; do
	peer=${d%%:*}
	wait "${d##*:}"
	rc=$?
	cat "$tmp/$peer.log"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "FAIL unievent-client $peer/driver: timed out after $peer_timeout s"
		failed=1
	elif [ "$rc" != 0 ]; then
		failed=1
		grep -q '^FAIL ' "$tmp/$peer.log" || echo "FAIL unievent-client $peer/driver: exited with status $rc: $(tail -n 1 "$tmp/$peer.derr")"
	fi
	# A data race report (CLIENTMATRIX_RACE=1) fails the run too.
	if grep -q 'WARNING: DATA RACE' "$tmp/$peer.derr"; then
		echo "FAIL unievent-client $peer/race: the race detector reported a data race:"
		head -n 40 "$tmp/$peer.derr"
		failed=1
	fi
done

for s in "${servers[@]}"; do
	name=${s%%:*}
	if ! kill -0 "${s##*:}" 2>/dev/null; then
		echo "FAIL unievent-client $name/server-alive: the server exited during the run: $(tail -n 1 "$tmp/$name.err" 2>/dev/null)"
		failed=1
	fi
done
if [ "$failed" != 0 ]; then
	for s in "${servers[@]}"; do
		name=${s%%:*}
		if [ -s "$tmp/$name.err" ]; then
			echo "-- $name stderr (last lines):"
			tail -n 5 "$tmp/$name.err"
		fi
	done
fi
exit "$failed"
