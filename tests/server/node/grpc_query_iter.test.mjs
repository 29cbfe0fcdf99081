// Query with pymilvus's query-iterator parameters over gRPC, as raw QueryRequests through the
// Node SDK's lower-level call (promisify on its channel pool): iterator=True,
// reduce_stop_for_best, collection_id, and the first answer's session_ts sent back as
// guarantee_timestamp, so every page ("id > last", limit) reads the first page's snapshot
// while rows are deleted and inserted between the pages. run_grpc.sh sets VDB_ADDRESS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MilvusClient, DataType, promisify } from '@zilliz/milvus2-sdk-node';

const address = process.env.VDB_ADDRESS;
assert.ok(address, 'VDB_ADDRESS must name the server');
const client = new MilvusClient({ address, token: process.env.VDB_TOKEN, timeout: 30000 });

function ok(r, what) {
  const st = r.status ?? r;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
  return r;
}

const kv = (o) => Object.entries(o).map(([key, value]) => ({ key, value: String(value) }));
const rawQuery = (req) => promisify(client.channelPool, 'Query', req, 30000);

test('query iterator parameters: one snapshot across pages while rows change', async () => {
  const name = 'query_iter_grpc';
  await client.dropCollection({ collection_name: name });
  ok(await client.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 2 },
    ],
  }), 'create');
  const n = 500;
  ok(await client.insert({ collection_name: name,
    data: Array.from({ length: n }, (_, i) => ({ id: i * 2, v: [i, 1] })) }), 'insert');
  await client.loadCollection({ collection_name: name });
  const d = ok(await client.describeCollection({ collection_name: name }), 'describe');
  const params = { iterator: 'True', reduce_stop_for_best: 'True', limit: 64,
    collection_id: d.collectionID };
  const seen = [];
  let last = -1;
  let ts = 0;
  for (let page = 0; page < 100; page++) {
    const r = await rawQuery({ collection_name: name, expr: `id > ${last}`,
      output_fields: ['id'], query_params: kv(params), guarantee_timestamp: ts });
    ok(r, `page ${page}`);
    if (page === 0) {
      ts = r.session_ts;
      assert.ok(BigInt(ts) > 0n, `session_ts: ${ts}`);
      // changes after the snapshot: deletes of rows not read yet, inserts between them
      ok(await client.delete({ collection_name: name, filter: 'id >= 400 and id < 600' }),
        'delete');
      ok(await client.insert({ collection_name: name,
        data: Array.from({ length: 100 }, (_, i) => ({ id: 401 + 2 * i, v: [0, 0] })) }),
        'insert more');
      await client.flush({ collection_names: [name] });
    } else {
      assert.equal(String(r.session_ts), String(ts), 'later pages keep the snapshot');
    }
    const fd = r.fields_data.find((f) => f.field_name === 'id');
    const ids = (fd ? fd.scalars.long_data.data : []).map(Number);
    if (!ids.length) break;
    assert.ok(ids.length <= 64);
    seen.push(...ids);
    last = ids[ids.length - 1];
  }
  assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i * 2));
  // without the iterator the same query sees the changes
  const now = await client.query({ collection_name: name, filter: 'id >= 400 and id < 410',
    output_fields: ['id'] });
  assert.deepEqual(now.data.map((x) => Number(x.id)).sort((a, b) => a - b),
    [401, 403, 405, 407, 409]);
  const bad = await rawQuery({ collection_name: name, expr: 'id > 0', output_fields: ['id'],
    query_params: kv({ ...params, collection_id: 12345 }) });
  assert.equal(bad.status.error_code, 'IllegalArgument');
  assert.match(bad.status.reason, /collection_id/);
  await client.dropCollection({ collection_name: name });
});
