// FLOAT16_VECTOR, BFLOAT16_VECTOR and INT8_VECTOR over gRPC with the official Milvus Node.js
// SDK: schemas with them, rows as float (int8: integer) arrays that the SDK's helpers turn into
// VectorField float16_vector / bfloat16_vector / int8_vector bytes, searches with
// Float16Vector / BFloat16Vector / Int8Vector placeholders (and FloatVector ones), exact (FLAT)
// L2 scores checked against distances computed here on the elements as stored, the vectors
// back as output fields of search and query, and bad input refused. run_grpc.sh sets
// VDB_ADDRESS and VDB_TOKEN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MilvusClient, DataType, f32ArrayToF16Bytes, f16BytesToF32Array, f32ArrayToBf16Bytes,
  bf16BytesToF32Array,
} from '@zilliz/milvus2-sdk-node';

const address = process.env.VDB_ADDRESS;
assert.ok(address, 'VDB_ADDRESS must name the server');
const client = new MilvusClient({ address, token: process.env.VDB_TOKEN, timeout: 30000 });

function ok(r, what) {
  const st = r.status ?? r;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
  return r;
}

let seed = 5;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const dim = 8;
// each type: its rows' generator and the elements as the server stores them
const types = [
  { name: 'Float16Vector', dt: DataType.Float16Vector, gen: () => rnd() * 2 - 1,
    stored: (v) => f16BytesToF32Array(f32ArrayToF16Bytes(v)) },
  { name: 'BFloat16Vector', dt: DataType.BFloat16Vector, gen: () => rnd() * 2 - 1,
    stored: (v) => bf16BytesToF32Array(f32ArrayToBf16Bytes(v)) },
  { name: 'Int8Vector', dt: DataType.Int8Vector, gen: () => Math.floor(rnd() * 256) - 128,
    stored: (v) => v.slice() },
];
const l2 = (a, b) => a.reduce((s, x, i) => s + (x - b[i]) * (x - b[i]), 0);

for (const t of types) {
  test(`${t.name}: schema, insert, exact search, output fields, bad input`, async () => {
    const name = `half_grpc_${t.name.toLowerCase()}`;
    await client.dropCollection({ collection_name: name });
    ok(await client.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'tag', data_type: DataType.Int64 },
        { name: 'v', data_type: t.dt, dim },
      ],
    }), 'create');
    const d = ok(await client.describeCollection({ collection_name: name }), 'describe');
    const vf = d.schema.fields.find((f) => f.name === 'v');
    assert.equal(vf.data_type, t.name);
    assert.equal(Number(vf.dim ?? vf.type_params.find((p) => p.key === 'dim').value), dim);
    ok(await client.createIndex({ collection_name: name, field_name: 'v', index_type: 'FLAT',
      metric_type: 'L2' }), 'index');
    const rows = [];
    for (let i = 0; i < 300; i++) {
      const v = Array.from({ length: dim }, t.gen);
      rows.push({ id: i, tag: i % 3, v });
    }
    ok(await client.insert({ collection_name: name, data: rows }), 'insert');
    ok(await client.loadCollectionSync({ collection_name: name }), 'load');
    const stored = rows.map((r) => t.stored(r.v));
    const q = Array.from({ length: dim }, t.gen);
    const qs = t.stored(q); // the SDK sends the query in the field's own type
    const want = stored.map((s, id) => [l2(qs, s), id]).filter((w) => w[1] % 3 === 1)
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, 10);
    const r = ok(await client.search({ collection_name: name, data: [q], anns_field: 'v',
      limit: 10, filter: 'tag == 1', output_fields: ['v', 'tag'] }), 'search');
    assert.equal(r.results.length, 10);
    r.results.forEach((h, i) => {
      const id = Number(h.id);
      const tol = 1e-4 * Math.max(1, want[i][0]);
      assert.ok(Math.abs(h.score - want[i][0]) <= tol, `hit ${i}: ${h.score} vs ${want[i][0]}`);
      assert.ok(Math.abs(l2(qs, stored[id]) - h.score) <= tol, `hit ${i} (${id}): its score`);
      assert.equal(Number(h.tag), 1);
      assert.deepEqual(Array.from(h.v), stored[id], `hit ${i}: the stored vector back`);
    });
    const qr = ok(await client.query({ collection_name: name, filter: 'id in [4, 7]',
      output_fields: ['v'] }), 'query');
    assert.deepEqual(qr.data.map((x) => Number(x.id)).sort((a, b) => a - b), [4, 7]);
    for (const x of qr.data) assert.deepEqual(Array.from(x.v), stored[Number(x.id)]);

    // a query vector of the wrong byte length is refused, naming the dim
    const badq = await client.search({ collection_name: name,
      data: [t.dt === DataType.Int8Vector ? Buffer.alloc(dim - 1) : Buffer.alloc(2 * dim + 2)],
      anns_field: 'v', limit: 3 });
    assert.notEqual((badq.status ?? badq).error_code, 'Success');
    assert.match((badq.status ?? badq).reason, /dim/);
    // a row of another dim is refused
    const bad = await client.insert({ collection_name: name,
      data: [{ id: 1000, tag: 0, v: Array.from({ length: dim + 1 }, t.gen) }] });
    assert.notEqual((bad.status ?? bad).error_code, 'Success');
    await client.dropCollection({ collection_name: name });
  });
}

test('Float16Vector: NaN and Inf elements are refused, in rows and in queries', async () => {
  const name = 'half_grpc_nan';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.Float16Vector, dim: 4 },
    ],
  }), 'create');
  ok(await client.createIndex({ collection_name: name, field_name: 'v', index_type: 'FLAT',
    metric_type: 'L2' }), 'index');
  const bad = await client.insert({ collection_name: name,
    data: [{ id: 1, v: [0.5, Infinity, 0, 0] }] });
  assert.notEqual((bad.status ?? bad).error_code, 'Success');
  ok(await client.insert({ collection_name: name, data: [{ id: 2, v: [0.5, 0.25, 0, 0] }] }),
    'insert');
  ok(await client.loadCollectionSync({ collection_name: name }), 'load');
  const badq = await client.search({ collection_name: name, data: [[NaN, 0, 0, 0]],
    anns_field: 'v', limit: 1 });
  assert.notEqual((badq.status ?? badq).error_code, 'Success');
  assert.match((badq.status ?? badq).reason, /NaN/);
  await client.dropCollection({ collection_name: name });
});
