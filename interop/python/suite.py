"""Python `websockets` (Debian's python3-websockets, the asyncio client)
against examples/echo (plain and -deflate) and examples/chat.

    /usr/bin/python3 suite.py --plain ws://H:P/ --deflate ws://H:P/ --chat ws://H:P/ws

Prints one PASS/FAIL line per case; exits 1 if any case failed.
"""

import argparse
import asyncio
import json
import os
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

CLIENT = "python-websockets"
CASE_TIMEOUT = float(os.environ.get("INTEROP_CASE_TIMEOUT_MS", "20000")) / 1000
SIZES = [0, 125, 126, 65535, 65536, 1 << 20]


def _stream(n):
    """n deterministic bytes, pseudo-random over 64 symbols with runs, so
    that deflate has work to do."""
    out = bytearray(n)
    x = 2463534242
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = out[i - 1] if (x & 0x80) == 0 and i > 0 else 0x30 + (x & 0x3F)
    return bytes(out)


_STREAM = _stream(max(SIZES) + 4096)


def payload(n, seed):
    """n deterministic bytes (at most max(SIZES)), a window of _STREAM
    chosen by seed."""
    off = (seed * 2654435761) % 4096
    return _STREAM[off : off + n]


def utf8_text(n):
    """A str of exactly n UTF-8 bytes, of 1- to 4-byte characters."""
    chars = ["a", "é", "ж", "€", "日", "🎉", " ", "z"]
    parts, size, i = [], 0, 0
    while size < n:
        c = chars[i % len(chars)]
        i += 1
        if size + len(c.encode()) > n:
            c = "x"
        parts.append(c)
        size += len(c.encode())
    return "".join(parts)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Suite:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    async def run(self, name, case):
        try:
            await asyncio.wait_for(case(), CASE_TIMEOUT)
        except asyncio.TimeoutError:
            self.fail(name, f"timed out after {CASE_TIMEOUT:g} s")
        except Exception as e:  # every error is the case's failure
            self.fail(name, f"{type(e).__name__}: {e}")
        else:
            self.passed += 1
            print(f"PASS {CLIENT} {name}", flush=True)

    def fail(self, name, reason):
        self.failed += 1
        reason = " ".join(str(reason).split()) or "failed"
        print(f"FAIL {CLIENT} {name}: {reason}", flush=True)


def connect(url, extensions):
    # No keepalive pings of the client's own: the cases send their own.
    return websockets.connect(
        url,
        compression=None,
        extensions=extensions,
        max_size=4 << 20,
        ping_interval=None,
        close_timeout=2,
        open_timeout=10,
    )


async def echo(ws, data):
    await ws.send(data)
    got = await ws.recv()
    check(type(got) is type(data), f"echo came back as {type(got).__name__}")
    if got != data:
        diff = next((i for i, (g, w) in enumerate(zip(got, data)) if g != w), min(len(got), len(data)))
        raise Failure(f"echo differs: length {len(got)} want {len(data)}, first difference at {diff}")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plain", required=True)
    ap.add_argument("--deflate", required=True)
    ap.add_argument("--chat", required=True)
    a = ap.parse_args()
    suite = Suite()

    modes = [
        # label, url, extensions, what the response header must contain
        ("plain", a.plain, None, None),
        # websockets' default offer: client_max_window_bits without a value.
        ("deflate", a.deflate, [ClientPerMessageDeflateFactory()], ["permessage-deflate"]),
        # A small server window: the server must compress with a 1 KiB
        # window or zlib's inflater here fails (distance too far back).
        (
            "deflate-window10",
            a.deflate,
            [ClientPerMessageDeflateFactory(server_max_window_bits=10, client_no_context_takeover=True)],
            ["permessage-deflate", "server_max_window_bits=10", "client_no_context_takeover"],
        ),
    ]
    for label, url, ext, want_ext in modes:

        async def negotiate(url=url, ext=ext, want_ext=want_ext):
            async with connect(url, ext) as ws:
                got = ws.response_headers.get("Sec-WebSocket-Extensions", "")
                if want_ext is None:
                    check(got == "", f"extensions {got!r}, want none")
                for w in want_ext or []:
                    check(w in got, f"extensions {got!r} lack {w}")

        await suite.run(f"{label}/negotiate", negotiate)

        for n in SIZES:

            async def size_case(url=url, ext=ext, n=n):
                async with connect(url, ext) as ws:
                    await echo(ws, payload(n, n + 1))
                    await echo(ws, utf8_text(n))

            await suite.run(f"{label}/size-{n}", size_case)

        async def sequence(url=url, ext=ext):
            async with connect(url, ext) as ws:
                for rnd in range(2):
                    for n in SIZES:
                        await echo(ws, payload(n, 7 * n + rnd))

        await suite.run(f"{label}/sequence", sequence)

        async def fragmented(url=url, ext=ext):
            # An iterable is sent as one fragmented message, one frame
            # per item.
            async with connect(url, ext) as ws:
                parts = [utf8_text(1000), "🎉" * 300, utf8_text(5000)]
                await ws.send(parts)
                got = await ws.recv()
                check(got == "".join(parts), f"text echo differs ({len(got)} chars)")
                bparts = [payload(100, 1), payload(70000, 2), b"", payload(3, 3)]
                await ws.send(bparts)
                got = await ws.recv()
                check(got == b"".join(bparts), f"binary echo differs ({len(got)} bytes)")

        await suite.run(f"{label}/fragmented", fragmented)

        async def ping(url=url, ext=ext):
            async with connect(url, ext) as ws:
                # The waiter completes only on a pong with this payload.
                waiter = await ws.ping("ping ✓ 0123456789".encode())
                await waiter
                waiter = await ws.ping(b"")
                await waiter

        await suite.run(f"{label}/ping-payload", ping)

        async def close(url=url, ext=ext):
            async with connect(url, ext) as ws:
                await ws.close(4002, "bye ✓")
                check(ws.close_code == 4002, f"close code {ws.close_code}, want 4002 echoed")

        await suite.run(f"{label}/close-code-reason", close)

    async def chat_close_reason():
        async with connect(a.chat, None) as ws:
            hello = json.loads(await ws.recv())
            check(hello.get("name") == "", f"first message {hello!r}, want a notice")
            await ws.send(b"\x01\x02\x03")
            await ws.wait_closed()
            check(
                ws.close_code == 1003 and ws.close_reason == "text messages only",
                f"close {ws.close_code} {ws.close_reason!r}, want 1003 'text messages only'",
            )

    await suite.run("chat/server-close-reason", chat_close_reason)

    async def chat_broadcast():
        async with connect(a.chat, [ClientPerMessageDeflateFactory()]) as ws:
            await ws.recv()  # a notice: the connection is in the room
            await ws.send(json.dumps({"name": "python", "text": "hello from Python ✓"}))
            # Skip the room's notices (empty name) and other clients'
            # lines: the other suites share the room.
            m = {}
            while m.get("name") != "python":
                m = json.loads(await ws.recv())
            check(m == {"name": "python", "text": "hello from Python ✓"}, f"broadcast {m!r}")

    await suite.run("chat/broadcast", chat_broadcast)
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
