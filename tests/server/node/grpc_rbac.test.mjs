// Users and roles over gRPC with the official Milvus Node.js SDK against a server with
// --authorization 1: root works; a user without every privilege gets PERMISSION_DENIED and
// changes nothing; with the admin role it works; revoking it takes effect; a wrong password
// is refused. Users and roles are made over REST (VDB_ENDPOINT). run_grpc.sh sets VDB_ADDRESS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MilvusClient, DataType } from '@zilliz/milvus2-sdk-node';

const address = process.env.VDB_ADDRESS;
const endpoint = process.env.VDB_ENDPOINT;
assert.ok(address && endpoint, 'VDB_ADDRESS and VDB_ENDPOINT must name the server');
const client = (token) => {
  const c = new MilvusClient({ address, token, timeout: 30000 });
  c.connectPromise.catch(() => {}); // a refused Connect fails each call; not unhandled
  return c;
};

async function rest(path, body) {
  const r = await fetch(`${endpoint}/v2/vectordb/${path}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer root:Milvus' } });
  const j = await r.json();
  assert.equal(j.code, 0, `${path}: ${JSON.stringify(j)}`);
  return j.data;
}

function ok(r, what) {
  const st = r.status ?? r;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
  return r;
}

async function refused(p, what) {
  await assert.rejects(p, (e) => { assert.match(String(e), what); return true; });
}

test('users and roles: gRPC with --authorization 1', async () => {
  const root = client('root:Milvus');
  const name = 'rbac_grpc';
  ok(await root.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v', data_type: DataType.FloatVector, dim: 2 }] }), 'create');
  ok(await root.insert({ collection_name: name, data: [{ id: 1, v: [1, 2] }] }), 'insert');
  await rest('users/create', { userName: 'g1', password: 'secret1' });
  const g1 = client('g1:secret1');
  await refused(g1.search({ collection_name: name, data: [[1, 2]], limit: 1 }),
    /privilege not permitted/i);
  await refused(g1.insert({ collection_name: name, data: [{ id: 2, v: [3, 4] }] }),
    /privilege not permitted/i);
  await refused(client('g1:wrong11').search({ collection_name: name, data: [[1, 2]], limit: 1 }),
    /auth check failure/i);
  const q = await root.query({ collection_name: name, filter: 'id >= 0', output_fields: ['id'] });
  assert.deepEqual(q.data.map((r) => Number(r.id)), [1]);
  await rest('users/grant_role', { userName: 'g1', roleName: 'admin' });
  const r = ok(await g1.search({ collection_name: name, data: [[1, 2]], limit: 1 }), 'search');
  assert.equal(r.results.length, 1);
  await rest('users/revoke_role', { userName: 'g1', roleName: 'admin' });
  await refused(g1.search({ collection_name: name, data: [[1, 2]], limit: 1 }),
    /privilege not permitted/i);
});
