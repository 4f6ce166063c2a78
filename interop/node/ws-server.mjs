// A Node `ws` WebSocketServer for the client matrix (interop/clientmatrix):
// the peer the project's client is tested against.
//
//   node ws-server.mjs [-addr 127.0.0.1:0] [-deflate] [-cert FILE -key FILE]
//
// Paths: /echo sends every message back as one message of the same type (it
// speaks the subprotocol chat.v1, chosen when offered); /fragmented?n=K
// sends it back in K fragments (send with fin: false, the text cut at byte
// offsets, so inside multi-byte characters); /fragmented-ping?n=K sends the
// first message back in K fragments with a ping after each but the last,
// waits for each pong before the next fragment, then sends "ok" or what was
// wrong; /close?code=C&reason=R closes at once with that code and reason;
// /close-abrupt?code=C&reason=R sends that close frame and ends the TCP
// connection at once; /ping sends three pings ("", "interop", 125 bytes),
// wants each pong to carry its ping's payload within 5 s and then sends
// "ok" or what was wrong as a text message; /invalid-utf8 sends a text
// message with the byte 0xff; /headers sends the request's Origin,
// X-Interop, Authorization and Host as "name: value" lines; /refuse refuses
// the upgrade with 403 and the body "members only". It prints "listening on
// ws://HOST:PORT/" (wss with -cert) once it listens and exits on SIGTERM or
// SIGINT.
//
// With -h2 (and -cert) it is an HTTP/2 server instead, with WebSockets on
// extended CONNECT streams (RFC 8441, Node's http2 with
// enableConnectProtocol): each stream is handed to a ws WebSocket as its
// socket (ws takes any Duplex there), so the framing is still ws's; the
// same paths, the subprotocol and /refuse; no permessage-deflate.
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { WebSocket, WebSocketServer } from 'ws';

const args = { addr: '127.0.0.1:0', deflate: false, h2: false, cert: '', key: '' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^--?/, '');
  if (a === 'deflate') args.deflate = true;
  else if (a === 'h2') args.h2 = true;
  else if (a in args) args[a] = process.argv[++i];
  else {
    console.error(`ws-server: unknown flag ${process.argv[i]}`);
    process.exit(2);
  }
}
const [host, port] = [args.addr.slice(0, args.addr.lastIndexOf(':')), Number(args.addr.slice(args.addr.lastIndexOf(':') + 1))];

const tls = args.cert !== '';
if (args.h2 && (!tls || args.deflate)) {
  console.error('ws-server: -h2 needs -cert and -key, and takes no -deflate');
  process.exit(2);
}
const creds = tls ? { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) } : {};
let server;
if (args.h2) server = http2.createSecureServer({ ...creds, settings: { enableConnectProtocol: true } });
else server = tls ? https.createServer(creds) : http.createServer();
if (!args.h2) {
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('WebSocket only\n');
  });
}

const wss = new WebSocketServer({
  ...(args.h2 ? { noServer: true } : { server }),
  maxPayload: 64 << 20,
  // ws's defaults otherwise: context takeover both ways, 15-bit windows,
  // messages under 1 KiB sent uncompressed.
  perMessageDeflate: args.deflate,
  // The subprotocol cases: chat.v1 is the one spoken, when offered.
  handleProtocols: (protocols) => (protocols.has('chat.v1') ? 'chat.v1' : false),
  // The refusal case: /refuse gets 403 and a body.
  verifyClient: (info, cb) =>
    new URL(info.req.url, 'http://peer').pathname === '/refuse' ? cb(false, 403, 'members only') : cb(true),
});

const sendAsync = (ws, data, opts) =>
  new Promise((resolve, reject) => ws.send(data, opts, (err) => (err ? reject(err) : resolve())));

async function fragmented(ws, data, isBinary, n) {
  const step = Math.ceil(data.length / n);
  for (let i = 0; i < n; i++) {
    const piece = data.subarray(Math.min(i * step, data.length), Math.min((i + 1) * step, data.length));
    await sendAsync(ws, piece, { binary: isBinary, fin: i === n - 1 });
  }
}

// pingPong sends a ping with payload p and resolves to '' once a pong with
// the same payload arrives, or to what was wrong.
async function pingPong(ws, p) {
  const pong = await new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.off('pong', onPong);
      resolve(null);
    }, 5000);
    const onPong = (data) => {
      clearTimeout(timer);
      ws.off('pong', onPong);
      resolve(data);
    };
    ws.on('pong', onPong);
    ws.ping(p);
  });
  if (pong === null) return `no pong within 5 s for a ping of ${p.length} bytes`;
  if (!pong.equals(p)) return `pong of ${pong.length} bytes ${JSON.stringify(pong.toString())} for a ping of ${p.length} bytes`;
  return '';
}

