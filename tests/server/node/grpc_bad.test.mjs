// vdb-server's gRPC front against bad input, stalled and greedy clients, with raw HTTP/2
// (node:http2) and TCP (node:net) clients: each gets a clear gRPC status or a closed
// connection, and the server keeps serving. run_grpc.sh starts the server with --max-body 1M,
// --timeout 2 and --max-streams 16, and sets VDB_ADDRESS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';

const address = process.env.VDB_ADDRESS;
assert.ok(address, 'VDB_ADDRESS must name the server');
const [host, port] = address.split(':');
const SVC = '/milvus.proto.milvus.MilvusService/';

const frame = (msg, declared = msg.length) =>
  Buffer.concat([Buffer.from([0, declared >>> 24, (declared >>> 16) & 255, (declared >>> 8) & 255,
    declared & 255]), msg]);

// One unary call: resolves {status, headers, trailers, body}.
function call(session, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path,
      'content-type': 'application/grpc', te: 'trailers', ...headers });
    const out = { headers: null, trailers: {}, body: Buffer.alloc(0) };
    req.on('response', (h) => { out.headers = h; });
    req.on('trailers', (t) => { out.trailers = t; });
    req.on('data', (d) => { out.body = Buffer.concat([out.body, d]); });
    req.on('end', () => {
      out.status = out.trailers['grpc-status'] ?? out.headers?.['grpc-status'];
      out.message = decodeURIComponent(out.trailers['grpc-message'] ?? out.headers?.['grpc-message'] ?? '');
      resolve(out);
    });
    req.on('error', reject);
    if (body !== null) req.end(body);
  });
}

const connect = () => http2.connect(`http://${address}`);
const empty = frame(Buffer.alloc(0));

async function serving() {
  const s = connect();
  const r = await call(s, SVC + 'GetVersion', empty);
  s.close();
  assert.equal(r.status, '0', JSON.stringify(r));
}

test('a message that does not decode: INTERNAL', async () => {
  const s = connect();
  // field 3 (collection_name) says 100 bytes and holds 2
  const r = await call(s, SVC + 'DescribeCollection', frame(Buffer.from([0x1a, 0x64, 0x41, 0x42])));
  assert.equal(r.status, '13');
  assert.match(r.message, /unmarshalling/);
  // a body shorter than its prefix says
  const t = await call(s, SVC + 'DescribeCollection', frame(Buffer.from([0x1a, 0x01, 0x41]), 50));
  assert.equal(t.status, '13');
  // no message at all
  const e = await call(s, SVC + 'GetVersion', Buffer.alloc(0));
  assert.equal(e.status, '13');
  // and the same connection goes on
  const ok = await call(s, SVC + 'GetVersion', empty);
  assert.equal(ok.status, '0');
  s.close();
});

test('a message over --max-body: RESOURCE_EXHAUSTED, before it is read', async () => {
  const s = connect();
  const req = s.request({ ':method': 'POST', ':path': SVC + 'Insert',
    'content-type': 'application/grpc', te: 'trailers' });
  const got = new Promise((resolve) => {
    req.on('response', (x) => resolve(x)); // trailers-only: the status is in the headers
    req.on('error', () => resolve({}));
    req.resume();
  });
  req.write(frame(Buffer.alloc(64 * 1024, 1), 4 << 20)); // says 4 MiB; the cap is 1 MiB
  const h = await got;
  req.close();
  assert.equal(h['grpc-status'], '8');
  assert.match(decodeURIComponent(h['grpc-message']), /larger than max/);
  const ok = await call(s, SVC + 'GetVersion', empty);
  assert.equal(ok.status, '0');
  s.close();
});

test('unknown methods and services: UNIMPLEMENTED; unsupported ones: Milvus code 3000', async () => {
  const s = connect();
  assert.equal((await call(s, SVC + 'NoSuchMethod', empty)).status, '12');
  assert.equal((await call(s, '/other.Service/Search', empty)).status, '12');
  const a = await call(s, SVC + 'AlterCollectionField', empty);
  assert.equal(a.status, '0');
  // common.Status with code (field 3) = 3000
  assert.ok(a.body.includes(Buffer.from([0x18, 0xb8, 0x17])), a.body.toString('hex'));
  // a database other than "default" (metadata): Milvus's 800, DatabaseNotFound
  const d = await call(s, SVC + 'ShowCollections', empty, { dbname: 'other' });
  assert.equal(d.status, '0');
  assert.ok(d.body.includes(Buffer.from([0x18, 0xa0, 0x06])), d.body.toString('hex'));
  s.close();
});

test('a request that is not gRPC: HTTP 415 with a gRPC status', async () => {
  const s = connect();
  const r = await new Promise((resolve, reject) => {
    const req = s.request({ ':method': 'GET', ':path': '/' });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
    req.resume();
  });
  assert.equal(r[':status'], 415);
  assert.equal(r['grpc-status'], '13');
  s.close();
});

test('many streams on one connection: all answered (at most --max-streams at once)', async () => {
  const s = connect();
  await new Promise((r) => s.once('remoteSettings', r));
  assert.equal(s.remoteSettings.maxConcurrentStreams, 16);
  const calls = [];
  for (let i = 0; i < 200; i++) calls.push(call(s, SVC + 'GetVersion', empty));
  const res = await Promise.all(calls);
  assert.ok(res.every((r) => r.status === '0'));
  s.close();
});

test('streams opened and reset at once (rapid reset): the server goes on', async () => {
  const s = connect();
  s.on('error', () => {});
  for (let i = 0; i < 500; i++) {
    const req = s.request({ ':method': 'POST', ':path': SVC + 'GetVersion',
      'content-type': 'application/grpc' });
    req.on('error', () => {});
    req.close(http2.constants.NGHTTP2_CANCEL);
  }
  await new Promise((r) => setTimeout(r, 200));
  s.destroy();
  await serving();
});

function closedWithin(sock, ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    sock.on('close', () => { clearTimeout(t); resolve(true); });
    sock.on('error', () => {});
  });
}

test('stalled clients are closed after --timeout', async () => {
  // says nothing at all
  const quiet = net.connect(Number(port), host);
  // the HTTP/2 preface, then nothing
  const preface = net.connect(Number(port), host, () =>
    preface.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + '\x00\x00\x00\x04\x00\x00\x00\x00\x00'));
  preface.resume();
  // a call whose message never finishes arriving
  const s = connect();
  s.on('error', () => {});
  const req = s.request({ ':method': 'POST', ':path': SVC + 'Insert',
    'content-type': 'application/grpc' });
  req.on('error', () => {});
  req.write(frame(Buffer.alloc(1000), 100000));
  const sClosed = new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), 10000);
    s.on('close', () => { clearTimeout(t); resolve(true); });
  });
  const [a, b, c] = await Promise.all([closedWithin(quiet, 10000), closedWithin(preface, 10000),
    sClosed]);
  assert.ok(a, 'a silent connection was not closed');
  assert.ok(b, 'a connection that sent only the preface was not closed');
  assert.ok(c, 'a connection with a stalled call was not closed');
  await serving();
});

test('garbage after the preface: the connection is closed, the server goes on', async () => {
  const sock = net.connect(Number(port), host, () =>
    sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + 'x'.repeat(100)));
  sock.resume();
  assert.ok(await closedWithin(sock, 5000));
  await serving();
});
