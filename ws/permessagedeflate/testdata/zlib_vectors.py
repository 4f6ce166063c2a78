#!/usr/bin/env python3
"""Generate zlib_vectors.json: permessage-deflate payloads made by zlib.

Each case is a sequence of messages compressed the way RFC 7692 section
7.2.1 describes with zlib's raw deflate (negative wbits): compress, flush
with Z_SYNC_FLUSH, drop the trailing 00 00 ff ff. With context takeover one
compressor serves every message; without, each message gets a fresh one.

zlib refuses wbits -8 for compression (deflateInit2 returns Z_STREAM_ERROR
for a raw 256-byte window since 1.2.9), so the cases cover 9..15; the script
records that refusal in the file instead of failing.

Run from this directory: python3 zlib_vectors.py > zlib_vectors.json
The output is deterministic for a given zlib version.
"""

import base64
import json
import random
import zlib


def messages(rng):
    words = ("socket frame message server client window deflate compress "
             "stream buffer event loop the of and to in a is").split()
    def text(n):
        out = []
        while sum(len(w) + 1 for w in out) < n:
            out.append(rng.choice(words))
        return " ".join(out)[:n].encode()
    def record(i):
        return ('{"id":%d,"user":"%s","event":"%s","text":"%s"}' % (
            rng.randrange(10**6), rng.choice(["alice", "bob", "carol"]),
            rng.choice(["join", "leave", "message"]), text(rng.randrange(10, 60)).decode())).encode()
    msgs = [
        b"",
        b"Hello",
        b"Hello",  # a repeat: with takeover, a pure back-reference
        b"[" + b",".join(record(i) for i in range(30)) + b"]",
        text(3000),
        bytes(rng.randrange(256) for _ in range(700)),  # incompressible
        b"abc" * 2000,  # long matches at a short distance
        text(33000),  # longer than the largest window
        b"[" + b",".join(record(i) for i in range(5)) + b"]",
    ]
    return msgs


def compress(msgs, wbits, level, mem_level, strategy, takeover):
    out = []
    c = None
    for m in msgs:
        if c is None or not takeover:
            c = zlib.compressobj(level, zlib.DEFLATED, -wbits, mem_level, strategy)
        data = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff"), data[-8:].hex()
        out.append(data[:-4])
    return out


def main():
    rng = random.Random(7692)
    msgs = messages(rng)
    cases = []
    refused = []
    for wbits in range(8, 16):
        for takeover in (True, False):
            # Level 1 and 9 use zlib's two match finders; memLevel 1 with
            # Z_FIXED gives many small fixed-code blocks.
            for level, mem_level, strategy in ((1, 8, zlib.Z_DEFAULT_STRATEGY),
                                               (9, 1, zlib.Z_FIXED)):
                if level == 9 and not takeover:
                    continue  # keeps the file small; level 1 covers it
                try:
                    payloads = compress(msgs, wbits, level, mem_level, strategy, takeover)
                except (ValueError, zlib.error) as e:
                    refused.append({"wbits": wbits, "error": str(e)})
                    continue
                cases.append({
                    "wbits": wbits,
                    "takeover": takeover,
                    "level": level,
                    "mem_level": mem_level,
                    "strategy": strategy,
                    "payloads": [base64.b64encode(p).decode() for p in payloads],
                })
    # Keep one refusal note per window size.
    seen = set()
    notes = []
    for r in refused:
        if r["wbits"] not in seen:
            seen.add(r["wbits"])
            notes.append(r)
    json.dump({"zlib_version": zlib.ZLIB_VERSION, "refused": notes,
               "messages": [base64.b64encode(m).decode() for m in msgs],
               "cases": cases},
              __import__("sys").stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
