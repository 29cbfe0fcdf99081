// HybridSearch over gRPC with the official Milvus Node.js SDK: a collection with two vector
// fields (L2 and IP, FLAT: exact), each searched by name, then hybridSearch with RRFRanker and
// WeightedRanker; the fused hits must equal a reference fusion computed here from each
// request's own search; the search iterator pages through one exact search. run_grpc.sh sets VDB_ADDRESS and VDB_TOKEN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MilvusClient, DataType, RRFRanker, WeightedRanker } from '@zilliz/milvus2-sdk-node';

const address = process.env.VDB_ADDRESS;
assert.ok(address, 'VDB_ADDRESS must name the server');
const client = new MilvusClient({ address, token: process.env.VDB_TOKEN, timeout: 30000 });

function ok(r, what) {
  const st = r.status ?? r;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
  return r;
}

let seed = 7;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 1073741824 - 1; };
const vecOf = (dim) => Array.from({ length: dim }, rnd);
const N = 120;

test('hybrid search: RRF and weighted fusion equal a reference from each request', async () => {
  const name = 'hybrid_grpc';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'tag', data_type: DataType.Int64 },
      { name: 'a', data_type: DataType.FloatVector, dim: 6 },
      { name: 'b', data_type: DataType.FloatVector, dim: 3 },
    ],
  }), 'create');
  // one index at a time: each names its field's metric, which vdb-server sets by re-creating
  // the empty collection (index_params in createCollection would send both at once)
  ok(await client.createIndex({ collection_name: name, field_name: 'a', index_type: 'FLAT',
    metric_type: 'L2' }), 'index a');
  ok(await client.createIndex({ collection_name: name, field_name: 'b', index_type: 'FLAT',
    metric_type: 'IP' }), 'index b');
  const rows = [];
  for (let i = 0; i < N; i++) rows.push({ id: i, tag: i % 5, a: vecOf(6), b: vecOf(3) });
  ok(await client.insert({ collection_name: name, data: rows }), 'insert');
  await client.loadCollection({ collection_name: name });

  const qa = vecOf(6), qb = vecOf(3);
  const subs = [
    { data: [qa], anns_field: 'a', params: {}, limit: 15 },
    { data: [qb], anns_field: 'b', params: {}, limit: 20, expr: 'tag < 3' },
  ];
  const metric = ['L2', 'IP'];
  // each request alone
  const alone = [];
  for (const s of subs) {
    const r = ok(await client.search({ collection_name: name, data: s.data, anns_field: s.anns_field,
      limit: s.limit, filter: s.expr ?? '' }), 'search ' + s.anns_field);
    alone.push(r.results.map((h) => [Number(h.id), h.score]));
  }
  const norm = (m, s) => (m === 'IP' ? 0.5 + Math.atan(s) / Math.PI : 1 - 2 * Math.atan(s) / Math.PI);
  const fuse = (score) => {
    const tot = new Map();
    alone.forEach((hits, i) => hits.forEach(([id, d], rank) => tot.set(id, (tot.get(id) ?? 0) + score(i, rank, d))));
    return [...tot.entries()].sort((x, y) => (y[1] - x[1]) || (x[0] - y[0]));
  };
  const cases = [
    [RRFRanker(60), fuse((i, rank) => 1 / (60 + rank + 1)), 10],
    [RRFRanker(10), fuse((i, rank) => 1 / (10 + rank + 1)), 7],
    [WeightedRanker([0.6, 0.4]), fuse((i, rank, d) => [0.6, 0.4][i] * norm(metric[i], d)), 12],
  ];
  for (const [rerank, want, limit] of cases) {
    const r = ok(await client.hybridSearch({ collection_name: name, data: subs, rerank, limit,
      output_fields: ['tag'] }), 'hybrid ' + JSON.stringify(rerank));
    assert.deepEqual(r.results.map((h) => Number(h.id)), want.slice(0, limit).map((w) => w[0]));
    r.results.forEach((h, j) => {
      assert.ok(Math.abs(h.score - want[j][1]) < 1e-5, `score ${h.score} vs ${want[j][1]}`);
      assert.equal(Number(h.tag), Number(h.id) % 5);
    });
  }
  // grouping in a hybrid search (Milvus 2.5): limit groups of group_size fused rows
  const grouped = ok(await client.hybridSearch({ collection_name: name, data: subs,
    rerank: RRFRanker(60), limit: 3, group_by_field: 'tag', group_size: 2,
    output_fields: ['tag'] }), 'hybrid grouped');
  const tags = grouped.results.map((h) => Number(h.tag));
  assert.equal(tags.length, 6);
  for (let g = 0; g < 3; g++) assert.equal(tags[2 * g], tags[2 * g + 1]);
  assert.equal(new Set(tags).size, 3);
  // weights that do not match the requests: the server's error
  const bad = await client.hybridSearch({ collection_name: name, rerank: WeightedRanker([0.5]),
    data: subs, limit: 5 });
  assert.equal((bad.status ?? bad).error_code, 'IllegalArgument');
  assert.match((bad.status ?? bad).reason, /2 weights/);
  // search by primary key: the stored vectors of rows 3 and 40 are the queries
  const byVec = ok(await client.search({ collection_name: name, data: [rows[3].b, rows[40].b],
    anns_field: 'b', limit: 4 }), 'search by vectors');
  const byIds = ok(await client.search({ collection_name: name, ids: [3, 40], anns_field: 'b',
    limit: 4 }), 'search by ids');
  assert.deepEqual(byIds.results.map((q) => q.map((h) => Number(h.id))),
    byVec.results.map((q) => q.map((h) => Number(h.id))));

  // the search iterator (v2 params in search_params, token and last_bound back): the hits of
  // one exact search, in order, none twice, over the snapshot of its first batch
  const full = ok(await client.search({ collection_name: name, data: [qa], anns_field: 'a',
    limit: N, filter: 'tag != 1' }), 'full search').results;
  const sit = await client.searchIterator({ collection_name: name, data: qa, anns_field: 'a',
    batchSize: 7, filter: 'tag != 1', output_fields: ['tag'] });
  const got = [];
  let batches = 0;
  for await (const batch of sit) {
    assert.ok(batch.length <= 7);
    for (const h of batch) {
      assert.equal(Number(h.tag), Number(h.id) % 5);
      got.push(Number(h.id));
    }
    if (++batches === 1) { // deleted after the snapshot: still returned
      ok(await client.delete({ collection_name: name, ids: full.slice(30, 35).map((h) => Number(h.id)) }),
        'delete during the iteration');
    }
  }
  assert.deepEqual(got, full.map((h) => Number(h.id)));
  // a bad token is the server's error, not a silent restart
  const badIt = await client.search({ collection_name: name, data: [qa], anns_field: 'a', limit: 5,
    params: { iterator: true, search_iter_v2: true, search_iter_id: 'nonsense' } });
  assert.equal((badIt.status ?? badIt).error_code, 'IllegalArgument');
  ok(await client.dropCollection({ collection_name: name }), 'drop');
});
