"""Users and roles through MilvusClient (remote mode: vdb-server's /users and /roles; the
embedded mode refuses them clearly). The enforcement test starts its own vdb-server with
--authorization 1: a user without Search gets PermissionDeniedError (Milvus's 1401) and changes
nothing, the grant makes it work, revoke takes effect, a wrong password is refused."""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

import libvdb


def test_embedded_refuses(mode, client):
    if mode != "embedded":
        pytest.skip("the embedded mode's answer")
    with pytest.raises(libvdb.UnsupportedError, match="remote mode"):
        client.create_user("u1", "secret1")
    with pytest.raises(libvdb.UnsupportedError, match="remote mode"):
        client.list_roles()


@pytest.fixture
def auth_server(server):  # `server`: runs in the remote pass only, VDB_SERVER checked there
    d = tempfile.mkdtemp(prefix="libvdb-pytest-rbac.")
    log = open(os.path.join(d, "server.log"), "w+")
    proc = subprocess.Popen(
        [os.environ["VDB_SERVER"], "--port", "0", "--data", os.path.join(d, "data"),
         "--authorization", "1", "--sync", "off", "--log-level", "warn"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    m = re.match(r"vdb-server listening on http://127\.0\.0\.1:(\d+)$",
                 proc.stdout.readline().strip())
    try:
        assert m, "vdb-server did not start"
        yield "http://127.0.0.1:%s" % m.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        proc.stdout.close()
        log.close()
        shutil.rmtree(d, ignore_errors=True)
        assert rc == 0


def test_users_roles_enforced(auth_server):
    uri = auth_server
    root = libvdb.MilvusClient(uri, token="root:Milvus")
    root.create_collection("c1", dimension=2)
    root.insert("c1", [{"id": 1, "vector": [1.0, 2.0]}])
    root.create_user("u1", "secret1")
    with pytest.raises(libvdb.VdbError):
        root.create_user("u1", "secret1")
    root.create_role("reader")
    root.grant_role("u1", "reader")
    assert root.list_users() == ["root", "u1"]
    assert root.list_roles() == ["admin", "public", "reader"]
    assert root.describe_user("u1") == {"user_name": "u1", "roles": ("reader",)}
    with pytest.raises(libvdb.AuthenticationError):
        libvdb.MilvusClient(uri, token="u1:wrong11").list_collections()
    u1 = libvdb.MilvusClient(uri, token="u1:secret1")
    assert u1.list_collections() == ["c1"]  # public's ShowCollections
    with pytest.raises(libvdb.PermissionDeniedError, match="PrivilegeSearch: permission deny"):
        u1.search("c1", [[1.0, 2.0]], limit=1)
    with pytest.raises(libvdb.PermissionDeniedError, match="PrivilegeInsert"):
        u1.insert("c1", [{"id": 2, "vector": [3.0, 4.0]}])
    with pytest.raises(libvdb.PermissionDeniedError):
        u1.create_user("u2", "secret2")
    assert [r["id"] for r in root.query("c1", "id >= 0")] == [1]
    assert root.list_users() == ["root", "u1"]
    root.grant_privilege("reader", "Collection", "Search", "c1")
    assert root.describe_role("reader")["privileges"] == [
        {"object_type": "Collection", "object_name": "c1", "db_name": "default",
         "role_name": "reader", "privilege": "Search", "grantor_name": "root"}]
    assert len(u1.search("c1", [[1.0, 2.0]], limit=1)[0]) == 1
    root.revoke_privilege("reader", "Collection", "Search", "c1")
    with pytest.raises(libvdb.PermissionDeniedError):
        u1.search("c1", [[1.0, 2.0]], limit=1)
    u1.update_password("u1", "secret1", "secret2")
    with pytest.raises(libvdb.AuthenticationError):
        u1.list_collections()
    u1 = libvdb.MilvusClient(uri, token="u1:secret2")
    root.revoke_role("u1", "reader")
    assert root.describe_user("u1")["roles"] == ()
    root.drop_role("reader")
    root.drop_user("u1")
    assert root.list_users() == ["root"]
    u1.close()
    root.close()
