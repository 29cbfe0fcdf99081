// Users and roles over gRPC with the official Milvus Node.js SDK against a server with
// --authorization 1: users, roles and grants made with the SDK's own calls (CreateCredential,
// CreateRole, OperateUserRole, OperatePrivilege, OperatePrivilegeV2, SelectUser, SelectRole,
// SelectGrant, ...); a user without a privilege gets Milvus's PERMISSION_DENIED and changes
// nothing; a grant makes the call work and its revoke takes effect; a wrong password is
// refused; root can do everything. run_grpc.sh sets VDB_ADDRESS and VDB_ENDPOINT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MilvusClient, DataType } from '@zilliz/milvus2-sdk-node';

const address = process.env.VDB_ADDRESS;
const endpoint = process.env.VDB_ENDPOINT;
assert.ok(address && endpoint, 'VDB_ADDRESS and VDB_ENDPOINT must name the server');
const client = (token, database) => {
  const c = new MilvusClient({ address, token, timeout: 30000, database });
  c.connectPromise.catch(() => {}); // a refused Connect fails each call; not unhandled
  return c;
};

async function rest(path, body, token = 'root:Milvus') {
  const r = await fetch(`${endpoint}/v2/vectordb/${path}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` } });
  return r.json();
}

function ok(r, what) {
  const st = r.status ?? r;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
  return r;
}

function failed(r, what, re) {
  const st = r.status ?? r;
  assert.notEqual(st.error_code, 'Success', `${what} should fail: ${JSON.stringify(st)}`);
  assert.match(st.reason, re, what);
}

// Milvus's proxy answers a missing privilege with gRPC status 7 and these words.
const denied = (priv, user, db = 'default') =>
  new RegExp(`PERMISSION_DENIED: Privilege${priv}: permission deny to ${user} in the ` +
             `\`${db}\` database`);

async function refused(p, what) {
  await assert.rejects(p, (e) => { assert.match(String(e), what); return true; });
}

const name = 'rbac_grpc';
const search = (c) => c.search({ collection_name: name, data: [[1, 2]], limit: 1 });
const ids = async (c) => {
  const q = await c.query({ collection_name: name, filter: 'id >= 0', output_fields: ['id'] });
  ok(q, 'query');
  return q.data.map((r) => Number(r.id)).sort((a, b) => a - b);
};

