// BINARY_VECTOR over gRPC with the official Milvus Node.js SDK: a schema with a BinaryVector
// field (dim in bits), rows as arrays of dim / 8 byte values that the SDK packs into
// VectorField.binary_vector, searches with BinaryVector (100) placeholders on BIN_FLAT and
// BIN_IVF_FLAT indexes, HAMMING and JACCARD distances checked against ones computed here, the
// bytes back as output fields, hybrid search and a search iterator on the field, and bad input
// refused. run_grpc.sh sets VDB_ADDRESS and VDB_TOKEN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MilvusClient, DataType, RRFRanker } from '@zilliz/milvus2-sdk-node';

const address = process.env.VDB_ADDRESS;
assert.ok(address, 'VDB_ADDRESS must name the server');
const client = new MilvusClient({ address, token: process.env.VDB_TOKEN, timeout: 30000 });

function ok(r, what) {
  const st = r.status ?? r;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
  return r;
}

let seed = 9;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const dim = 64; // bits
const nb = dim / 8;
const N = 300;
const bits = (x) => { let c = 0; for (; x; x >>= 1) c += x & 1; return c; };
const hamming = (a, b) => a.reduce((s, x, i) => s + bits(x ^ b[i]), 0);
const jaccard = (a, b) => {
  let inter = 0, uni = 0;
  a.forEach((x, i) => { inter += bits(x & b[i]); uni += bits(x | b[i]); });
  return uni ? 1 - inter / uni : 0;
};
const gen = () => Array.from({ length: nb }, () => Math.floor(rnd() * 256));
const rows = Array.from({ length: N }, (_, i) => ({ id: i, tag: i % 3, bv: gen() }));

async function make(name, metric, index_type, params) {
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'tag', data_type: DataType.Int64 },
      { name: 'bv', data_type: DataType.BinaryVector, dim },
    ],
  }), 'create');
  ok(await client.createIndex({ collection_name: name, field_name: 'bv', index_type,
    metric_type: metric, params }), 'index');
  ok(await client.insert({ collection_name: name, data: rows.slice(0, 200) }), 'insert');
  ok(await client.flushSync({ collection_names: [name] }), 'flush');
  ok(await client.insert({ collection_name: name, data: rows.slice(200) }), 'insert');
  ok(await client.loadCollectionSync({ collection_name: name }), 'load');
}

for (const [metric, index_type, params, sp] of [
  ['HAMMING', 'BIN_FLAT', {}, {}],
  ['HAMMING', 'BIN_IVF_FLAT', { nlist: 4 }, { nprobe: 4 }],
  ['JACCARD', 'BIN_FLAT', {}, {}],
  ['JACCARD', 'BIN_IVF_FLAT', { nlist: 4 }, { nprobe: 4 }],
]) {
  test(`BinaryVector ${metric} ${index_type}: exact distances, output bytes`, async () => {
    const name = `bin_grpc_${metric.toLowerCase()}_${index_type.toLowerCase()}`;
    await make(name, metric, index_type, params);
    const d = ok(await client.describeCollection({ collection_name: name }), 'describe');
    const vf = d.schema.fields.find((f) => f.name === 'bv');
    assert.equal(vf.data_type, 'BinaryVector');
    const dist = metric === 'HAMMING' ? hamming : jaccard;
    const qs = [gen(), gen()];
    const r = ok(await client.search({ collection_name: name, data: qs, anns_field: 'bv',
      limit: 10, filter: 'tag != 2', params: sp, output_fields: ['bv', 'tag'] }), 'search');
    assert.equal(r.results.length, 2);
    r.results.forEach((hits, qi) => {
      const want = rows.filter((x) => x.tag !== 2).map((x) => dist(qs[qi], x.bv))
        .sort((a, b) => a - b).slice(0, 10);
      assert.equal(hits.length, 10);
      hits.forEach((h, i) => {
        const id = Number(h.id);
        assert.ok(Math.abs(h.score - want[i]) < 1e-5, `q${qi} hit ${i}: ${h.score} vs ${want[i]}`);
        assert.ok(Math.abs(h.score - dist(qs[qi], rows[id].bv)) < 1e-5, `hit ${id}: its score`);
        assert.notEqual(Number(h.tag), 2);
        assert.deepEqual(Array.from(h.bv), rows[id].bv, `hit ${id}: its bytes back`);
      });
    });
    const qr = ok(await client.query({ collection_name: name, filter: 'id in [4, 7]',
      output_fields: ['bv'] }), 'query');
    for (const x of qr.data) assert.deepEqual(Array.from(x.bv), rows[Number(x.id)].bv);
    await client.dropCollection({ collection_name: name });
  });
}

test('BinaryVector: hybrid search, search iterator, bad input', async () => {
  const name = 'bin_grpc_more';
  await make(name, 'HAMMING', 'BIN_FLAT', {});
  const q = rows[11].bv;
  const hy = ok(await client.hybridSearch({ collection_name: name, limit: 5,
    data: [{ anns_field: 'bv', data: [q], limit: 5 },
      { anns_field: 'bv', data: [q], limit: 5, expr: 'tag == 2' }],
    rerank: RRFRanker(60) }), 'hybrid');
  assert.equal(Number(hy.results[0].id), 11, JSON.stringify(hy.results));

  const it = await client.searchIterator({ collection_name: name, data: q, anns_field: 'bv',
    batchSize: 64, limit: N, output_fields: ['tag'] });
  const seen = [];
  for await (const batch of it) for (const h of batch) seen.push([h.score, Number(h.id)]);
  assert.deepEqual(seen.map((x) => x[1]).sort((a, b) => a - b), rows.map((x) => x.id));
  assert.deepEqual(seen.map((x) => x[0]), rows.map((x) => hamming(q, x.bv)).sort((a, b) => a - b));

  // a query of the wrong byte length is refused, naming the dim
  const badq = await client.search({ collection_name: name, data: [Buffer.alloc(nb - 1)],
    anns_field: 'bv', limit: 3 });
  assert.notEqual((badq.status ?? badq).error_code, 'Success');
  assert.match((badq.status ?? badq).reason, /dim/);
  // a float query on a binary field is refused
  const badf = await client.search({ collection_name: name, data: [Buffer.alloc(nb)],
    anns_field: 'bv', limit: 3, metric_type: 'L2' });
  assert.notEqual((badf.status ?? badf).error_code, 'Success');
  // rows of another byte length are refused (by the SDK itself, before they are sent)
  await assert.rejects(client.insert({ collection_name: name,
    data: [{ id: 1000, tag: 0, bv: Array(nb + 1).fill(1) }] }), /dimension \/ 8/);
  const none = ok(await client.query({ collection_name: name, filter: 'id == 1000' }), 'q');
  assert.equal(none.data.length, 0);
  await client.dropCollection({ collection_name: name });
});
