// vdb-server driven by the official Milvus Node.js SDK's HttpClient, unchanged: the quick-start
// flow (collections, entities, partitions, indexes) and the error cases. run_node.sh starts the
// server and sets VDB_ENDPOINT (and VDB_TOKEN when the server requires one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpClient } from '@zilliz/milvus2-sdk-node';

const endpoint = process.env.VDB_ENDPOINT;
const token = process.env.VDB_TOKEN;
assert.ok(endpoint, 'VDB_ENDPOINT must name the server, e.g. http://127.0.0.1:19530');
const client = new HttpClient({ endpoint, token, timeout: 30000 });

const DIM = 8;
const COLL = 'quick_setup';
const FULL = 'books';

// deterministic vectors: row i is a unit-ish vector that differs per i
function vec(i) {
  const v = [];
  for (let j = 0; j < DIM; j++) v.push(Math.sin(i * 7.3 + j * 1.7));
  return v;
}
const colors = ['red', 'green', 'blue'];

function ok(res, what) {
  assert.equal(res.code, 0, `${what}: ${JSON.stringify(res)}`);
  return res.data;
}

test('collections: quick create, has, describe, list, load state, stats', async () => {
  await client.dropCollection({ collectionName: COLL });
  ok(await client.createCollection({ collectionName: COLL, dimension: DIM }), 'create');
  assert.equal(ok(await client.hasCollection({ collectionName: COLL }), 'has').has, true);
  const d = ok(await client.describeCollection({ collectionName: COLL }), 'describe');
  assert.equal(d.collectionName, COLL);
  assert.deepEqual(d.fields.map((f) => [f.name, f.type, f.primaryKey]),
    [['id', 'Int64', true], ['vector', 'FloatVector', false]]);
  assert.equal(d.enableDynamicField, true);
  assert.equal(d.load, 'LoadStateLoaded');
  assert.equal(d.indexes[0].metricType, 'COSINE');
  assert.ok(ok(await client.listCollections(), 'list').includes(COLL));
  ok(await client.loadCollection({ collectionName: COLL }), 'load');
  const st = ok(await client.getCollectionLoadState({ collectionName: COLL }), 'load state');
  assert.equal(st.loadState, 'LoadStateLoaded');
  ok(await client.releaseCollection({ collectionName: COLL }), 'release');
});

