"""A Python websockets server for the client matrix (interop/clientmatrix).

    /usr/bin/python3 server.py [-addr 127.0.0.1:0] [-deflate] [-cert FILE -key FILE]

Runs under Debian's /usr/bin/python3 with its python3-websockets (10.4), as
suite.py does. Paths: /echo sends every message back as one message of the
same type; /fragmented?n=K sends it back in K fragments (websockets sends an
iterable as one fragment per item, then an empty final frame; text is cut
between characters, as a str iterable must be); /fragmented-ping?n=K sends
the first message back in K fragments (an async iterable) with a ping after
each but the last, each pong awaited before the next fragment, then "ok" or
what was wrong; /close?code=C&reason=R closes at once with that code and
reason; /close-abrupt?code=C&reason=R sends that close frame and closes the
TCP connection at once; /ping sends three pings ("", "interop", 125 bytes),
wants each answered by a pong with its payload within 5 s and then sends
"ok" or what was wrong as a text message; /headers sends the request's
Origin, X-Interop, Authorization and Host as "name: value" lines; /refuse
refuses the upgrade with 403 and the body "members only". It speaks the
subprotocol chat.v1, chosen when offered. Keepalive pings are off. It prints
"listening on ws://HOST:PORT/" (wss with -cert) once it listens and exits on
SIGTERM or SIGINT.
"""

import argparse
import asyncio
import http
import signal
import ssl
import sys
import urllib.parse

import websockets
from websockets.frames import Close


def pieces(data, n):
    step = -(-len(data) // n)  # ceiling
    return [data[min(i * step, len(data)):min((i + 1) * step, len(data))] for i in range(n)]


async def pings(ws):
    for p in (b"", b"interop", b"p" * 125):
        waiter = await ws.ping(p)
        try:
            await asyncio.wait_for(waiter, 5)
        except asyncio.TimeoutError:
            return "no pong with the payload of a ping of %d bytes within 5 s" % len(p)
    return "ok"


async def fragmented_ping(ws, msg, n):
    """Sends msg back in n fragments with a ping after each but the last,
    each pong awaited before the next fragment; returns the verdict."""
    verdict = "ok"

    async def frags():
        nonlocal verdict
        ps = pieces(msg, n)
        for i, piece in enumerate(ps):
            yield piece
            if i < len(ps) - 1 and verdict == "ok":
                waiter = await ws.ping(b"fragment-%d" % i)
                try:
                    await asyncio.wait_for(waiter, 5)
                except asyncio.TimeoutError:
                    verdict = "no pong within 5 s for the ping after fragment %d" % i

    await ws.send(frags())
    return verdict


async def handler(ws):
    u = urllib.parse.urlsplit(ws.path)
    q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
    try:
        if u.path == "/echo":
            async for msg in ws:
                await ws.send(msg)
        elif u.path == "/fragmented":
            n = int(q.get("n", ["4"])[0])
            async for msg in ws:
                await ws.send(pieces(msg, n))
        elif u.path == "/fragmented-ping":
            await ws.send(await fragmented_ping(ws, await ws.recv(), int(q.get("n", ["4"])[0])))
            await ws.wait_closed()
        elif u.path == "/headers":
            h = ws.request_headers
            await ws.send("\n".join("%s: %s" % (n, h.get(n, "")) for n in ("origin", "x-interop", "authorization", "host")))
            await ws.wait_closed()
        elif u.path == "/close":
            await ws.close(int(q["code"][0]), q.get("reason", [""])[0])
        elif u.path == "/close-abrupt":
            # The close frame, then the TCP connection closed at once,
            # without waiting for the client's close frame (websockets'
            # own write_close_frame, as its close() starts with it).
            await ws.write_close_frame(Close(int(q["code"][0]), q.get("reason", [""])[0]))
            ws.transport.close()
        elif u.path == "/ping":
            await ws.send(await pings(ws))
            await ws.wait_closed()
        else:
            await ws.close(4404, "no such path")
    except websockets.ConnectionClosed:
        pass


def refuse(path, _headers):
    if urllib.parse.urlsplit(path).path == "/refuse":
        return http.HTTPStatus.FORBIDDEN, [("Content-Type", "text/plain")], b"members only"
    return None


async def main():
    ap = argparse.ArgumentParser()
    # -flag or --flag, as the Go peers take them
    ap.add_argument("-addr", "--addr", default="127.0.0.1:0")
    ap.add_argument("-deflate", "--deflate", action="store_true")
    ap.add_argument("-cert", "--cert", default="")
    ap.add_argument("-key", "--key", default="")
    args = ap.parse_args()
    host, _, port = args.addr.rpartition(":")
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    # websockets' deflate defaults: 12-bit windows both ways
    # (server_max_window_bits=12, client_max_window_bits=12 when offered).
    async with websockets.serve(
        handler, host, int(port), ssl=ctx,
        compression="deflate" if args.deflate else None,
        max_size=64 << 20, ping_interval=None,
        subprotocols=["chat.v1"], process_request=refuse,
    ) as server:
        h, p = server.sockets[0].getsockname()[:2]
        print("listening on %s://%s:%d/" % ("wss" if ctx else "ws", h, p), flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
