"use strict";

// Browser-side cases of the Chromium suite: each takes the WebSocket URL
// and resolves when the case holds, or rejects with the reason. They use
// nothing but the page's WebSocket API. Node calls them through
// page.evaluate and owns the timeout.
(() => {
  function fail(msg) {
    throw new Error(msg);
  }

  // open resolves with a small wrapper: next() is the next message,
  // closed the CloseEvent as a plain object.
  function open(url, binaryType = "blob") {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = binaryType;
      const queue = [];
      const waiters = [];
      let closeEvent = null;
      let closeResolve;
      const closed = new Promise((r) => (closeResolve = r));
      ws.onmessage = (e) => {
        const w = waiters.shift();
        if (w) {
          w.resolve(e.data);
        } else {
          queue.push(e.data);
        }
      };
      ws.onclose = (e) => {
        closeEvent = { code: e.code, reason: e.reason, wasClean: e.wasClean };
        closeResolve(closeEvent);
        for (const w of waiters.splice(0)) {
          w.reject(new Error(`closed: ${e.code} ${e.reason}`));
        }
        reject(new Error(`closed before open: ${e.code}`));
      };
      ws.onopen = () =>
        resolve({
          ws,
          closed,
          next() {
            if (queue.length > 0) {
              return Promise.resolve(queue.shift());
            }
            if (closeEvent) {
              return Promise.reject(new Error(`closed: ${closeEvent.code}`));
            }
            return new Promise((res, rej) => waiters.push({ resolve: res, reject: rej }));
          },
        });
    });
  }

  function utf8Text(n) {
    const chars = ["a", "é", "ж", "€", "日", "🎉", " ", "z"];
    const enc = new TextEncoder();
    let s = "";
    let len = 0;
    for (let i = 0; len < n; i++) {
      let c = chars[i % chars.length];
      let l = enc.encode(c).length;
      if (len + l > n) {
        c = "x";
        l = 1;
      }
      s += c;
      len += l;
    }
    return s;
  }

  function bytes(n) {
    const b = new Uint8Array(n);
    let x = 2463534242;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[i] = (x & 0x80) === 0 && i > 0 ? b[i - 1] : x & 0xff;
    }
    return b;
  }

  async function echoText(url, s) {
    const c = await open(url);
    c.ws.send(s);
    const got = await c.next();
    if (typeof got !== "string") {
      fail(`echo came back as ${typeof got}, want a string`);
    }
    if (got !== s) {
      fail(`echo differs: ${got.length} UTF-16 units, want ${s.length}`);
    }
    c.ws.close(1000);
  }

  window.interopCases = {
    "text-empty": (url) => echoText(url, ""),
    "text-non-ascii": (url) => echoText(url, "héllo wörld — Ελληνικά — 日本語 — 🎉🚀 — \u{10FFFF}"),
    "text-65536": (url) => echoText(url, utf8Text(65536)),

    "binary-1MiB": async (url) => {
      const c = await open(url, "arraybuffer");
      const want = bytes(1 << 20);
      c.ws.send(want.buffer);
      const got = await c.next();
      if (!(got instanceof ArrayBuffer)) {
        fail(`echo came back as ${Object.prototype.toString.call(got)}, want an ArrayBuffer`);
      }
      const g = new Uint8Array(got);
      if (g.length !== want.length) {
        fail(`echo has ${g.length} bytes, want ${want.length}`);
      }
      for (let i = 0; i < g.length; i++) {
        if (g[i] !== want[i]) {
          fail(`echo differs at byte ${i}`);
        }
      }
      c.ws.close(1000);
    },

    "burst-100": async (url) => {
      const c = await open(url);
      for (let i = 0; i < 100; i++) {
        c.ws.send(`message ${i} ${"#".repeat(i * 37)}`);
      }
      for (let i = 0; i < 100; i++) {
        const got = await c.next();
        const want = `message ${i} ${"#".repeat(i * 37)}`;
        if (got !== want) {
          fail(`message ${i} arrived as ${JSON.stringify(String(got).slice(0, 20))}…, want ${JSON.stringify(want.slice(0, 20))}…`);
        }
      }
      c.ws.close(1000);
    },

    "close-code-reason": async (url) => {
      const c = await open(url);
      c.ws.close(4000, "bye ✓");
      const e = await c.closed;
      if (e.code !== 4000 || !e.wasClean) {
        fail(`CloseEvent code ${e.code} wasClean ${e.wasClean}, want 4000 and true`);
      }
    },

    // extensions: want is "" (no compression) or "permessage-deflate".
    extensions: async (url, want) => {
      const c = await open(url);
      const got = c.ws.extensions;
      c.ws.close(1000);
      if (want === "" ? got !== "" : !got.startsWith(want)) {
        fail(`ws.extensions is ${JSON.stringify(got)}, want ${want === "" ? "empty" : JSON.stringify(want + "…")}`);
      }
      return got;
    },

    // chat: binary is refused by the server with 1003 and a reason.
    "server-close-reason": async (url) => {
      const c = await open(url, "arraybuffer");
      c.ws.send(new Uint8Array([1, 2, 3]));
      const e = await c.closed;
      if (e.code !== 1003 || e.reason !== "text messages only" || !e.wasClean) {
        fail(`CloseEvent ${e.code} ${JSON.stringify(e.reason)} wasClean ${e.wasClean}, want 1003 "text messages only" true`);
      }
    },

    // chat from another origin: the handshake is refused (403), which a
    // page sees as an error and close code 1006.
    "cross-origin-refused": async (url) => {
      try {
        const c = await open(url);
        c.ws.close();
      } catch (err) {
        if (/closed before open: 1006/.test(err.message)) {
          return;
        }
        throw err;
      }
      fail("the connection opened");
    },
  };
})();
