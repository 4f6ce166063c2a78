// The Node `ws` client against examples/echo (plain and -deflate) and
// examples/chat.
//
//	node ws-suite.mjs --plain ws://H:P/ --deflate ws://H:P/ --chat ws://H:P/ws
import WebSocket from "ws";
import { Suite, args, payload, utf8Text, assert, describeMismatch } from "./lib.mjs";

const SIZES = [0, 125, 126, 65535, 65536, 1 << 20];

// Peer is a connected client with a queue of received messages.
class Peer {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.closed = null; // {code, reason} once the close event fired
    ws.on("message", (data, isBinary) => this.push({ data, isBinary }));
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.waiters.splice(0)) {
        w.reject(new Error(`connection closed (${code} ${reason})`));
      }
    });
  }

  push(m) {
    const w = this.waiters.shift();
    if (w) {
      w.resolve(m);
    } else {
      this.queue.push(m);
    }
  }

  next() {
    if (this.queue.length > 0) {
      return Promise.resolve(this.queue.shift());
    }
    if (this.closed) {
      return Promise.reject(new Error(`connection closed (${this.closed.code})`));
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  // closedEvent resolves with {code, reason} when the close event fires.
  closedEvent() {
    if (this.closed) {
      return Promise.resolve(this.closed);
    }
    return new Promise((resolve) => this.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  send(data, options = {}) {
    return new Promise((resolve, reject) => this.ws.send(data, options, (err) => (err ? reject(err) : resolve())));
  }
}

function connect(t, url, options) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    t.defer(() => ws.terminate());
    const peer = new Peer(ws);
    ws.once("upgrade", (res) => {
      peer.extensionsHeader = res.headers["sec-websocket-extensions"] || "";
    });
    ws.once("open", () => resolve(peer));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`handshake refused: HTTP ${res.statusCode}`)));
  });
}

async function echo(peer, data, binary) {
  await peer.send(data, { binary });
  const m = await peer.next();
  assert(m.isBinary === binary, `echo came back as ${m.isBinary ? "binary" : "text"}`);
  const want = Buffer.isBuffer(data) ? data : Buffer.from(data);
  assert(m.data.equals(want), `echo differs: ${describeMismatch(m.data, want)}`);
}

const a = args();
const suite = new Suite("node-ws");

const modes = [
  { label: "plain", url: a.plain, options: { perMessageDeflate: false }, ext: null },
  {
    // RFC 7692 parameters offered: server_no_context_takeover and
    // client_max_window_bits=10.
    label: "deflate",
    url: a.deflate,
    options: { perMessageDeflate: { serverNoContextTakeover: true, clientMaxWindowBits: 10, threshold: 0 } },
    ext: ["permessage-deflate", "server_no_context_takeover"],
  },
  {
    // ws's default offer (client_max_window_bits without a value), context
    // takeover both ways.
    label: "deflate-takeover",
    url: a.deflate,
    options: { perMessageDeflate: { threshold: 0 } },
    ext: ["permessage-deflate"],
  },
];