async function pings(ws) {
  for (const p of [Buffer.alloc(0), Buffer.from('interop'), Buffer.alloc(125, 'p')]) {
    const wrong = await pingPong(ws, p);
    if (wrong) return wrong;
  }
  return 'ok';
}

// fragmentedPing sends data back in n fragments with a ping after every
// fragment but the last, each pong awaited before the next fragment, and
// resolves to the verdict.
async function fragmentedPing(ws, data, isBinary, n) {
  const step = Math.ceil(data.length / n);
  let verdict = 'ok';
  for (let i = 0; i < n; i++) {
    const piece = data.subarray(Math.min(i * step, data.length), Math.min((i + 1) * step, data.length));
    await sendAsync(ws, piece, { binary: isBinary, fin: i === n - 1 });
    if (i < n - 1 && verdict === 'ok') verdict = (await pingPong(ws, Buffer.from(`fragment-${i}`))) || 'ok';
  }
  return verdict;
}

// An RFC 8441 stream: CONNECT with :protocol websocket, answered with 200
// (the subprotocol chosen as ws's handleProtocols would), then the stream
// is the WebSocket's socket, set up as ws's own upgrade does it.
if (args.h2) {
  server.on('stream', (stream, headers) => {
    stream.on('error', (err) => console.error(`ws-server: h2 stream: ${err.message}`));
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 400 });
      stream.end('WebSocket only\n');
      return;
    }
    const path = headers[':path'];
    if (new URL(path, 'http://peer').pathname === '/refuse') {
      stream.respond({ ':status': 403, 'content-type': 'text/plain' });
      stream.end('members only');
      return;
    }
    const offered = new Set(
      (headers['sec-websocket-protocol'] || '').split(',').map((p) => p.trim()).filter(Boolean),
    );
    const protocol = wss.options.handleProtocols(offered);
    stream.respond({ ':status': 200, ...(protocol ? { 'sec-websocket-protocol': protocol } : {}) });
    const ws = new WebSocket(null, undefined, wss.options);
    if (protocol) ws._protocol = protocol;
    ws.setSocket(stream, Buffer.alloc(0), wss.options);
    wss.clients.add(ws);
    ws.on('close', () => wss.clients.delete(ws));
    wss.emit('connection', ws, { url: path, headers: { ...headers, host: headers[':authority'] }, socket: stream });
  });
}

wss.on('connection', (ws, req) => {
  const u = new URL(req.url, 'http://peer');
  ws.on('error', (err) => console.error(`ws-server: ${u.pathname}: ${err.message}`));
  switch (u.pathname) {
    case '/echo':
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      break;
    case '/fragmented': {
      const n = Number(u.searchParams.get('n') || 4);
      let chain = Promise.resolve();
      ws.on('message', (data, isBinary) => {
        chain = chain.then(() => fragmented(ws, data, isBinary, n)).catch((err) => console.error(`ws-server: ${err.message}`));
      });
      break;
    }
    case '/fragmented-ping': {
      const n = Number(u.searchParams.get('n') || 4);
      ws.once('message', (data, isBinary) => {
        fragmentedPing(ws, data, isBinary, n)
          .then((verdict) => ws.send(verdict))
          .catch((err) => console.error(`ws-server: ${err.message}`));
      });
      break;
    }
    case '/invalid-utf8':
      // A text message that is not UTF-8 (0xff can never appear in it):
      // bad input the client must close with 1007.
      ws.send(Buffer.from([0x6f, 0x6b, 0xff, 0x21]), { binary: false });
      break;
    case '/headers':
      ws.send(['origin', 'x-interop', 'authorization', 'host'].map((h) => `${h}: ${req.headers[h] ?? ''}`).join('\n'));
      break;
    case '/close':
      ws.close(Number(u.searchParams.get('code')), u.searchParams.get('reason') || '');
      break;
    case '/close-abrupt':
      // The close frame, then the TCP connection ended at once, without
      // waiting for the client's close frame.
      ws.close(Number(u.searchParams.get('code')), u.searchParams.get('reason') || '');
      req.socket.end();
      break;
    case '/ping':
      pings(ws).then((verdict) => ws.send(verdict));
      break;
    default:
      ws.close(4404, 'no such path');
  }
});

server.listen(port, host, () => {
  const a = server.address();
  console.log(`listening on ${tls ? 'wss' : 'ws'}://${a.address}:${a.port}/`);
});

const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