test('users and roles: gRPC with --authorization 1', async () => {
  const root = client('root:Milvus');
  ok(await root.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v', data_type: DataType.FloatVector, dim: 2 }] }), 'create');
  ok(await root.insert({ collection_name: name, data: [{ id: 1, v: [1, 2] }] }), 'insert');

  // users and roles, made over gRPC (the password travels base64, as the SDK sends it)
  ok(await root.createUser({ username: 'g1', password: 'secret1' }), 'createUser');
  failed(await root.createUser({ username: 'g1', password: 'secret1' }), 'createUser twice',
    /exist/i);
  failed(await root.createUser({ username: 'g2', password: 'short' }), 'short password',
    /password/i);
  const users = ok(await root.listUsers(), 'listUsers');
  assert.deepEqual([...users.usernames].sort(), ['g1', 'root']);
  ok(await root.createRole({ roleName: 'searcher' }), 'createRole');
  const roles = ok(await root.listRoles(), 'listRoles');
  assert.deepEqual(roles.results.map((r) => r.role.name).sort(), ['admin', 'public', 'searcher']);

  // without the privilege: PERMISSION_DENIED, nothing changes
  const g1 = client('g1:secret1');
  await refused(search(g1), denied('Search', 'g1'));
  await refused(g1.insert({ collection_name: name, data: [{ id: 2, v: [3, 4] }] }),
    denied('Insert', 'g1'));
  await refused(g1.createUser({ username: 'g3', password: 'secret3' }),
    denied('CreateOwnership', 'g1'));
  await refused(g1.dropCollection({ collection_name: name }), denied('DropCollection', 'g1'));
  await refused(g1.listUsers(), denied('SelectOwnership', 'g1'));
  await refused(g1.flush({ collection_names: [name] }), denied('Flush', 'g1'));
  await refused(client('g1:wrong11').describeCollection({ collection_name: name }),
    /UNAUTHENTICATED: auth check failure/);
  assert.deepEqual(await ids(root), [1]);
  assert.deepEqual([...ok(await root.listUsers(), 'listUsers').usernames].sort(), ['g1', 'root']);
  // the public role's: DescribeCollection, ShowCollections, IndexDetail
  ok(await g1.describeCollection({ collection_name: name }), 'describeCollection (public)');
  // a user reads itself
  const me = ok(await g1.describeUser({ username: 'g1' }), 'describeUser (self)');
  assert.deepEqual(me.results[0].roles, []);
  await refused(g1.describeUser({ username: 'root' }), denied('SelectUser', 'g1'));

  // a grant on the collection makes Search work, and only Search
  ok(await root.addUserToRole({ username: 'g1', roleName: 'searcher' }), 'addUserToRole');
  ok(await root.grantRolePrivilege({ roleName: 'searcher', object: 'Collection',
    objectName: name, privilegeName: 'Search' }), 'grantRolePrivilege');
  const r = ok(await search(g1), 'search with the grant');
  assert.equal(r.results.length, 1);
  await refused(g1.insert({ collection_name: name, data: [{ id: 2, v: [3, 4] }] }),
    denied('Insert', 'g1'));
  // the grant is on that collection in its database only (the dbname metadata names another)
  ok(await root.createDatabase({ db_name: 'rbac_db' }), 'createDatabase');
  const rootDb = client('root:Milvus', 'rbac_db');
  ok(await rootDb.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v', data_type: DataType.FloatVector, dim: 2 }] }), 'create in rbac_db');
  await refused(search(client('g1:secret1', 'rbac_db')), denied('Search', 'g1', 'rbac_db'));
  ok(await root.createCollection({ collection_name: `${name}_other`, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v', data_type: DataType.FloatVector, dim: 2 }] }), 'create other');
  await refused(g1.search({ collection_name: `${name}_other`, data: [[1, 2]], limit: 1 }),
    denied('Search', 'g1'));
  const u = ok(await root.describeUser({ username: 'g1' }), 'describeUser');
  assert.deepEqual(u.results[0].roles.map((x) => x.name), ['searcher']);
  const role = ok(await root.describeRole({ roleName: 'searcher', includeUserInfo: true }),
    'describeRole');
  assert.deepEqual(role.results[0].users.map((x) => x.name), ['g1']);
  const grants = ok(await root.listGrants({ roleName: 'searcher' }), 'listGrants');
  assert.deepEqual(grants.entities.map((g) => [g.object.name, g.object_name, g.db_name,
    g.grantor.privilege.name, g.role.name]), [['Collection', name, 'default', 'Search',
    'searcher']]);
  const sel = ok(await root.selectGrant({ roleName: 'searcher', object: 'Global',
    objectName: '*' }), 'selectGrant');
  assert.deepEqual(sel.entities, []);
  // REST sees the same users and roles
  const rd = await rest('roles/describe', { roleName: 'searcher' });
  assert.equal(rd.code, 0, JSON.stringify(rd));
  assert.deepEqual(rd.data.map((g) => g.privilege), ['Search']);

  // OperatePrivilegeV2: the object comes from the privilege
  ok(await root.grantPrivilegeV2({ role: 'searcher', privilege: 'Insert', db_name: 'default',
    collection_name: name }), 'grantPrivilegeV2');
  ok(await g1.insert({ collection_name: name, data: [{ id: 2, v: [3, 4] }] }), 'insert (v2)');
  assert.deepEqual(await ids(root), [1, 2]);
  ok(await root.revokePrivilegeV2({ role: 'searcher', privilege: 'Insert', db_name: 'default',
    collection_name: name }), 'revokePrivilegeV2');
  await refused(g1.insert({ collection_name: name, data: [{ id: 3, v: [3, 4] }] }),
    denied('Insert', 'g1'));
  failed(await root.grantPrivilegeV2({ role: 'searcher', privilege: 'CreateCollection',
    db_name: 'default', collection_name: name }), 'a Global privilege on a collection',
    /collection_name must be/);

  // revoking takes effect at once
  ok(await root.revokeRolePrivilege({ roleName: 'searcher', object: 'Collection',
    objectName: name, privilegeName: 'Search' }), 'revokeRolePrivilege');
  await refused(search(g1), denied('Search', 'g1'));
  // the admin role: everything
  ok(await root.addUserToRole({ username: 'g1', roleName: 'admin' }), 'grant admin');
  ok(await search(g1), 'search as admin');
  ok(await g1.listUsers(), 'listUsers as admin');
  ok(await root.removeUserFromRole({ username: 'g1', roleName: 'admin' }), 'revoke admin');
  await refused(search(g1), denied('Search', 'g1'));

  // a user changes its own password (the old one is checked)
  failed(await g1.updateUser({ username: 'g1', oldPassword: 'nope1234', newPassword: 'secret2' }),
    'update with a wrong old password', /old password/i);
  ok(await g1.updateUser({ username: 'g1', oldPassword: 'secret1', newPassword: 'secret2' }),
    'updateUser (self)');
  await refused(client('g1:secret1').describeCollection({ collection_name: name }),
    /auth check failure/);
  ok(await client('g1:secret2').describeCollection({ collection_name: name }), 'new password');

  // a role with grants is not dropped; without, it is; a dropped user cannot sign in
  ok(await root.grantRolePrivilege({ roleName: 'searcher', object: 'Global', objectName: '*',
    privilegeName: 'ShowCollections' }), 'grant Global');
  failed(await root.dropRole({ roleName: 'searcher' }), 'dropRole with grants', /privilege/i);
  ok(await root.revokeRolePrivilege({ roleName: 'searcher', object: 'Global', objectName: '*',
    privilegeName: 'ShowCollections' }), 'revoke Global');
  ok(await root.dropRole({ roleName: 'searcher' }), 'dropRole');
  ok(await root.deleteUser({ username: 'g1' }), 'deleteUser');
  await refused(client('g1:secret2').describeCollection({ collection_name: name }),
    /auth check failure/);
  assert.deepEqual([...ok(await root.listUsers(), 'listUsers').usernames], ['root']);
  assert.deepEqual(await ids(root), [1, 2]);
});
