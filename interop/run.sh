#!/usr/bin/env bash
# Interoperability suite: real WebSocket clients against examples/echo (plain
# and -deflate) and examples/chat, and the project's client against real
# servers (clientmatrix/run.sh), on 127.0.0.1.
#
#   bash interop/run.sh
#
# Installs what is missing (Debian's chromium, python3-websockets and
# tinyproxy with apt-get, the npm packages of interop/node from its package-lock.json),
# builds the servers and the Go clients, runs every client suite and prints
# one "PASS <client> <case>" or "FAIL <client> <case>: reason" line per case,
# then "interop: N passed, N failed". Exits non-zero on any failure.
#
# Environment: INTEROP_CASE_TIMEOUT_MS (default 10000) bounds each case,
# INTEROP_SUITE_TIMEOUT (seconds, default 120) each client suite,
# INTEROP_ARTIFACTS is where the chat screenshot goes (default: a new
# directory under /tmp, kept after the run).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root" || exit 1
export PATH="/usr/local/go/bin:$PATH"
export INTEROP_CASE_TIMEOUT_MS="${INTEROP_CASE_TIMEOUT_MS:-10000}"
suite_timeout="${INTEROP_SUITE_TIMEOUT:-120}"
# Never let a tool fetch a browser of its own: Debian's chromium is used.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1
start=$(date +%s)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unievent-interop.XXXXXX")
artifacts="${INTEROP_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/unievent-interop-artifacts.XXXXXX")}"
mkdir -p "$artifacts"
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

note() { printf '== %s (%ss)\n' "$1" "$(($(date +%s) - start))"; }
die() {
	echo "interop: $*" >&2
	exit 1
}

# --- install what is missing ------------------------------------------------
note "dependencies"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Debian's python3-websockets is a module of Debian's /usr/bin/python3,
# not of another python3 that may come first in PATH.
/usr/bin/python3 -c 'import websockets' 2>/dev/null || missing+=(python3-websockets)
# The client matrix's HTTP proxy (clientmatrix/run.sh).
[ -x /usr/bin/tinyproxy ] || missing+=(tinyproxy)
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "need root or sudo to install ${missing[*]}"
		sudo=(sudo)
	fi
	echo "installing ${missing[*]}"
	"${sudo[@]}" apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >"$tmp/apt.txt" 2>&1 ||
		{ tail -n 20 "$tmp/apt.txt"; die "apt-get install ${missing[*]} failed"; }
fi
/usr/bin/chromium --version 2>/dev/null | head -n 1
/usr/bin/python3 -c 'import websockets, sys; print("python3", sys.version.split()[0], "websockets", websockets.__version__)'
node --version | sed 's/^/node /'

