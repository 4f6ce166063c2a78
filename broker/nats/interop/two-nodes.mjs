// Chromium (Debian's /usr/bin/chromium, headless, driven by the
// playwright-core of interop/node) against two nodes of
// broker/nats/examples/chat sharing their rooms through one nats-server:
// a page on each node, in the same room, each shows the other's line.
//
//	node two-nodes.mjs --a http://H:PA/ --b http://H:PB/
//
// run.sh beside this file starts nats-server and the nodes.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const interopNode = path.resolve(here, "../../../interop/node");
const { chromium } = createRequire(path.join(interopNode, "package.json"))("playwright-core");
const { Suite, args, assert, CASE_TIMEOUT_MS } = await import(path.join(interopNode, "lib.mjs"));

const a = args();
const suite = new Suite("chromium");
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "broker-nats-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // No sandbox as root, no GPU, no background traffic to hosts that
    // cannot be reached.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 60000,
  });
} catch (err) {
  suite.fail("launch", err);
  fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}

// Two pages of one room, each on its own node (its own origin): a line
// said on either shows on the other, once.
await suite.run("chat/two-nodes", async (t) => {
  const pages = {};
  for (const [who, base] of [["alice", a.a], ["bob", a.b]]) {
    const p = await context.newPage();
    t.defer(() => p.close());
    await p.goto(`${base}?room=nodes`);
    await p.locator("#status").filter({ hasText: /^connected$/ }).waitFor({ timeout: CASE_TIMEOUT_MS });
    const room = await p.locator("#room").textContent();
    assert(room === "nodes", `${who}'s page shows room ${JSON.stringify(room)}`);
    pages[who] = p;
  }
  // bob joined after alice: his join reaches alice's page through NATS
  // once the room's subscription is in place on both nodes. Wait for it,
  // so the lines below are not said before bob's node holds the room.
  await pages.alice.locator("#log li").filter({ hasText: /joined/ }).nth(1)
    .waitFor({ timeout: CASE_TIMEOUT_MS });
  const say = async (who, line) => {
    await pages[who].fill("#name", who);
    await pages[who].fill("#text", line);
    await pages[who].click("#send");
  };
  const fromAlice = `from node a ${Date.now()}`;
  const fromBob = `from node b ${Date.now()}`;
  await say("alice", fromAlice);
  const atBob = pages.bob.locator("#log li").filter({ hasText: fromAlice });
  await atBob.waitFor({ timeout: CASE_TIMEOUT_MS });
  assert((await atBob.textContent()) === `alice: ${fromAlice}`, `bob's page shows ${JSON.stringify(await atBob.textContent())}`);
  await say("bob", fromBob);
  const atAlice = pages.alice.locator("#log li").filter({ hasText: fromBob });
  await atAlice.waitFor({ timeout: CASE_TIMEOUT_MS });
  assert((await atAlice.textContent()) === `bob: ${fromBob}`, `alice's page shows ${JSON.stringify(await atAlice.textContent())}`);
  // Each page got each line once (its own back from its node, the other's
  // through NATS): none twice.
  await pages.alice.locator("#log li").filter({ hasText: fromAlice }).waitFor({ timeout: CASE_TIMEOUT_MS });
  await pages.bob.locator("#log li").filter({ hasText: fromBob }).waitFor({ timeout: CASE_TIMEOUT_MS });
  for (const [who, p] of Object.entries(pages)) {
    for (const line of [fromAlice, fromBob]) {
      const n = await p.locator("#log li").filter({ hasText: line }).count();
      assert(n === 1, `${who}'s page shows ${JSON.stringify(line)} ${n} times`);
    }
  }
});

await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
console.log(`chromium two-nodes: ${suite.passed} passed, ${suite.failed} failed`);
process.exit(suite.failed === 0 ? 0 : 1);