for (const mode of modes) {
  const L = mode.label;
  const open = (t) => connect(t, mode.url, mode.options);

  await suite.run(`${L}/negotiate`, async (t) => {
    const p = await open(t);
    // ws.extensions has the names only: the parameters are in the header.
    const got = p.extensionsHeader;
    if (mode.ext === null) {
      assert(got === "", `extensions ${JSON.stringify(got)}, want none`);
    } else {
      for (const w of mode.ext) {
        assert(got.includes(w), `extensions ${JSON.stringify(got)} lack ${w}`);
      }
    }
  });

  for (const n of SIZES) {
    await suite.run(`${L}/size-${n}`, async (t) => {
      const p = await open(t);
      await echo(p, payload(n, n + 1), true);
      await echo(p, utf8Text(n), false);
    });
  }

  await suite.run(`${L}/text-utf8-70000`, async (t) => {
    const p = await open(t);
    await echo(p, utf8Text(70000), false);
  });

  await suite.run(`${L}/sequence`, async (t) => {
    // Every size twice on one connection: the compression context (with
    // takeover) carries over from message to message.
    const p = await open(t);
    for (let round = 0; round < 2; round++) {
      for (const n of SIZES) {
        await echo(p, payload(n, 7 * n + round), (n & 1) === 0);
      }
    }
  });

  await suite.run(`${L}/fragmented`, async (t) => {
    // A text message in three frames, split inside multi-byte characters,
    // reassembled by the server and echoed as one message.
    const p = await open(t);
    const whole = Buffer.from(utf8Text(3000) + "🎉 end", "utf8");
    const cuts = [1001, 2002]; // inside 2- to 4-byte sequences of utf8Text
    const parts = [whole.subarray(0, cuts[0]), whole.subarray(cuts[0], cuts[1]), whole.subarray(cuts[1])];
    await p.send(parts[0], { binary: false, fin: false });
    await p.send(parts[1], { binary: false, fin: false });
    await p.send(parts[2], { binary: false, fin: true });
    const m = await p.next();
    assert(!m.isBinary, "echo came back as binary");
    assert(m.data.equals(whole), `echo differs: ${describeMismatch(m.data, whole)}`);
  });

  await suite.run(`${L}/ping-payload`, async (t) => {
    // A payload, none, and the largest a control frame can carry.
    const p = await open(t);
    const pings = [Buffer.from("ping ✓ 0123456789", "utf8"), Buffer.alloc(0), payload(125, 9)];
    const pongs = [];
    const all = new Promise((resolve) =>
      p.ws.on("pong", (d) => {
        pongs.push(d);
        if (pongs.length === pings.length) {
          resolve();
        }
      }),
    );
    for (const d of pings) {
      p.ws.ping(d);
    }
    await all;
    pings.forEach((d, i) => assert(pongs[i].equals(d), `pong ${i} payload ${JSON.stringify(pongs[i].toString())}, want ${JSON.stringify(d.toString())}`));
  });

  await suite.run(`${L}/ping-between-fragments`, async (t) => {
    // A control frame may come between the fragments of a message.
    const p = await open(t);
    const pong = new Promise((resolve) => p.ws.once("pong", resolve));
    await p.send(Buffer.from("first half, "), { binary: false, fin: false });
    p.ws.ping(Buffer.from("mid"));
    await p.send(Buffer.from("second half"), { binary: false, fin: true });
    const got = await pong;
    assert(got.toString() === "mid", `pong payload ${JSON.stringify(got.toString())}`);
    const m = await p.next();
    assert(m.data.toString() === "first half, second half", `echo ${JSON.stringify(m.data.toString())}`);
  });

  await suite.run(`${L}/invalid-utf8-1007`, async (t) => {
    const p = await open(t);
    const closed = p.closedEvent();
    await p.send(Buffer.from([0x68, 0x69, 0xff]), { binary: false });
    const c = await closed;
    assert(c.code === 1007, `close code ${c.code}, want 1007`);
  });

  await suite.run(`${L}/invalid-utf8-fragmented-1007`, async (t) => {
    // A 3-byte sequence broken across fragments by its third byte. The
    // message never ends here: the server must fail it as soon as the
    // invalid byte arrives, compressed or not (a compressed message is
    // inflated and validated as its fragments arrive: ws package comment).
    const p = await open(t);
    const closed = p.closedEvent();
    await p.send(Buffer.from([0x61, 0xe6, 0x97]), { binary: false, fin: false });
    await p.send(Buffer.from([0x41, 0x62]), { binary: false, fin: false });
    const c = await closed;
    assert(c.code === 1007, `close code ${c.code}, want 1007`);
  });

  await suite.run(`${L}/parallel-50`, async (t) => {
    // 50 connections at once, each echoing a few messages.
    const peers = await Promise.all(Array.from({ length: 50 }, () => open(t)));
    await Promise.all(
      peers.map(async (p, i) => {
        for (let k = 0; k < 3; k++) {
          await echo(p, payload(10000 + 1000 * i + k, i * 3 + k), k !== 1);
        }
      }),
    );
  });

  await suite.run(`${L}/close-no-status`, async (t) => {
    // A close frame without a code is answered by one without a code,
    // which ws reports as 1005.
    const p = await open(t);
    const closed = p.closedEvent();
    p.ws.close();
    const c = await closed;
    assert(c.code === 1005, `close code ${c.code}, want 1005 (no status)`);
  });

  await suite.run(`${L}/close-code-reason`, async (t) => {
    const p = await open(t);
    const closed = p.closedEvent();
    p.ws.close(4001, "bye ✓");
    const c = await closed;
    assert(c.code === 4001, `close code ${c.code}, want 4001 echoed`);
  });
}

// examples/chat: a JSON line broadcast back, and a close the server starts
// with a code and a reason (it takes text only).
await suite.run("chat/broadcast", async (t) => {
  const p = await connect(t, a.chat, { perMessageDeflate: false });
  const hello = JSON.parse((await p.next()).data.toString());
  assert(hello.name === "", `first message ${JSON.stringify(hello)}, want a notice`);
  await p.send(JSON.stringify({ name: "node-ws", text: "hello from Node ✓" }));
  // Skip the room's notices (empty name) and other clients' lines: the
  // other suites share the room.
  let m;
  do {
    m = JSON.parse((await p.next()).data.toString());
  } while (m.name !== "node-ws");
  assert(m.text === "hello from Node ✓", `broadcast ${JSON.stringify(m)}`);
});

await suite.run("chat/server-close-reason", async (t) => {
  const p = await connect(t, a.chat, { perMessageDeflate: false });
  await p.next(); // a notice: the connection is in the room
  const closed = p.closedEvent();
  await p.send(Buffer.from([1, 2, 3]), { binary: true });
  const c = await closed;
  assert(c.code === 1003 && c.reason === "text messages only", `close ${c.code} ${JSON.stringify(c.reason)}, want 1003 "text messages only"`);
});

await suite.run("chat/too-big-1009", async (t) => {
  // The chat's MaxMessageSize is 4 KiB.
  const p = await connect(t, a.chat, { perMessageDeflate: false });
  await p.next(); // a notice: the connection is in the room
  const closed = p.closedEvent();
  await p.send(JSON.stringify({ name: "node-ws", text: "x".repeat(5000) }));
  const c = await closed;
  assert(c.code === 1009, `close code ${c.code}, want 1009`);
});

process.exitCode = suite.failed > 0 ? 1 : 0;
