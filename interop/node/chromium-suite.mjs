// Chromium (Debian's /usr/bin/chromium, headless, driven by playwright-core)
// against examples/echo (plain and -deflate) and examples/chat.
//
//	node chromium-suite.mjs --plain ws://H:P/ --deflate ws://H:P/ --chat http://H:P/ --artifacts DIR
//
// The echo cases run in a page served from http://127.0.0.1 by a static
// server started here: Chromium's local-network-access checks block a
// WebSocket to a loopback address from a page whose origin is not itself
// local (about:blank, data:, a public site), but not from a loopback page.
// See README.md.
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { Suite, args, assert, CASE_TIMEOUT_MS } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const a = args();
const suite = new Suite("chromium");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const artifacts = a.artifacts || fs.mkdtempSync(path.join(os.tmpdir(), "interop-artifacts-"));

// The flags this machine and CI need: no sandbox as root, no GPU, and no
// background traffic to hosts that cannot be reached.
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// servePage serves page/ on 127.0.0.1 on a free port.
async function servePage() {
  const files = {
    "/": ["index.html", "text/html; charset=utf-8"],
    "/cases.js": ["cases.js", "text/javascript; charset=utf-8"],
  };
  const srv = http.createServer((req, res) => {
    const f = files[req.url];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": f[1], "cache-control": "no-store" });
    res.end(fs.readFileSync(path.join(here, "page", f[0])));
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return { srv, url: `http://127.0.0.1:${srv.address().port}/` };
}

const page0 = await servePage();
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "interop-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: chromiumArgs,
    timeout: 60000,
  });
} catch (err) {
  suite.fail("launch", err);
  page0.srv.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}

const page = context.pages()[0] || (await context.newPage());
const consoleLines = [];
page.on("console", (m) => consoleLines.push(m.text()));

// inPage runs a case of page/cases.js; a fresh load first drops whatever
// sockets an earlier case left.
async function inPage(t, name, ...rest) {
  consoleLines.length = 0;
  await page.goto(page0.url);
  try {
    return await page.evaluate(([n, r]) => window.interopCases[n](...r), [name, rest]);
  } catch (err) {
    // Chromium logs why a connection failed (for example
    // ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS) on the console only.
    const why = consoleLines.filter((l) => /WebSocket/.test(l)).join("; ");
    throw new Error(`${err.message.split("\n")[0]}${why ? ` [console: ${why}]` : ""}`);
  }
}

const echoCases = ["text-empty", "text-non-ascii", "text-65536", "binary-1MiB", "burst-100", "close-code-reason"];
for (const [label, url, ext] of [
  ["plain", a.plain, ""],
  ["deflate", a.deflate, "permessage-deflate"],
]) {
  for (const c of echoCases) {
    await suite.run(`${label}/${c}`, (t) => inPage(t, c, url));
  }
  await suite.run(`${label}/extensions`, (t) => inPage(t, "extensions", url, ext));
}

// examples/chat: its own page, from its own origin.
const chatPage = a.chat;
const chatWS = chatPage.replace(/^http/, "ws") + "ws";

await suite.run("chat/two-pages", async (t) => {
  const alice = await context.newPage();
  const bob = await context.newPage();
  t.defer(() => alice.close());
  t.defer(() => bob.close());
  for (const p of [alice, bob]) {
    await p.setViewportSize({ width: 800, height: 600 });
    await p.goto(chatPage);
    await p.locator("#status").filter({ hasText: /^connected$/ }).waitFor({ timeout: CASE_TIMEOUT_MS });
  }
  const line = "héllo from Chromium ✓";
  await alice.fill("#name", "alice");
  await alice.fill("#text", line);
  await alice.click("#send");
  const shown = bob.locator("#log li").filter({ hasText: line });
  await shown.waitFor({ timeout: CASE_TIMEOUT_MS });
  const text = await shown.textContent();
  assert(text === `alice: ${line}`, `bob's page shows ${JSON.stringify(text)}`);
  await alice.locator("#log li").filter({ hasText: line }).waitFor({ timeout: CASE_TIMEOUT_MS });

  const file = path.join(artifacts, "chat.png");
  await bob.screenshot({ path: file, fullPage: true });
  const png = fs.readFileSync(file);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert(png.length > 1000 && png.subarray(0, 8).equals(sig), `${file} is not a PNG (${png.length} bytes)`);
  // The IHDR chunk: width and height.
  const w = png.readUInt32BE(16);
  const h = png.readUInt32BE(20);
  assert(w > 0 && h > 0, `${file}: ${w}x${h}`);
  console.log(`screenshot: ${file} (${png.length} bytes, ${w}x${h})`);
});

