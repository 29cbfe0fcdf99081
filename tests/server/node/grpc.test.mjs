// vdb-server driven over gRPC by the official Milvus Node.js SDK's MilvusClient, unchanged:
// Milvus's quick start, then a fuller flow (a schema with VarChar, Int64, JSON, Array, nullable
// and dynamic fields, partitions, insert/upsert/delete by filter, HNSW, filtered search with
// output fields, count(*), get, the query iterator, drop), checked against values this file
// computes itself; then the token and REST on the same port. run_grpc.sh starts the server and
// sets VDB_ADDRESS, VDB_TOKEN, VDB_TLS_CA (when it serves TLS) and VDB_ENDPOINT (REST).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MilvusClient, HttpClient, DataType } from '@zilliz/milvus2-sdk-node';

const address = process.env.VDB_ADDRESS;
const token = process.env.VDB_TOKEN;
const ca = process.env.VDB_TLS_CA;
assert.ok(address, 'VDB_ADDRESS must name the server, e.g. 127.0.0.1:19530');
const tls = ca ? { ssl: true, tls: { rootCertPath: ca, serverName: 'localhost' } } : {};
const client = new MilvusClient({ address, token, timeout: 30000, ...tls });

function ok(status, what) {
  const st = status.status ?? status;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
  assert.equal(st.code, 0, `${what}: ${JSON.stringify(st)}`);
  return status;
}

// ---- Milvus's quick start (milvus.io, Node.js) ----------------------------------------------

test('quick start: create, insert, search, query, get, delete, drop', async () => {
  const name = 'quick_setup';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({ collection_name: name, dimension: 5 }), 'create');
  const data = [
    { id: 0, vector: [0.3580376395471989, -0.6023495712049978, 0.18414012509913835, -0.26286205330961354, 0.9029438446296592], color: 'pink_8682' },
    { id: 1, vector: [0.19886812562848388, 0.06023560599112088, 0.6976963061752597, 0.2614474506242501, 0.838729485096104], color: 'red_7025' },
    { id: 2, vector: [0.43742130801983836, -0.5597502546264526, 0.6457887650909682, 0.7894058910881185, 0.20785793220625592], color: 'orange_6781' },
    { id: 3, vector: [0.3172005263489739, 0.9719044792798428, -0.36981146090600725, -0.4860894583077995, 0.95791889146345], color: 'pink_9298' },
    { id: 4, vector: [0.4452349528804562, -0.8757026943054742, 0.8220779437047674, 0.46406290649483184, 0.30337481143159106], color: 'red_4794' },
  ];
  const ins = ok(await client.insert({ collection_name: name, data }), 'insert');
  assert.equal(Number(ins.insert_cnt), 5);
  assert.deepEqual(ins.IDs.int_id.data.map(Number), [0, 1, 2, 3, 4]);

  const q = [0.3580376395471989, -0.6023495712049978, 0.18414012509913835, -0.26286205330961354, 0.9029438446296592];
  const s = ok(await client.search({ collection_name: name, data: q, limit: 3, output_fields: ['color'] }), 'search');
  assert.equal(s.results.length, 3);
  assert.equal(Number(s.results[0].id), 0);
  assert.ok(Math.abs(s.results[0].score - 1) < 1e-5, `COSINE with itself: ${s.results[0].score}`);
  assert.equal(s.results[0].color, 'pink_8682');
  // the order of the rest: cosine similarity, computed here
  const cos = (a, b) => {
    let d = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    return d / Math.sqrt(na * nb);
  };
  const want = data.map((r) => [r.id, cos(q, r.vector)]).sort((x, y) => y[1] - x[1]).slice(0, 3);
  assert.deepEqual(s.results.map((h) => Number(h.id)), want.map((w) => w[0]));
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(s.results[i].score - want[i][1]) < 1e-5);

  const qr = ok(await client.query({ collection_name: name, filter: 'id in [1, 3]', output_fields: ['color'] }), 'query');
  const colorOf = (row) => row.color ?? row.$meta?.color;
  assert.deepEqual(qr.data.map((r) => [Number(r.id), colorOf(r)]), [[1, 'red_7025'], [3, 'pink_9298']]);
  const g = ok(await client.get({ collection_name: name, ids: [2], output_fields: ['vector'] }), 'get');
  assert.equal(g.data.length, 1);
  assert.ok(g.data[0].vector.every((x, i) => Math.abs(x - data[2].vector[i]) < 1e-6));
  const del = ok(await client.delete({ collection_name: name, filter: 'id in [0, 4]' }), 'delete');
  assert.equal(Number(del.delete_cnt), 2);
  const cnt = await client.count({ collection_name: name });
  assert.equal(cnt.data, 3);
  ok(await client.dropCollection({ collection_name: name }), 'drop');
  assert.equal((await client.hasCollection({ collection_name: name })).value, false);
});