test('entities: insert, search, query, get, upsert, delete', async () => {
  const rows = [];
  for (let i = 0; i < 100; i++) rows.push({ id: i, vector: vec(i), color: colors[i % 3], n: i });
  const ins = ok(await client.insert({ collectionName: COLL, data: rows }), 'insert');
  assert.equal(ins.insertCount, 100);
  assert.deepEqual(ins.insertIds.map(Number), rows.map((r) => r.id));
  const stats = ok(await client.getCollectionStatistics({ collectionName: COLL }), 'stats');
  assert.equal(stats.rowCount, 100);

  // one query vector: a flat list of hits, nearest first, with the output fields
  const s = await client.search({ collectionName: COLL, data: [vec(42)], limit: 5,
    outputFields: ['color', 'n'] });
  const hits = ok(s, 'search');
  assert.equal(hits.length, 5);
  assert.equal(hits[0].id, 42);
  assert.ok(Math.abs(hits[0].distance - 1) < 1e-5, `COSINE of a vector with itself: ${hits[0].distance}`);
  assert.equal(hits[0].color, colors[42 % 3]);
  assert.equal(hits[0].n, 42);
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].distance >= hits[i].distance);

  // two query vectors: the SDK splits the flat list with "topks"
  const two = ok(await client.search({ collectionName: COLL, data: [vec(7), vec(8)], limit: 3,
    annsField: 'vector' }), 'search nq=2');
  assert.equal(two.length, 2);
  assert.equal(two[0][0].id, 7);
  assert.equal(two[1][0].id, 8);

  // filter, offset, search params
  const f = ok(await client.search({ collectionName: COLL, data: [vec(42)], limit: 5,
    filter: 'color == "red" and id < 50', outputFields: ['color'],
    searchParams: { metricType: 'COSINE', params: { ef: 64 } } }), 'filtered search');
  assert.ok(f.length > 0 && f.every((h) => h.color === 'red' && h.id < 50));
  const off = ok(await client.search({ collectionName: COLL, data: [vec(42)], limit: 2,
    offset: 1 }), 'search offset');
  assert.deepEqual(off.map((h) => h.id), hits.slice(1, 3).map((h) => h.id));

  const q = ok(await client.query({ collectionName: COLL, filter: 'id in [1, 2, 3]',
    outputFields: ['color'] }), 'query');
  assert.deepEqual(q.map((r) => [r.id, r.color]).sort(), [[1, 'green'], [2, 'blue'], [3, 'red']]);
  const cnt = ok(await client.query({ collectionName: COLL, filter: 'n >= 90',
    outputFields: ['count(*)'] }), 'count');
  assert.equal(cnt[0]['count(*)'], 10);
  const page = ok(await client.query({ collectionName: COLL, filter: 'id >= 0', limit: 10,
    offset: 5, outputFields: ['n'] }), 'query page');
  assert.equal(page.length, 10);

  const g = ok(await client.get({ collectionName: COLL, id: [5, 6], outputFields: ['*'] }), 'get');
  assert.deepEqual(g.map((r) => r.id), [5, 6]);
  assert.equal(g[0].vector.length, DIM);
  assert.ok(Math.abs(g[0].vector[0] - vec(5)[0]) < 1e-6);
  assert.equal(g[0].color, colors[5 % 3]);

  const up = ok(await client.upsert({ collectionName: COLL,
    data: [{ id: 5, vector: vec(5), color: 'purple', n: 5 }] }), 'upsert');
  assert.equal(up.upsertCount, 1);
  const g2 = ok(await client.get({ collectionName: COLL, id: 5, outputFields: ['color'] }), 'get');
  assert.equal(g2[0].color, 'purple');

  ok(await client.delete({ collectionName: COLL, filter: 'id in [5, 6, 7]' }), 'delete');
  const left = ok(await client.query({ collectionName: COLL, filter: '',
    outputFields: ['count(*)'] }), 'count after delete');
  assert.equal(left[0]['count(*)'], 97);
  const gone = ok(await client.get({ collectionName: COLL, id: [5, 6, 7] }), 'get deleted');
  assert.equal(gone.length, 0);
});

test('partitions: create, list, has, insert into, search in, stats, drop', async () => {
  ok(await client.createPartition({ collectionName: COLL, partitionName: 'p2026' }), 'create');
  assert.deepEqual(ok(await client.listPartitions({ collectionName: COLL }), 'list').sort(),
    ['_default', 'p2026']);
  assert.equal(ok(await client.hasPartition({ collectionName: COLL, partitionName: 'p2026' }),
    'has').has, true);
  assert.equal(ok(await client.hasPartition({ collectionName: COLL, partitionName: 'nope' }),
    'has').has, false);
  ok(await client.insert({ collectionName: COLL, partitionName: 'p2026',
    data: [{ id: 1000, vector: vec(1000), color: 'gold' }] }), 'insert into partition');
  const hits = ok(await client.search({ collectionName: COLL, data: [vec(3)], limit: 3,
    partitionNames: ['p2026'], outputFields: ['color'] }), 'search partition');
  assert.deepEqual(hits.map((h) => [h.id, h.color]), [[1000, 'gold']]);
  const ps = ok(await client.getPartitionStatistics({ collectionName: COLL,
    partitionName: 'p2026' }), 'partition stats');
  assert.equal(ps.rowCount, 1);
  ok(await client.loadPartitions({ collectionName: COLL, partitionNames: ['p2026'] }), 'load');
  ok(await client.dropPartition({ collectionName: COLL, partitionName: 'p2026' }), 'drop');
  assert.equal(ok(await client.get({ collectionName: COLL, id: 1000 }), 'get').length, 0);
});

