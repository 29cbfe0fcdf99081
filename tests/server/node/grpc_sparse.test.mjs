// Sparse vectors over gRPC with the official Milvus Node.js SDK: a SparseFloatVector field
// (schema.SparseFloatArray rows of little-endian (uint32, float32) pairs on the wire), rows as
// {index: value} objects, SPARSE_INVERTED_INDEX, search exact against a dot product computed
// here, the stored vectors back as output fields. run_grpc.sh sets VDB_ADDRESS and VDB_TOKEN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MilvusClient, DataType } from '@zilliz/milvus2-sdk-node';

const address = process.env.VDB_ADDRESS;
assert.ok(address, 'VDB_ADDRESS must name the server');
const client = new MilvusClient({ address, token: process.env.VDB_TOKEN, timeout: 30000 });

function ok(r, what) {
  const st = r.status ?? r;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
  return r;
}

let seed = 11;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const f32 = (x) => Math.fround(x);
function sparseOf() {
  const v = {};
  const n = 1 + Math.floor(rnd() * 8);
  for (let i = 0; i < n; i++) v[Math.floor(rnd() * 100)] = f32(0.01 + rnd());
  return v;
}
const dot = (a, b) => Object.keys(a).reduce((s, k) => s + (k in b ? a[k] * b[k] : 0), 0);

test('sparse vectors: insert, index, search and output fields', async () => {
  const name = 'sparse_grpc';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'sv', data_type: DataType.SparseFloatVector },
    ],
  }), 'create');
  ok(await client.createIndex({ collection_name: name, field_name: 'sv',
    index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'IP' }), 'index');
  const rows = [];
  for (let i = 0; i < 150; i++) rows.push({ id: i, sv: sparseOf() });
  ok(await client.insert({ collection_name: name, data: rows }), 'insert');
  await client.loadCollection({ collection_name: name });
  const q = { 3: 0.5, 17: 1.0, 42: 0.25, 60: 0.75 };
  const want = rows.map((r) => [dot(q, r.sv), r.id]).filter((w) => w[0] > 0)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5);
  const r = ok(await client.search({ collection_name: name, data: [q], anns_field: 'sv',
    limit: 5, output_fields: ['sv'] }), 'search');
  assert.equal(r.results.length, want.length);
  r.results.forEach((h, i) => {
    assert.ok(Math.abs(h.score - want[i][0]) < 1e-4, `hit ${i}: ${h.score} vs ${want[i][0]}`);
    const stored = rows[Number(h.id)].sv;
    const got = h.sv;
    assert.deepEqual(Object.keys(got).map(Number).sort((a, b) => a - b),
      Object.keys(stored).map(Number).sort((a, b) => a - b));
    for (const k of Object.keys(stored)) assert.ok(Math.abs(got[k] - stored[k]) < 1e-6);
  });
  const bad = await client.insert({ collection_name: name, data: [{ id: 999, sv: { 5: -1 } }] });
  assert.notEqual((bad.status ?? bad).error_code, 'Success');
  await client.dropCollection({ collection_name: name });
});