// ---- a fuller flow ------------------------------------------------------------------------

const DIM = 16, N = 300;
function vec(i) {
  const v = [];
  for (let j = 0; j < DIM; j++) v.push(Math.fround(Math.sin(i * 12.9898 + j * 78.233) * 0.5));
  return v;
}
const l2 = (a, b) => a.reduce((s, x, i) => s + (x - b[i]) * (x - b[i]), 0);
const tags = ['red', 'green', 'blue', 'black'];
function row(i) {
  const r = { pk: `doc-${String(i).padStart(4, '0')}`, n: i, emb: vec(i), tag: tags[i % 4],
    meta: { i, even: i % 2 === 0 }, nums: [i, i + 1, i + 2], rating: i % 5 === 0 ? null : i / 10 };
  if (i % 3 === 0) r.extra = `x${i}`; // a dynamic field
  return r;
}

test('full flow: schema, partitions, writes, HNSW, search, count, get, iterator, drop', async () => {
  const name = 'books_grpc';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({
    collection_name: name,
    enable_dynamic_field: true,
    fields: [
      { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
      { name: 'n', data_type: DataType.Int64 },
      { name: 'emb', data_type: DataType.FloatVector, dim: DIM },
      { name: 'tag', data_type: DataType.VarChar, max_length: 16 },
      { name: 'meta', data_type: DataType.JSON },
      { name: 'nums', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 8 },
      { name: 'rating', data_type: DataType.Double, nullable: true },
    ],
    index_params: [{ field_name: 'emb', index_type: 'HNSW', metric_type: 'L2',
      params: { M: 16, efConstruction: 200 } }],
  }), 'create');
  const d = ok(await client.describeCollection({ collection_name: name }), 'describe');
  assert.deepEqual(d.schema.fields.map((f) => [f.name, f.data_type]),
    [['pk', 'VarChar'], ['n', 'Int64'], ['emb', 'FloatVector'], ['tag', 'VarChar'],
      ['meta', 'JSON'], ['nums', 'Array'], ['rating', 'Double']]);
  assert.equal(d.schema.enable_dynamic_field, true);
  const idx = ok(await client.describeIndex({ collection_name: name, field_name: 'emb' }), 'describe index');
  const ip = Object.fromEntries(idx.index_descriptions[0].params.map((p) => [p.key, p.value]));
  assert.equal(ip.index_type, 'HNSW');
  assert.equal(ip.metric_type, 'L2');
  // index names: another field's index under a name of its own, found, refused twice, dropped
  ok(await client.createIndex({ collection_name: name, field_name: 'n', index_name: 'n_sort',
    index_type: 'STL_SORT' }), 'named index');
  const byName = ok(await client.describeIndex({ collection_name: name, index_name: 'n_sort' }),
    'describe by name');
  assert.deepEqual(byName.index_descriptions.map((x) => [x.index_name, x.field_name]),
    [['n_sort', 'n']]);
  const all = ok(await client.describeIndex({ collection_name: name }), 'describe all');
  assert.deepEqual(all.index_descriptions.map((x) => x.index_name), ['n_sort', 'emb']);
  const dup = await client.createIndex({ collection_name: name, field_name: 'n',
    index_name: 'n_other', index_type: 'STL_SORT' });
  assert.notEqual(dup.error_code, 'Success');
  assert.match(dup.reason, /at most one distinct index is allowed per field/);
  // both names given must agree: the wrong field drops nothing
  const wrong = await client.dropIndex({ collection_name: name, index_name: 'n_sort',
    field_name: 'emb' });
  assert.equal(wrong.code, 700, JSON.stringify(wrong));
  assert.match(wrong.reason, /fieldName=emb/);
  ok(await client.describeIndex({ collection_name: name, index_name: 'n_sort' }), 'still there');
  ok(await client.dropIndex({ collection_name: name, index_name: 'n_sort' }), 'drop by name');
  const gone = await client.describeIndex({ collection_name: name, index_name: 'n_sort' });
  assert.equal(gone.status.code, 700);

  ok(await client.createPartition({ collection_name: name, partition_name: 'p2' }), 'partition');
  assert.equal((await client.hasPartition({ collection_name: name, partition_name: 'p2' })).value, true);
  const parts = await client.showPartitions({ collection_name: name });
  assert.deepEqual(parts.partition_names.sort(), ['_default', 'p2']);

  const rows = [];
  for (let i = 0; i < N; i++) rows.push(row(i));
  const low = rows.filter((r) => r.n < 200), high = rows.filter((r) => r.n >= 200);
  ok(await client.insert({ collection_name: name, data: low }), 'insert');
  ok(await client.insert({ collection_name: name, partition_name: 'p2', data: high }), 'insert p2');
  // upsert: ten rows change tag
  const up = [];
  for (let i = 10; i < 20; i++) up.push({ ...row(i), tag: 'white' });
  const u = ok(await client.upsert({ collection_name: name, data: up }), 'upsert');
  assert.equal(Number(u.upsert_cnt), 10);
  for (const r of up) rows[r.n] = r;
  // delete by filter
  const del = ok(await client.delete({ collection_name: name, filter: 'n >= 290' }), 'delete');
  assert.equal(Number(del.delete_cnt), 10);
  const live = rows.filter((r) => r.n < 290);
  ok(await client.flush({ collection_names: [name] }), 'flush');
  const st = await client.getCollectionStatistics({ collection_name: name });
  assert.equal(Number(st.data.row_count), live.length);
  const pst = await client.getPartitionStatistics({ collection_name: name, partition_name: 'p2' });
  assert.equal(Number(pst.data.row_count), live.filter((r) => r.n >= 200).length);

  // filtered search with output fields: the exact answer is computed here (ef >= N: HNSW
  // visits every row, so its answer is the exact one)
  const q = vec(7);
  const filt = (r) => r.tag !== 'white' && r.n % 2 === 1;
  const want = live.filter(filt).map((r) => [r.pk, l2(q, r.emb)]).sort((a, b) => a[1] - b[1]).slice(0, 5);
  const s = ok(await client.search({ collection_name: name, data: [q], limit: 5, filter: 'tag != "white" and n % 2 == 1',
    output_fields: ['n', 'tag', 'meta', 'nums', 'rating', 'extra'], params: { ef: 512 } }), 'search');
  assert.deepEqual(s.results.map((h) => h.pk), want.map((w) => w[0]));
  for (let i = 0; i < 5; i++) {
    const h = s.results[i], r = rows[h.n];
    assert.ok(Math.abs(h.score - want[i][1]) < 1e-4, `distance ${h.score} vs ${want[i][1]}`);
    assert.equal(h.tag, r.tag);
    assert.deepEqual(h.meta, r.meta);
    assert.deepEqual(h.nums.map(Number), r.nums);
    assert.equal(h.rating === null ? null : Number(h.rating), r.rating);
    assert.equal(h.extra, r.extra);
  }
  // a partition, two queries, an offset
  const sp = ok(await client.search({ collection_name: name, data: [vec(250), vec(251)], limit: 3,
    partition_names: ['p2'], offset: 1, params: { ef: 512 } }), 'search p2');
  const near = (v) => live.filter((r) => r.n >= 200).map((r) => [r.pk, l2(v, r.emb)])
    .sort((a, b) => a[1] - b[1]).slice(1, 4).map((w) => w[0]);
  assert.deepEqual(sp.results.map((hits) => hits.map((h) => h.pk)), [near(vec(250)), near(vec(251))]);

  // count(*), get, query with a filter on JSON and arrays
  const c1 = await client.count({ collection_name: name, filter: 'tag == "red"' });
  assert.equal(c1.data, live.filter((r) => r.tag === 'red').length);
  const c2 = await client.count({ collection_name: name, filter: 'meta["even"] == true and array_contains(nums, 11)' });
  assert.equal(c2.data, live.filter((r) => r.meta.even && r.nums.includes(11)).length);
  const g = ok(await client.get({ collection_name: name, ids: ['doc-0012', 'doc-0295', 'doc-0003'],
    output_fields: ['tag', 'n', 'extra'] }), 'get');
  // in key order, as Milvus answers a get (a query on "pk in [...]"); the deleted key is gone
  assert.deepEqual(g.data.map((r) => [r.pk, r.tag, Number(r.n), r.extra ?? r.$meta?.extra]),
    [['doc-0003', 'black', 3, 'x3'], ['doc-0012', 'white', 12, 'x12']]);
  const nulls = await client.count({ collection_name: name, filter: 'rating is null' });
  assert.equal(nulls.data, live.filter((r) => r.rating === null).length);

  // the query iterator: every live row once, in key order
  const it = await client.queryIterator({ collection_name: name, filter: 'n >= 0', batchSize: 37,
    output_fields: ['n'] });
  const seen = [];
  for await (const batch of it) for (const r of batch) seen.push(r.pk);
  assert.deepEqual(seen, live.map((r) => r.pk).sort());

  // BITMAP on a VarChar, INVERTED on an Array's elements: Milvus's names through gRPC, and
  // queries through them give the exact answers
  ok(await client.createIndex({ collection_name: name, field_name: 'tag', index_type: 'BITMAP' }),
    'BITMAP index');
  ok(await client.createIndex({ collection_name: name, field_name: 'nums',
    index_type: 'INVERTED' }), 'INVERTED on an Array');
  for (const [f, t] of [['tag', 'BITMAP'], ['nums', 'INVERTED']]) {
    const di = ok(await client.describeIndex({ collection_name: name, field_name: f }), f);
    const p = Object.fromEntries(di.index_descriptions[0].params.map((x) => [x.key, x.value]));
    assert.equal(p.index_type, t);
  }
  const checks = [['tag == "red"', (r) => r.tag === 'red'],
    ['array_contains(nums, 30)', (r) => r.nums.includes(30)],
    ['array_contains_any(nums, [1, 250])', (r) => r.nums.includes(1) || r.nums.includes(250)],
    ['array_contains_all(nums, [40, 41])', (r) => r.nums.includes(40) && r.nums.includes(41)]];
  for (const [f, pred] of checks) {
    const got = ok(await client.query({ collection_name: name, filter: f, output_fields: ['pk'],
      limit: 1000 }), f);
    assert.deepEqual(got.data.map((r) => r.pk).sort(), live.filter(pred).map((r) => r.pk).sort(), f);
  }
  const bad = await client.createIndex({ collection_name: name, field_name: 'rating',
    index_type: 'BITMAP' });
  assert.notEqual(bad.error_code, 'Success');
  ok(await client.dropIndex({ collection_name: name, field_name: 'tag' }), 'drop BITMAP');
  ok(await client.dropIndex({ collection_name: name, field_name: 'nums' }), 'drop INVERTED');

  ok(await client.releaseCollection({ collection_name: name }), 'release');
  ok(await client.loadCollectionSync({ collection_name: name }), 'load');
  ok(await client.dropPartition({ collection_name: name, partition_name: 'p2' }), 'drop partition');
  const after = await client.count({ collection_name: name });
  assert.equal(after.data, live.filter((r) => r.n < 200).length);
  ok(await client.dropIndex({ collection_name: name, field_name: 'emb' }), 'drop index');
  ok(await client.dropCollection({ collection_name: name }), 'drop');
});