// Rooms: ?room=NAME in the page's URL; a line reaches its own room's
// pages only, and each page shows its room.
await suite.run("chat/two-rooms", async (t) => {
  const pages = {};
  for (const [who, room] of [["red1", "red"], ["red2", "red"], ["blue1", "blue"]]) {
    const p = await context.newPage();
    t.defer(() => p.close());
    await p.goto(`${chatPage}?room=${room}`);
    await p.locator("#status").filter({ hasText: /^connected$/ }).waitFor({ timeout: CASE_TIMEOUT_MS });
    const shownRoom = await p.locator("#room").textContent();
    assert(shownRoom === room, `${who}'s page shows room ${JSON.stringify(shownRoom)}, want ${room}`);
    pages[who] = p;
  }
  const say = async (who, line) => {
    await pages[who].fill("#name", who);
    await pages[who].fill("#text", line);
    await pages[who].click("#send");
  };
  const redLine = `in red ${Date.now()}`;
  const blueLine = `in blue ${Date.now()}`;
  await say("red1", redLine);
  await pages.red2.locator("#log li").filter({ hasText: redLine }).waitFor({ timeout: CASE_TIMEOUT_MS });
  // red's line was published before blue1 said anything: had it leaked
  // into blue, blue1 would have it before its own line comes back.
  await say("blue1", blueLine);
  await pages.blue1.locator("#log li").filter({ hasText: blueLine }).waitFor({ timeout: CASE_TIMEOUT_MS });
  const leaked = await pages.blue1.locator("#log li").filter({ hasText: redLine }).count();
  assert(leaked === 0, "blue's page shows red's line");
  // And the other way: a red line said after blue's reaches red2 after
  // any leaked blue line would have.
  const lastRed = `again in red ${Date.now()}`;
  await say("red1", lastRed);
  await pages.red2.locator("#log li").filter({ hasText: lastRed }).waitFor({ timeout: CASE_TIMEOUT_MS });
  const leakedBack = await pages.red2.locator("#log li").filter({ hasText: blueLine }).count();
  assert(leakedBack === 0, "red's page shows blue's line");
});

await suite.run("chat/server-close-reason", async (t) => {
  const p = await context.newPage();
  t.defer(() => p.close());
  await p.goto(chatPage);
  // A socket of the chat page's own origin, so the chat's Origin check
  // lets it in. (The page's CSP allows no injected script tag; evaluate is
  // not subject to it.)
  const e = await p.evaluate(
    (u) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(u);
        ws.onopen = () => ws.send(new Uint8Array([1, 2, 3]));
        ws.onerror = () => {};
        ws.onclose = (ev) => resolve({ code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
        setTimeout(() => reject(new Error("no close event")), 10000);
      }),
    chatWS,
  );
  assert(
    e.code === 1003 && e.reason === "text messages only" && e.wasClean,
    `CloseEvent ${e.code} ${JSON.stringify(e.reason)} wasClean ${e.wasClean}, want 1003 "text messages only" true`,
  );
});

await suite.run("chat/cross-origin-refused", (t) => inPage(t, "cross-origin-refused", chatWS));

await context.close();
page0.srv.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
process.exitCode = suite.failed > 0 ? 1 : 0;