lock="$here/node/package-lock.json"
if [ ! -f "$here/node/node_modules/.package-lock.json" ] || [ "$lock" -nt "$here/node/node_modules/.package-lock.json" ]; then
	(cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

# --- build ------------------------------------------------------------------
note "build"
go build -o "$tmp/echo" ./examples/echo || die "building examples/echo failed"
go build -o "$tmp/chat" ./examples/chat || die "building examples/chat failed"
(cd "$here/goclients" && go build -o "$tmp/goclients" .) || die "building interop/goclients failed"

# --- servers ----------------------------------------------------------------
# start_server NAME COMMAND...: starts COMMAND, waits for its
# "listening on ws://HOST:PORT/" (or wss://) line and sets addr to HOST:PORT.
servers=()
declare -A server_ws # name -> the URL a client connects to
start_server() {
	local name=$1 pid i
	shift
	: >"$tmp/$name.out"
	"$@" >>"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	servers+=("$name:$pid")
	addr=""
	for ((i = 0; i < 100; i++)); do
		addr=$(sed -n 's|^listening on wss\{0,1\}://\([^/]*\)/.*|\1|p' "$tmp/$name.out")
		[ -n "$addr" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.err" >&2; die "$name exited before listening"; }
		sleep 0.1
	done
	[ -n "$addr" ] || die "$name printed no listening line within 10 s"
	echo "$name: $addr (pid $pid)"
}

note "servers"
start_server echo-plain "$tmp/echo" -addr 127.0.0.1:0
plain="ws://$addr/"
server_ws[echo-plain]=$plain
start_server echo-deflate "$tmp/echo" -deflate -addr 127.0.0.1:0
deflate="ws://$addr/"
server_ws[echo-deflate]=$deflate
start_server chat "$tmp/chat" -addr 127.0.0.1:0
chat_http="http://$addr/"
chat_ws="ws://$addr/ws"
server_ws[chat]=$chat_ws
# WebSocket over HTTP/2 (RFC 8441): TLS with a certificate the server makes
# at start, HTTP/2 with extended CONNECT (GODEBUG), and a log line per
# connection saying which transport it came on (h2-suite.mjs reads it).
start_server echo-h2 env GODEBUG=http2xconnect=1 "$tmp/echo" -tls -h2 -log -addr 127.0.0.1:0
h2_plain="https://$addr/"
start_server echo-h2-deflate env GODEBUG=http2xconnect=1 "$tmp/echo" -tls -h2 -log -deflate -addr 127.0.0.1:0
h2_deflate="https://$addr/"

# --- suites -----------------------------------------------------------------
# The suites run at the same time, each under a time limit, so that a hung
# server costs one limit, not one per suite. start_suite CLIENT COMMAND...
# starts one; its PASS/FAIL lines go to $tmp/CLIENT.log. finish_suite
# CLIENT waits for it and prints them; a suite that dies or times out
# without a FAIL line of its own gets one.
declare -A suite_pid
suites=()
start_suite() {
	local client=$1
	shift
	timeout -k 10 "$suite_timeout" "$@" >"$tmp/$client.log" 2>"$tmp/$client.err" &
	suite_pid[$client]=$!
	pids+=("$!")
	suites+=("$client")
}
finish_suite() {
	local client=$1 rc
	wait "${suite_pid[$client]}"
	rc=$?
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "FAIL $client suite: timed out after ${suite_timeout} s" >>"$tmp/$client.log"
	elif [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$tmp/$client.log"; then
		echo "FAIL $client suite: exited with status $rc" >>"$tmp/$client.log"
	elif ! grep -q '^\(PASS\|FAIL\) ' "$tmp/$client.log"; then
		echo "FAIL $client suite: ran no case" >>"$tmp/$client.log"
	fi
	note "$client"
	cat "$tmp/$client.log"
	if [ "$rc" != 0 ] && [ -s "$tmp/$client.err" ]; then
		echo "-- $client stderr (last lines):"
		tail -n 20 "$tmp/$client.err"
	fi
}

note "suites (in parallel, each at most ${suite_timeout} s, each case at most ${INTEROP_CASE_TIMEOUT_MS} ms)"
start_suite chromium node "$here/node/chromium-suite.mjs" \
	--plain "$plain" --deflate "$deflate" --chat "$chat_http" --artifacts "$artifacts"
start_suite node-ws node "$here/node/ws-suite.mjs" --plain "$plain" --deflate "$deflate" --chat "$chat_ws"
start_suite python-websockets /usr/bin/python3 "$here/python/suite.py" \
	--plain "$plain" --deflate "$deflate" --chat "$chat_ws"
start_suite gorilla "$tmp/goclients" -client gorilla -plain "$plain" -deflate "$deflate" -chat "$chat_ws"
start_suite coder "$tmp/goclients" -client coder -plain "$plain" -deflate "$deflate" -chat "$chat_ws"
# The other direction: this project's client against real servers, which
# interop/clientmatrix/run.sh starts itself (interop/README.md, "The client").
start_suite unievent-client bash "$here/clientmatrix/run.sh"
start_suite h2 node "$here/node/h2-suite.mjs" --plain "$h2_plain" --plain-log "$tmp/echo-h2.out" \
	--deflate "$h2_deflate" --deflate-log "$tmp/echo-h2-deflate.out"
for client in "${suites[@]}"; do
	finish_suite "$client"
done

# --- the servers survived, and each stops cleanly on SIGTERM ---------------
# A gorilla client stays connected (to the servers of ws:// URLs; the
# HTTP/2 ones just stop); on SIGTERM the example closes every connection
# with 1001 (going away) and exits with status 0.
note "servers: alive, then SIGTERM with a client connected"
for s in "${servers[@]}"; do
	name=${s%%:*}
	pid=${s##*:}
	out="$tmp/stop-$name.log"
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "FAIL server $name/alive: exited during the run" >>"$out"
		cat "$out"
		continue
	fi
	echo "PASS server $name/alive" >>"$out"
	: >"$tmp/hold-$name.txt"
	hold=""
	if [ -n "${server_ws[$name]:-}" ]; then
		"$tmp/goclients" -hold "${server_ws[$name]}" -label "$name/stop-1001" >>"$tmp/hold-$name.txt" 2>&1 &
		hold=$!
		pids+=("$hold")
		for ((i = 0; i < 50; i++)); do
			grep -q '^connected$' "$tmp/hold-$name.txt" && break
			kill -0 "$hold" 2>/dev/null || break
			sleep 0.1
		done
	fi
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL server $name/stops-on-sigterm: still running 10 s after SIGTERM" >>"$out"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	else
		wait "$pid"
		rc=$?
		if [ "$rc" = 0 ]; then
			echo "PASS server $name/stops-on-sigterm" >>"$out"
		else
			echo "FAIL server $name/stops-on-sigterm: exit status $rc" >>"$out"
		fi
	fi
	if [ -n "$hold" ]; then
		wait "$hold" 2>/dev/null
		grep '^\(PASS\|FAIL\) ' "$tmp/hold-$name.txt" >>"$out" ||
			echo "FAIL gorilla $name/stop-1001: $(tail -n 1 "$tmp/hold-$name.txt")" >>"$out"
	fi
	cat "$out"
	if [ -s "$tmp/$name.err" ] && grep -qv '^[0-9/]* [0-9:]* chat: open http' "$tmp/$name.err"; then
		echo "-- $name stderr (last lines):"
		tail -n 20 "$tmp/$name.err"
	fi
done

passed=$(cat "$tmp"/*.log | grep -c '^PASS ')
failed=$(cat "$tmp"/*.log | grep -c '^FAIL ')
if [ -f "$artifacts/chat.png" ]; then
	echo "chat screenshot: $artifacts/chat.png"
fi
note "done"
echo "interop: $passed passed, $failed failed"
[ "$failed" = 0 ]