test('errors carry Milvus codes', async () => {
  const r = await client.describeCollection({ collection_name: 'no_such_collection' });
  assert.equal(r.status.code, 100);
  assert.equal(r.status.error_code, 'CollectionNotExists');
  const a = await client.createAlias({ collection_name: 'no_such_collection', alias: 'y' });
  assert.equal(a.code, 100);
  const da = await client.describeAlias({ collection_name: 'x', alias: 'no_such_alias' });
  assert.equal(da.status.code, 1600);
  const v = await client.getVersion();
  assert.equal(v.status.code, 0);
  const health = await client.checkHealth();
  assert.equal(health.isHealthy, true);
});

test('aliases, rename and truncate', async () => {
  const name = 'alias_target', other = 'alias_other';
  const al = { collection_name: name, alias: 'al' }; // the SDK wants a collection name here
  await client.dropAlias(al);
  for (const n of [name, other, 'alias_renamed']) await client.dropCollection({ collection_name: n });
  ok(await client.createCollection({ collection_name: name, dimension: 4 }), 'create');
  ok(await client.createCollection({ collection_name: other, dimension: 4 }), 'create other');
  ok(await client.createAlias({ collection_name: name, alias: 'al' }), 'create alias');
  assert.equal((await client.createAlias({ collection_name: other, alias: 'al' })).code, 1602);
  assert.equal((await client.createAlias({ collection_name: other, alias: name })).code, 1601);
  ok(await client.insert({ collection_name: 'al', data: [{ id: 1, vector: [1, 2, 3, 4] }] }),
    'insert through the alias');
  const d = ok(await client.describeAlias(al), 'describe alias');
  assert.equal(d.collection, name);
  const l = ok(await client.listAliases({ collection_name: name }), 'list aliases');
  assert.deepEqual(l.aliases, ['al']);
  const dc = ok(await client.describeCollection({ collection_name: 'al' }), 'describe');
  assert.equal(dc.collection_name, name);
  assert.deepEqual(dc.aliases, ['al']);
  assert.equal((await client.dropCollection({ collection_name: name })).code, 1100);
  ok(await client.renameCollection({ collection_name: name, new_collection_name: 'alias_renamed' }),
    'rename');
  assert.equal(ok(await client.describeAlias(al)).collection, 'alias_renamed');
  const c = await client.count({ collection_name: 'al' });
  assert.equal(c.data, 1);
  if (client.truncateCollection) {
    ok(await client.truncateCollection({ collection_name: 'al' }), 'truncate');
    assert.equal((await client.count({ collection_name: 'alias_renamed' })).data, 0);
  }
  ok(await client.alterAlias({ collection_name: other, alias: 'al' }), 'alter alias');
  assert.equal(ok(await client.describeAlias(al)).collection, other);
  ok(await client.dropAlias(al), 'drop alias');
  assert.equal((await client.describeAlias(al)).status.code, 1600);
  for (const n of [other, 'alias_renamed']) ok(await client.dropCollection({ collection_name: n }));
});