test('full schema, scalar and vector indexes', async () => {
  await client.dropCollection({ collectionName: FULL });
  ok(await client.createCollection({
    collectionName: FULL,
    schema: {
      autoID: true,
      enableDynamicField: false,
      fields: [
        { fieldName: 'book_id', dataType: 'Int64', isPrimary: true },
        { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 64 } },
        { fieldName: 'year', dataType: 'Int32', nullable: true },
        { fieldName: 'tags', dataType: 'Array', elementDataType: 'VarChar',
          elementTypeParams: { max_capacity: 4, max_length: 16 } },
        { fieldName: 'meta', dataType: 'JSON' },
        { fieldName: 'emb', dataType: 'FloatVector', elementTypeParams: { dim: DIM } },
      ],
    },
    indexParams: [{ fieldName: 'emb', indexName: 'emb', metricType: 'L2', indexType: 'AUTOINDEX' }],
  }), 'create full');
  const d = ok(await client.describeCollection({ collectionName: FULL }), 'describe');
  assert.equal(d.autoId, true);
  assert.deepEqual(d.fields.map((f) => f.type),
    ['Int64', 'VarChar', 'Int32', 'Array', 'JSON', 'FloatVector']);
  assert.equal(d.fields[3].elementType, 'VarChar');

  const rows = [];
  for (let i = 0; i < 20; i++)
    rows.push({ title: `book ${i}`, year: i % 4 ? 2000 + i : null, tags: ['a', `t${i % 2}`],
      meta: { shelf: i % 5 }, emb: vec(i) });
  const ins = ok(await client.insert({ collectionName: FULL, data: rows }), 'insert');
  assert.equal(ins.insertIds.length, 20);

  ok(await client.createIndex({ collectionName: FULL, indexParams: [
    { fieldName: 'year', indexName: 'year', indexType: 'STL_SORT' },
    { fieldName: 'title', indexName: 'title', params: { index_type: 'Trie' } },
  ] }), 'create scalar indexes');
  const names = ok(await client.listIndexes({ collectionName: FULL }), 'list indexes').sort();
  assert.deepEqual(names, ['emb', 'title', 'year']);
  const di = ok(await client.describeIndex({ collectionName: FULL, indexName: 'year' }), 'describe');
  assert.equal(di[0].indexType, 'STL_SORT');
  const de = ok(await client.describeIndex({ collectionName: FULL, indexName: 'emb' }), 'describe');
  assert.equal(de[0].metricType, 'L2');

  const q = ok(await client.query({ collectionName: FULL,
    filter: 'year >= 2010 and title like "book 1%" and array_contains(tags, "t1") and meta["shelf"] == 1',
    outputFields: ['title', 'year', 'tags', 'meta'] }), 'query with index');
  assert.deepEqual(q.map((r) => r.title), ['book 11']);
  assert.deepEqual(q[0].tags, ['a', 't1']);
  assert.deepEqual(q[0].meta, { shelf: 1 });
  const nulls = ok(await client.query({ collectionName: FULL, filter: 'year is null',
    outputFields: ['count(*)'] }), 'nulls');
  assert.equal(nulls[0]['count(*)'], 5);

  const hits = ok(await client.search({ collectionName: FULL, data: [vec(3)], limit: 1,
    outputFields: ['title'] }), 'search L2');
  assert.equal(hits[0].title, 'book 3');
  assert.ok(hits[0].distance < 1e-6, 'L2 distance to itself is 0');

  ok(await client.dropIndex({ collectionName: FULL, indexName: 'year' }), 'drop index');
  const r = await client.describeIndex({ collectionName: FULL, indexName: 'year' });
  assert.equal(r.code, 700, JSON.stringify(r));
  const disk = await client.createIndex({ collectionName: FULL, indexParams: [
    { fieldName: 'emb', indexName: 'emb', metricType: 'L2', indexType: 'DISKANN' }] });
  assert.equal(disk.code, 701, JSON.stringify(disk));
  ok(await client.dropIndex({ collectionName: FULL, indexName: 'emb' }), 'drop FLAT');
  ok(await client.createIndex({ collectionName: FULL, indexParams: [
    { fieldName: 'emb', indexName: 'emb', metricType: 'L2', indexType: 'IVF_FLAT',
      params: { nlist: 16 } }] }), 'create IVF_FLAT');
  const ivfHits = ok(await client.search({ collectionName: FULL, data: [vec(3)], limit: 1,
    outputFields: ['title'], searchParams: { params: { nprobe: 16 } } }), 'search IVF_FLAT');
  assert.equal(ivfHits[0].title, 'book 3');
  ok(await client.dropIndex({ collectionName: FULL, indexName: 'emb' }), 'drop IVF_FLAT');
  ok(await client.createIndex({ collectionName: FULL, indexParams: [
    { fieldName: 'emb', indexName: 'emb', metricType: 'L2', indexType: 'HNSW',
      params: { M: 16, efConstruction: 200 } }] }), 'create HNSW');
  const again = ok(await client.search({ collectionName: FULL, data: [vec(3)], limit: 1,
    outputFields: ['title'], searchParams: { params: { ef: 32 } } }), 'search HNSW');
  assert.equal(again[0].title, 'book 3');
});

