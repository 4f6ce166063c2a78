// Shared helpers of the Node suites: case runner with a per-case timeout,
// PASS/FAIL lines, command-line parsing and deterministic payloads.

export const CASE_TIMEOUT_MS = Number(process.env.INTEROP_CASE_TIMEOUT_MS || 20000);

// Suite prints one line per case and remembers whether any failed.
export class Suite {
  constructor(client) {
    this.client = client;
    this.passed = 0;
    this.failed = 0;
  }

  // run runs fn(t) with a timeout. t.defer(f) registers cleanup that runs
  // after the case whatever its outcome (closing sockets a hung case left
  // open). A thrown error or a timeout is a failure.
  async run(name, fn, timeoutMs = CASE_TIMEOUT_MS) {
    const cleanups = [];
    const t = { defer: (f) => cleanups.push(f), name };
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.resolve().then(() => fn(t)), timeout]);
      this.pass(name);
    } catch (err) {
      this.fail(name, err);
    } finally {
      clearTimeout(timer);
      for (const f of cleanups.reverse()) {
        try {
          await f();
        } catch {
          // cleanup of a failed case: the failure is reported already
        }
      }
    }
  }

  pass(name) {
    this.passed++;
    console.log(`PASS ${this.client} ${name}`);
  }

  fail(name, err) {
    this.failed++;
    const reason = String(err && err.message ? err.message : err).replace(/\s+/g, " ").trim();
    console.log(`FAIL ${this.client} ${name}: ${reason || "failed"}`);
  }
}

// args parses --key value pairs.
export function args(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      throw new Error(`unexpected argument ${a}`);
    }
    const eq = a.indexOf("=");
    if (eq >= 0) {
      out[a.slice(2, eq)] = a.slice(eq + 1);
    } else {
      out[a.slice(2)] = argv[++i];
    }
  }
  return out;
}

// payload returns n deterministic bytes: pseudo-random over a 64-symbol
// alphabet with repeated runs, so that deflate has work to do but the
// output is never trivial.
export function payload(n, seed = 1) {
  const b = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = (x & 0x80) === 0 && i > 0 ? b[i - 1] : 0x30 + (x & 0x3f);
  }
  return b;
}

// utf8Text returns a string of exactly n UTF-8 bytes made of 1- to 4-byte
// characters.
export function utf8Text(n) {
  const chars = ["a", "é", "ж", "€", "日", "🎉", " ", "z"];
  let s = "";
  let len = 0;
  let i = 0;
  while (len < n) {
    let c = chars[i++ % chars.length];
    let l = Buffer.byteLength(c);
    if (len + l > n) {
      c = "x";
      l = 1;
    }
    s += c;
    len += l;
  }
  return s;
}

export function assert(cond, msg) {
  if (!cond) {
    throw new Error(msg);
  }
}

// firstDiff describes where two buffers differ.
export function describeMismatch(got, want) {
  if (got.length !== want.length) {
    return `length ${got.length}, want ${want.length}`;
  }
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i]) {
      return `byte ${i} is ${got[i]}, want ${want[i]}`;
    }
  }
  return "equal";
}