test('collection properties: alter, describe, drop; bad ones refused', async () => {
  const name = 'props_grpc';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({ collection_name: name, dimension: 4 }), 'create');
  const props = async () => {
    const d = ok(await client.describeCollection({ collection_name: name }), 'describe');
    return Object.fromEntries((d.properties ?? []).map((p) => [p.key, p.value]));
  };
  assert.deepEqual(await props(), {});
  ok(await client.alterCollectionProperties({ collection_name: name,
    properties: { 'collection.ttl.seconds': 3600 } }), 'alter');
  assert.deepEqual(await props(), { 'collection.ttl.seconds': '3600' });
  const bad = await client.alterCollectionProperties({ collection_name: name,
    properties: { 'collection.ttl.seconds': -5 } });
  assert.equal(bad.code, 1100, JSON.stringify(bad));
  const mm = await client.alterCollectionProperties({ collection_name: name,
    properties: { 'collection.replica.number': 2 } });
  assert.equal(mm.code, 3000, JSON.stringify(mm));
  assert.match(mm.reason, /collection\.replica\.number/);
  assert.deepEqual(await props(), { 'collection.ttl.seconds': '3600' });
  ok(await client.dropCollectionProperties({ collection_name: name,
    properties: ['collection.ttl.seconds'] }), 'drop properties');
  assert.deepEqual(await props(), {});
  ok(await client.dropCollection({ collection_name: name }), 'drop');
});