test('error cases answer Milvus codes', async () => {
  const missing = await client.describeCollection({ collectionName: 'no_such_collection' });
  assert.equal(missing.code, 100);
  assert.match(missing.message, /collection not found/);
  const ins = await client.insert({ collectionName: 'no_such_collection', data: [{ id: 1 }] });
  assert.equal(ins.code, 100);
  const search = await client.search({ collectionName: 'no_such_collection', data: [vec(1)] });
  assert.equal(search.code, 100);

  const wrongDim = await client.insert({ collectionName: COLL,
    data: [{ id: 9999, vector: [1, 2, 3] }] });
  assert.equal(wrongDim.code, 1804, JSON.stringify(wrongDim));
  assert.match(wrongDim.message, /dim/);
  const badSearch = await client.search({ collectionName: COLL, data: [[1, 2, 3]], limit: 3 });
  assert.equal(badSearch.code, 1100, JSON.stringify(badSearch));
  const badFilter = await client.query({ collectionName: COLL, filter: 'id >>> 3' });
  assert.equal(badFilter.code, 1100, JSON.stringify(badFilter));
  const badMetric = await client.search({ collectionName: COLL, data: [vec(1)],
    searchParams: { metricType: 'L2' } });
  assert.equal(badMetric.code, 1100, JSON.stringify(badMetric));
  const noPart = await client.insert({ collectionName: COLL, partitionName: 'nope',
    data: [{ id: 1, vector: vec(1) }] });
  assert.equal(noPart.code, 200, JSON.stringify(noPart));
  const rename = await client.renameCollection({ collectionName: 'no_such_collection',
    newCollectionName: 'renamed' });
  assert.equal(rename.code, 100, JSON.stringify(rename));
  const otherDb = await client.listCollections({ dbName: 'elsewhere' });
  assert.equal(otherDb.code, 800, JSON.stringify(otherDb));
});

test('auth: a wrong token is refused and changes nothing', { skip: !token }, async () => {
  const intruder = new HttpClient({ endpoint, token: 'wrong:token' });
  await assert.rejects(intruder.dropCollection({ collectionName: COLL }),
    (e) => e.status === 401 && /1800/.test(e.message));
  const anon = new HttpClient({ endpoint });
  await assert.rejects(anon.listCollections(), (e) => e.status === 401);
  assert.equal(ok(await client.hasCollection({ collectionName: COLL }), 'has').has, true);
});

test('drop', async () => {
  ok(await client.dropCollection({ collectionName: COLL }), 'drop');
  ok(await client.dropCollection({ collectionName: FULL }), 'drop');
  assert.equal(ok(await client.hasCollection({ collectionName: COLL }), 'has').has, false);
  assert.deepEqual(ok(await client.listCollections(), 'list'), []);
});
