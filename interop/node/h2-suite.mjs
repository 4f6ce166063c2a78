// WebSocket over HTTP/2 (RFC 8441) against examples/echo -tls -h2 -log,
// plain and -deflate, each run with GODEBUG=http2xconnect=1:
//
//   - Chromium (Debian's, headless, through playwright-core, trusting the
//     server's self-signed certificate with --ignore-certificate-errors)
//     loads the server's own page over HTTP/2 and opens wss:// to the
//     same origin, which it does as an extended CONNECT stream on that
//     connection;
//   - Node's http2 module sends the extended CONNECT itself, and this
//     file speaks WebSocket frames on the stream (masking, and
//     permessage-deflate with zlib).
//
// Each case also asserts on the server's side that the socket arrived as
// an HTTP/2 stream: the server's -log lines ("open ID h2 PATH", "close ID
// CODE REASON") are read from its stdout file, and every case uses a path
// of its own.
//
//	node h2-suite.mjs --plain https://H:P/ --plain-log FILE --deflate https://H:P/ --deflate-log FILE
import http2 from "node:http2";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { chromium } from "playwright-core";
import { Suite, args, assert, payload, utf8Text, describeMismatch, CASE_TIMEOUT_MS } from "./lib.mjs";

const a = args();
const servers = [
  ["plain", a.plain, a["plain-log"]],
  ["deflate", a.deflate, a["deflate-log"]],
];
for (const [label, url, log] of servers) {
  if (!url || !log) {
    throw new Error(`--${label} URL and --${label}-log FILE are needed`);
  }
}

let serial = 0;
// casePath is a path no other case uses, to find the case's log lines.
function casePath(name) {
  return `/h2-${name}-${process.pid}-${++serial}`;
}

// serverSaw waits until the server's log has a line matching re, and
// returns its match.
async function serverSaw(log, re, what) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const m = fs.readFileSync(log, "utf8").match(re);
    if (m) {
      return m;
    }
    if (Date.now() > deadline) {
      throw new Error(`the server logged no ${what} (${re})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// openedOver returns the transport the server logged for the socket at p,
// and its connection id.
async function openedOver(log, p) {
  const m = await serverSaw(log, new RegExp(`^open (\\d+) (\\S+) ${p}$`, "m"), `open line for ${p}`);
  return { id: m[1], transport: m[2] };
}

async function assertH2(log, p) {
  const o = await openedOver(log, p);
  assert(o.transport === "h2", `the server says the socket at ${p} arrived over ${o.transport}, want h2`);
  return o.id;
}

// ---- Chromium --------------------------------------------------------------

const chromiumSuite = new Suite("chromium-h2");
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "interop-chromium-h2-"));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // The chromium suite's flags, and trust in the server's self-signed
    // certificate made at its start.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--ignore-certificate-errors",
    ],
    timeout: 60000,
  });
} catch (err) {
  chromiumSuite.fail("launch", err);
}

if (context) {
  const page = context.pages()[0] || (await context.newPage());
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(m.text()));

  // inPage runs fn(arg) in the server's own page, freshly loaded over
  // HTTP/2; a WebSocket it opens to the same origin goes on that
  // connection.
  async function inPage(origin, fn, arg) {
    consoleLines.length = 0;
    const resp = await page.goto(origin);
    assert(resp && resp.ok(), `loading ${origin}: ${resp && resp.status()}`);
    const proto = await page.evaluate(() => performance.getEntriesByType("navigation")[0].nextHopProtocol);
    assert(proto === "h2", `the page came over ${proto}, want h2`);
    try {
      return await page.evaluate(fn, arg);
    } catch (err) {
      const why = consoleLines.filter((l) => /WebSocket/.test(l)).join("; ");
      throw new Error(`${err.message.split("\n")[0]}${why ? ` [console: ${why}]` : ""}`);
    }
  }

  // The browser side of every case: open wss://host/PATH, send each of
  // sends (a string, or {binary: n} for n deterministic bytes), compare
  // each echo, then close with 4000 and a reason, and report the
  // CloseEvent and the negotiated extensions.
  const browserCase = async ({ p, sends }) => {
    const bytes = (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
      return b;
    };
    const ws = new WebSocket(`wss://${location.host}${p}`);
    ws.binaryType = "arraybuffer";
    const queue = [];
    let waiter = null;
    let closed;
    const closedP = new Promise((r) => (closed = r));
    ws.onmessage = (e) => (waiter ? (waiter(e.data), (waiter = null)) : queue.push(e.data));
    ws.onclose = (e) => closed({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    await new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = () => rej(new Error("WebSocket error before open"));
    });
    const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => (waiter = r)));
    for (const s of sends) {
      if (typeof s === "string") {
        ws.send(s);
        const got = await next();
        if (got !== s) throw new Error(`text echo differs (${String(got).length} units, want ${s.length})`);
      } else {
        const want = bytes(s.binary);
        ws.send(want);
        const got = new Uint8Array(await next());
        if (got.length !== want.length) throw new Error(`binary echo has ${got.length} bytes, want ${want.length}`);
        for (let i = 0; i < got.length; i++) {
          if (got[i] !== want[i]) throw new Error(`binary echo differs at byte ${i}`);
        }
      }
    }
    const extensions = ws.extensions;
    ws.close(4000, "bye ✓");
    return { close: await closedP, extensions };
  };

  const large = utf8Text(1 << 20);
  for (const [label, origin, log] of servers) {
    const cases = [
      ["text", ["héllo wörld — 日本語 — 🎉", ""]],
      ["binary", [{ binary: 125 }, { binary: 65536 }]],
      ["large-1MiB", [large, { binary: 1 << 20 }]],
    ];
    for (const [name, sends] of cases) {
      await chromiumSuite.run(`${label}/${name}`, async () => {
        const p = casePath(name);
        const r = await inPage(origin, browserCase, { p, sends });
        const id = await assertH2(log, p);
        // The server answers the browser's close with its code (and no
        // reason), and its close listener saw the browser's code and
        // reason.
        const c = r.close;
        assert(c.code === 4000 && c.wasClean, `CloseEvent ${c.code} wasClean ${c.wasClean}, want 4000 and true`);
        await serverSaw(log, new RegExp(`^close ${id} 4000 "bye ✓"$`, "m"), `close line for connection ${id}`);
        const wantExt = label === "deflate" ? "permessage-deflate" : "";
        assert(wantExt ? r.extensions.startsWith(wantExt) : r.extensions === "",
          `extensions ${JSON.stringify(r.extensions)}, want ${JSON.stringify(wantExt)}`);
      });
    }
  }
  await context.close();
}
fs.rmSync(userDataDir, { recursive: true, force: true });