test('add collection field: old rows read NULL or the default; properties at create', async () => {
  const name = 'addfield_grpc';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({ collection_name: name,
    fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vector', data_type: DataType.FloatVector, dim: 4 }],
    properties: { 'collection.ttl.seconds': 3600 } }), 'create');
  const d0 = ok(await client.describeCollection({ collection_name: name }), 'describe');
  assert.deepEqual(Object.fromEntries((d0.properties ?? []).map((p) => [p.key, p.value])),
    { 'collection.ttl.seconds': '3600' });
  ok(await client.insert({ collection_name: name,
    data: [0, 1, 2].map((i) => ({ id: i, vector: [i, 1, 0, 0] })) }), 'insert');
  ok(await client.flush({ collection_names: [name] }), 'flush');
  ok(await client.addCollectionField({ collection_name: name,
    field: { name: 'score', data_type: DataType.Int64, nullable: true } }), 'add score');
  ok(await client.addCollectionField({ collection_name: name,
    field: { name: 'tag', data_type: DataType.VarChar, max_length: 16, nullable: true,
      default_value: 'none' } }), 'add tag');
  const bad = await client.addCollectionField({ collection_name: name,
    field: { name: 'x', data_type: DataType.Int64 } });
  assert.equal(bad.code, 1100, JSON.stringify(bad));
  assert.match(bad.reason, /added field must be nullable/);
  const d = ok(await client.describeCollection({ collection_name: name }), 'describe');
  assert.deepEqual(d.schema.fields.slice(-2).map((f) => f.name), ['score', 'tag']);
  ok(await client.insert({ collection_name: name,
    data: [{ id: 10, vector: [10, 1, 0, 0], score: 7 }] }), 'insert with the field');
  const q = ok(await client.query({ collection_name: name, filter: 'id >= 0',
    output_fields: ['score', 'tag'] }), 'query');
  const byId = Object.fromEntries(q.data.map((r) => [Number(r.id), r]));
  assert.equal(Object.keys(byId).length, 4);
  assert.equal(byId[1].score, null);
  assert.equal(byId[1].tag, 'none');
  assert.equal(Number(byId[10].score), 7);
  const nulls = ok(await client.query({ collection_name: name, filter: 'score is null',
    output_fields: ['id'] }), 'is null');
  assert.deepEqual(nulls.data.map((r) => Number(r.id)).sort(), [0, 1, 2]);
  ok(await client.dropCollection({ collection_name: name }), 'drop');
});

test('limit and offset past Milvus bounds, params of the wrong type: refused', async () => {
  const name = 'bounds';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({ collection_name: name, dimension: 2 }), 'create');
  ok(await client.insert({ collection_name: name, data: [{ id: 1, vector: [1, 0] }] }), 'insert');
  const big = 2 ** 62; // limit + offset overflows int64
  const code = (r) => (r.status ?? r).code;
  for (const [limit, offset] of [[big, big], [16384, 1], [1, 2 ** 63]]) {
    const s = await client.search({ collection_name: name, data: [1, 0], limit, offset });
    assert.equal(code(s), 1100, `search ${limit}+${offset}: ${JSON.stringify(s.status)}`);
    const q = await client.query({ collection_name: name, filter: 'id > 0', limit, offset });
    assert.equal(code(q), 1100, `query ${limit}+${offset}: ${JSON.stringify(q.status)}`);
  }
  const p = await client.search({ collection_name: name, data: [1, 0], limit: 1,
    params: { ef: { nested: 1 } } });
  assert.equal(code(p), 1801, JSON.stringify(p.status));
  ok(await client.search({ collection_name: name, data: [1, 0], limit: 1 }), 'search');
  ok(await client.dropCollection({ collection_name: name }), 'drop');
});

test('partition key: num_partitions hashed partitions, same answers as a scan', async () => {
  const name = 'pkey_grpc';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({
    collection_name: name,
    num_partitions: 4,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'k', data_type: DataType.Int64, is_partition_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 2 },
    ],
  }), 'create');
  const d = ok(await client.describeCollection({ collection_name: name }), 'describe');
  assert.deepEqual(d.schema.fields.map((f) => [f.name, !!f.is_partition_key]),
    [['id', false], ['k', true], ['v', false]]);
  assert.equal(Number(d.num_partitions), 4);
  const data = [];
  for (let i = 0; i < 40; i++) data.push({ id: i, k: i % 7, v: [i, 1] });
  ok(await client.insert({ collection_name: name, data }), 'insert');
  const q = ok(await client.query({ collection_name: name, filter: 'k in [2, 5]',
    output_fields: ['id'] }), 'query on the key');
  assert.deepEqual(q.data.map((r) => Number(r.id)).sort((a, b) => a - b),
    data.filter((r) => r.k === 2 || r.k === 5).map((r) => r.id));
  assert.notEqual((await client.createPartition({ collection_name: name,
    partition_name: 'p' })).code, 0, 'create partition in partition key mode');
  ok(await client.dropCollection({ collection_name: name }), 'drop');
});