// ---- Node's http2 module -----------------------------------------------------

const nodeSuite = new Suite("node-http2");

// connectH2 opens an HTTP/2 session and waits for the server's SETTINGS,
// which must enable extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL).
async function connectH2(t, origin) {
  const session = http2.connect(origin, { rejectUnauthorized: false });
  t.defer(() => session.destroy());
  await new Promise((resolve, reject) => {
    session.once("error", reject);
    session.once("remoteSettings", (s) =>
      s.enableConnectProtocol ? resolve() : reject(new Error("the server did not enable extended CONNECT")),
    );
  });
  return session;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// H2Socket is a client WebSocket on an HTTP/2 stream: frames masked with
// fresh keys, server frames parsed and reassembled, and with
// permessage-deflate (no context takeover both ways) each message
// compressed and decompressed on its own.
class H2Socket {
  constructor(stream, deflate) {
    this.stream = stream;
    this.deflate = deflate;
    this.buf = Buffer.alloc(0);
    this.frags = null;
    this.queue = [];
    this.waiters = [];
    this.ended = false;
    stream.on("data", (d) => this.feed(d));
    stream.on("end", () => this.finish(new Error("stream ended")));
    stream.on("close", () => this.finish(new Error(`stream closed (RST code ${stream.rstCode})`)));
    stream.on("error", (e) => this.finish(e));
  }

  feed(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      if (b1 & 0x80) return this.finish(new Error("the server sent a masked frame"));
      let n = b1 & 0x7f;
      let off = 2;
      if (n === 126) {
        if (this.buf.length < 4) return;
        n = this.buf.readUInt16BE(2);
        off = 4;
      } else if (n === 127) {
        if (this.buf.length < 10) return;
        n = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + n) return;
      const p = this.buf.subarray(off, off + n);
      this.buf = this.buf.subarray(off + n);
      this.frame({ fin: !!(b0 & 0x80), rsv1: !!(b0 & 0x40), op: b0 & 0x0f, p: Buffer.from(p) });
    }
  }

  frame(f) {
    if (f.op >= 8) {
      this.push({ op: f.op, data: f.p });
      return;
    }
    if (f.op !== 0) this.frags = { op: f.op, rsv1: f.rsv1, parts: [] };
    this.frags.parts.push(f.p);
    if (!f.fin) return;
    let data = Buffer.concat(this.frags.parts);
    if (this.frags.rsv1) {
      data = zlib.inflateRawSync(Buffer.concat([data, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    }
    this.push({ op: this.frags.op, data, compressed: this.frags.rsv1 });
    this.frags = null;
  }

  push(m) {
    const w = this.waiters.shift();
    if (w) w.resolve(m);
    else this.queue.push(m);
  }

  finish(err) {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  next() {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.reject(new Error("the stream is over"));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  send(op, data, compress = this.deflate && op < 8) {
    let p = Buffer.from(data);
    let b0 = 0x80 | op;
    if (compress) {
      const z = zlib.deflateRawSync(p, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      p = z.subarray(0, z.length - 4); // RFC 7692 section 7.2.1: drop the tail
      b0 |= 0x40;
    }
    const key = crypto.randomBytes(4);
    let hdr;
    if (p.length < 126) {
      hdr = Buffer.from([b0, 0x80 | p.length]);
    } else if (p.length < 65536) {
      hdr = Buffer.alloc(4);
      hdr[0] = b0;
      hdr[1] = 0x80 | 126;
      hdr.writeUInt16BE(p.length, 2);
    } else {
      hdr = Buffer.alloc(10);
      hdr[0] = b0;
      hdr[1] = 0x80 | 127;
      hdr.writeBigUInt64BE(BigInt(p.length), 2);
    }
    const masked = Buffer.alloc(p.length);
    for (let i = 0; i < p.length; i++) masked[i] = p[i] ^ key[i & 3];
    this.stream.write(Buffer.concat([hdr, key, masked]));
  }
}

// openWS sends an extended CONNECT for path on session and resolves with
// the response headers and, on 200, the WebSocket.
function openWS(t, session, origin, p, { protocol = "websocket", deflate = false } = {}) {
  const headers = {
    ":method": "CONNECT",
    ":protocol": protocol,
    ":scheme": "https",
    ":path": p,
    ":authority": new URL(origin).host,
    "sec-websocket-version": "13",
  };
  if (deflate) {
    headers["sec-websocket-extensions"] = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  }
  const stream = session.request(headers);
  t.defer(() => stream.destroy());
  return new Promise((resolve, reject) => {
    stream.once("error", reject);
    stream.once("response", (h) => {
      const status = h[":status"];
      resolve({ status, headers: h, ws: status === 200 ? new H2Socket(stream, deflate) : null, stream });
    });
  });
}

async function echo(ws, op, data) {
  ws.send(op, data);
  const m = await ws.next();
  assert(m.op === op, `echo came back with opcode ${m.op}, want ${op}`);
  const want = Buffer.from(data);
  assert(m.data.equals(want), `echo differs: ${describeMismatch(m.data, want)}`);
  return m;
}

async function closeWith(ws, code, reason) {
  const p = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
  ws.send(0x8, p);
  for (;;) {
    const m = await ws.next();
    if (m.op === 0x8) {
      const got = m.data.length >= 2 ? m.data.readUInt16BE(0) : 1005;
      assert(got === code, `the server closed with ${got}, want ${code}`);
      break;
    }
  }
  ws.stream.end();
}

for (const [label, origin, log] of servers) {
  const deflate = label === "deflate";
  await nodeSuite.run(`${label}/echo`, async (t) => {
    const session = await connectH2(t, origin);
    const p = casePath("node-echo");
    const r = await openWS(t, session, origin, p, { deflate });
    assert(r.status === 200, `status ${r.status}, want 200`);
    assert(!r.headers["sec-websocket-accept"], "Sec-WebSocket-Accept over HTTP/2 (RFC 8441 has none)");
    const ext = r.headers["sec-websocket-extensions"] || "";
    assert(deflate ? ext.startsWith("permessage-deflate") : ext === "", `Sec-WebSocket-Extensions ${JSON.stringify(ext)}`);
    const id = await assertH2(log, p);
    await echo(r.ws, 0x1, "héllo over HTTP/2 ✓");
    await echo(r.ws, 0x1, "");
    for (const n of [125, 126, 65535, 65536, 1 << 20]) {
      const m = await echo(r.ws, 0x2, payload(n, n));
      if (deflate && n >= 65536) {
        assert(m.compressed, `the ${n}-byte echo came back uncompressed`);
      }
    }
    await closeWith(r.ws, 4000, "bye ✓");
    await serverSaw(log, new RegExp(`^close ${id} 4000 "bye ✓"$`, "m"), `close line for connection ${id}`);
  });

  await nodeSuite.run(`${label}/two-sockets-one-connection`, async (t) => {
    const session = await connectH2(t, origin);
    const p1 = casePath("node-first");
    const p2 = casePath("node-second");
    const [r1, r2] = await Promise.all([openWS(t, session, origin, p1, { deflate }), openWS(t, session, origin, p2, { deflate })]);
    assert(r1.status === 200 && r2.status === 200, `status ${r1.status}, ${r2.status}, want 200`);
    await assertH2(log, p1);
    await assertH2(log, p2);
    const big = payload(256 << 10, 7);
    r1.ws.send(0x2, big);
    await echo(r2.ws, 0x1, "the second socket is served while the first one's message is under way");
    const m = await r1.ws.next();
    assert(m.data.equals(big), `first socket's echo: ${describeMismatch(m.data, big)}`);
    await closeWith(r1.ws, 1000, "");
    await echo(r2.ws, 0x1, "and after the first one closed");
    await closeWith(r2.ws, 1000, "");
  });

  await nodeSuite.run(`${label}/other-protocol-refused`, async (t) => {
    const session = await connectH2(t, origin);
    const r = await openWS(t, session, origin, casePath("node-webtransport"), { protocol: "webtransport" });
    assert(r.status === 501, `status ${r.status} for :protocol webtransport, want 501`);
    // The connection serves a WebSocket after the refusal.
    const ok = await openWS(t, session, origin, casePath("node-after-refusal"), { deflate });
    assert(ok.status === 200, `status ${ok.status} after the refusal, want 200`);
    await echo(ok.ws, 0x1, "after the refusal");
    await closeWith(ok.ws, 1000, "");
  });
}

process.exitCode = chromiumSuite.failed + nodeSuite.failed > 0 ? 1 : 0;