test('databases: create, list, a client per database, drop', async () => {
  const db = 'grpc_db';
  await client.dropDatabase({ db_name: db }); // left from an earlier run: may not exist
  ok(await client.createDatabase({ db_name: db }), 'create database');
  assert.notEqual((await client.createDatabase({ db_name: db })).code, 0, 'created twice');
  assert.deepEqual(ok(await client.listDatabases(), 'list databases').db_names, ['default', db]);
  const c2 = new MilvusClient({ address, token, timeout: 30000, database: db, ...tls });
  ok(await c2.createCollection({ collection_name: 'in_db', dimension: 4 }), 'create in db');
  ok(await c2.insert({ collection_name: 'in_db',
    data: [{ id: 1, vector: [1, 2, 3, 4] }, { id: 2, vector: [1, 2, 3, 5] }] }), 'insert in db');
  assert.equal((await c2.count({ collection_name: 'in_db' })).data, 2);
  const sc = ok(await c2.showCollections(), 'show collections of the database');
  assert.deepEqual(sc.data.map((c) => c.name), ['in_db']);
  const sd = ok(await client.showCollections(), 'show collections of default');
  assert.ok(!sd.data.some((c) => c.name === 'in_db'));
  assert.equal((await client.hasCollection({ collection_name: 'in_db' })).value, false);
  const dd = ok(await c2.describeCollection({ collection_name: 'in_db' }), 'describe in db');
  assert.equal(dd.collection_name, 'in_db');
  assert.equal(dd.db_name, db);
  assert.notEqual((await client.dropDatabase({ db_name: db })).code, 0, 'dropped while not empty');
  ok(await c2.dropCollection({ collection_name: 'in_db' }), 'drop in db');
  ok(await client.dropDatabase({ db_name: db }), 'drop database');
  assert.deepEqual(ok(await client.listDatabases()).db_names, ['default']);
  assert.equal((await client.describeCollection({ collection_name: 'x', db_name: 'nope' })).status.code, 800);
  c2.closeConnection?.();
});

test('a wrong token gets Milvus auth error', { skip: !token }, async () => {
  const bad = new MilvusClient({ address, token: 'root:wrong', timeout: 10000, maxRetries: 0, ...tls });
  // the client's own Connect fails the same way: that rejection is checked below
  const connected = bad.connectPromise;
  connected?.catch(() => {});
  if (connected)
    await assert.rejects(connected, (e) => /16 UNAUTHENTICATED: auth check failure/.test(e.message));
  await assert.rejects(bad.hasCollection({ collection_name: 'x' }),
    (e) => /16 UNAUTHENTICATED: auth check failure/.test(e.message));
  await bad.closeConnection();
});

test('REST on the same port', { skip: !process.env.VDB_ENDPOINT }, async () => {
  const http = new HttpClient({ endpoint: process.env.VDB_ENDPOINT, token, timeout: 30000 });
  const r = await http.createCollection({ collectionName: 'rest_too', dimension: 4 });
  assert.equal(r.code, 0, JSON.stringify(r));
  const has = await client.hasCollection({ collection_name: 'rest_too' });
  assert.equal(has.value, true);
  await client.dropCollection({ collection_name: 'rest_too' });
});

test('close', async () => {
  await client.closeConnection();
});
