#!/usr/bin/env python3
"""Users and roles over vdb-server's REST API with --authorization 1 (Milvus's
authorizationEnabled): a user without Search gets Milvus's 1401 and changes nothing; with the
grant it works; revoke takes effect; a wrong password is refused; all of it kept across a
restart.
    tests/server/test_rbac.py path/to/vdb-server [unittest args]
"""
import json
import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvtest import Server  # noqa: E402

BINARY = None
ROOT = "root:Milvus"
SEARCH = {"collectionName": "c1", "data": [[1, 2]], "limit": 3}


class Rbac(unittest.TestCase):
    def setUp(self):
        self.srv = Server(BINARY, "--log-level", "warn", "--authorization", "1").start()

    def tearDown(self):
        try:
            if self.srv.proc is not None:
                assert self.srv.stop() == 0, self.srv.stderr()
        finally:
            self.srv.cleanup()

    def denied(self, endpoint, obj, token, priv):
        st, r = self.srv.post(endpoint, obj, token)
        self.assertEqual(r.get("code"), 1401, r)
        self.assertIn("Privilege%s: permission deny to" % priv, r["message"])

    def test_users_roles_and_enforcement(self):
        s = self.srv
        # no credentials, a wrong password, an unknown user: 1800 before anything runs
        for tok in (None, "root:milvus", "nobody:Milvus1", "rootMilvus"):
            st, r = s.post("collections/list", {}, tok)
            self.assertEqual((st, r.get("code")), (401, 1800), (tok, r))
        s.call("collections/create", {"collectionName": "c1", "dimension": 2}, ROOT)
        s.call("entities/insert", {"collectionName": "c1",
                                   "data": [{"id": 1, "vector": [1, 2]}]}, ROOT)
        s.call("users/create", {"userName": "u1", "password": "secret1"}, ROOT)
        st, r = s.post("users/create", {"userName": "u1", "password": "secret1"}, ROOT)
        self.assertNotEqual(r.get("code"), 0, r)
        st, r = s.post("users/create", {"userName": "u2", "password": "short"}, ROOT)
        self.assertIn("between 6 and 256", r.get("message", ""), r)
        s.call("roles/create", {"roleName": "reader"}, ROOT)
        s.call("users/grant_role", {"userName": "u1", "roleName": "reader"}, ROOT)
        self.assertEqual(s.call("users/describe", {"userName": "u1"}, ROOT),
                         {"userName": "u1", "roles": ["reader"]})
        self.assertEqual(s.call("users/list", {}, ROOT), ["root", "u1"])
        self.assertEqual(s.call("roles/list", {}, ROOT), ["admin", "public", "reader"])
        u1 = "u1:secret1"
        st, r = s.post("collections/list", {}, "u1:secret2")
        self.assertEqual(r.get("code"), 1800, r)
        # public's ShowCollections: every user has it
        self.assertEqual(s.call("collections/list", {}, u1), ["c1"])
        self.denied("entities/search", SEARCH, u1, "Search")
        self.denied("entities/insert", {"collectionName": "c1",
                                        "data": [{"id": 2, "vector": [3, 4]}]}, u1, "Insert")
        self.denied("collections/drop", {"collectionName": "c1"}, u1, "DropCollection")
        self.denied("users/create", {"userName": "u3", "password": "secret3"}, u1,
                    "CreateOwnership")
        # nothing changed
        rows = s.call("entities/query", {"collectionName": "c1", "filter": "id >= 0",
                                         "outputFields": ["id"]}, ROOT)
        self.assertEqual(rows, [{"id": 1}])
        self.assertEqual(s.call("users/list", {}, ROOT), ["root", "u1"])
        # the grant
        s.call("roles/grant_privilege", {"roleName": "reader", "objectType": "Collection",
                                         "objectName": "c1", "privilege": "Search"}, ROOT)
        self.assertEqual(s.call("roles/describe", {"roleName": "reader"}, ROOT), [
            {"objectType": "Collection", "dbName": "default", "objectName": "c1",
             "privilege": "Search", "grantor": "root"}])
        self.assertEqual(len(s.call("entities/search", SEARCH, u1)), 1)
        self.denied("entities/insert", {"collectionName": "c1",
                                        "data": [{"id": 2, "vector": [3, 4]}]}, u1, "Insert")
        st, r = s.post("roles/grant_privilege", {"roleName": "reader", "objectType": "Collection",
                                                 "objectName": "c1", "privilege": "Serch"}, ROOT)
        self.assertIn("not found the privilege name[Serch]", r.get("message", ""), r)
        # a user changes its own password (the old one checked)
        st, r = s.post("users/update_password", {"userName": "u1", "password": "wrong11",
                                                 "newPassword": "secret2"}, u1)
        self.assertNotEqual(r.get("code"), 0, r)
        s.call("users/update_password", {"userName": "u1", "password": "secret1",
                                         "newPassword": "secret2"}, u1)
        st, r = s.post("collections/list", {}, u1)
        self.assertEqual(r.get("code"), 1800, r)
        u1 = "u1:secret2"
        self.assertEqual(len(s.call("entities/search", SEARCH, u1)), 1)
        # kept across a restart
        self.assertEqual(s.stop(), 0)
        s.start()
        self.assertEqual(len(s.call("entities/search", SEARCH, u1)), 1)
        # revoke takes effect
        s.call("roles/revoke_privilege", {"roleName": "reader", "objectType": "Collection",
                                          "objectName": "c1", "privilege": "Search"}, ROOT)
        self.denied("entities/search", SEARCH, u1, "Search")
        s.call("roles/grant_privilege", {"roleName": "reader", "objectType": "Collection",
                                         "objectName": "*", "privilege": "*"}, ROOT)
        self.assertEqual(len(s.call("entities/search", SEARCH, u1)), 1)
        s.call("users/revoke_role", {"userName": "u1", "roleName": "reader"}, ROOT)
        self.denied("entities/search", SEARCH, u1, "Search")
        s.call("users/grant_role", {"userName": "u1", "roleName": "admin"}, ROOT)
        s.call("entities/insert", {"collectionName": "c1",
                                   "data": [{"id": 2, "vector": [3, 4]}]}, u1)
        s.call("users/drop", {"userName": "u1"}, ROOT)
        st, r = s.post("collections/list", {}, u1)
        self.assertEqual(r.get("code"), 1800, r)

    def raw(self, data, n_answers):
        """Sends data on one connection; returns the answers read (status, JSON) until
        n_answers came or the server closed."""
        sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=60)
        sock.sendall(data)
        buf, out = b"", []
        try:
            while len(out) < n_answers:
                m = re.match(rb"HTTP/1\.1 (\d+)[^\r]*\r\n((?:[^\r]+\r\n)*)\r\n", buf)
                if m and m.group(1) == b"100":
                    out.append((100, None))
                    buf = buf[m.end():]
                    continue
                if m:
                    n = int(re.search(rb"Content-Length: (\d+)", m.group(2)).group(1))
                    if len(buf) >= m.end() + n:
                        out.append((int(m.group(1)), json.loads(buf[m.end():m.end() + n])))
                        buf = buf[m.end() + n:]
                        continue
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            sock.close()
        return out

    @staticmethod
    def req(endpoint, obj, token, extra=""):
        body = json.dumps(obj).encode()
        return (("POST /v2/vectordb/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Length: %d\r\n%s\r\n") % (endpoint, token, len(body), extra)
                ).encode() + body

    def test_password_check_off_the_event_loop(self):
        """A password not verified before is checked by the PBKDF2 on a worker while the
        connection waits: the body sent with the head, pipelined requests and Expect still
        work; a wrong one is 401 and closes; a changed password or a dropped user is refused
        at once afterwards, on a connection that used it before too."""
        s = self.srv
        s.call("users/create", {"userName": "u5", "password": "secret5"}, ROOT)
        s.call("users/grant_role", {"userName": "u5", "roleName": "admin"}, ROOT)
        s.call("collections/create", {"collectionName": "c5", "dimension": 2}, ROOT)
        u5 = "u5:secret5"
        has = {"collectionName": "c5"}
        # first request of u5 (the PBKDF2), its body in the same packet, two more behind it
        ans = self.raw(self.req("collections/has", has, u5) * 3, 3)
        self.assertEqual([(st, r.get("code"), r["data"]["has"]) for st, r in ans],
                         [(200, 0, True)] * 3, ans)
        # a wrong password: 401, and what follows is not read as a request
        ans = self.raw(self.req("collections/has", has, "u5:secret6") +
                       self.req("collections/has", has, u5), 2)
        self.assertEqual([(st, r.get("code")) for st, r in ans], [(401, 1800)], ans)
        # Expect: 100-continue after the PBKDF2 (a new user: nothing remembered yet)
        s.call("users/create", {"userName": "u6", "password": "secret6"}, ROOT)
        s.call("users/grant_role", {"userName": "u6", "roleName": "admin"}, ROOT)
        head = self.req("collections/has", has, "u6:secret6", "Expect: 100-continue\r\n")
        ans = self.raw(head, 2)
        self.assertEqual(ans[0], (100, None), ans)
        self.assertEqual((ans[1][0], ans[1][1].get("code")), (200, 0), ans)
        # a changed password: the old one refused on the very next request (one connection
        # sends the old password twice around the change made on another)
        self.assertEqual(self.raw(self.req("collections/has", has, u5), 1)[0][1]["code"], 0)
        s.call("users/update_password", {"userName": "u5", "password": "secret5",
                                         "newPassword": "secret7"}, ROOT)
        ans = self.raw(self.req("collections/has", has, u5), 1)
        self.assertEqual((ans[0][0], ans[0][1].get("code")), (401, 1800), ans)
        ans = self.raw(self.req("collections/has", has, "u5:secret7") * 2, 2)
        self.assertEqual([r.get("code") for st, r in ans], [0, 0], ans)
        # a dropped user: refused at once, the remembered password with it
        s.call("users/drop", {"userName": "u5"}, ROOT)
        ans = self.raw(self.req("collections/has", has, "u5:secret7"), 1)
        self.assertEqual((ans[0][0], ans[0][1].get("code")), (401, 1800), ans)
        # made again with the same password: a new salt, checked anew, and it works
        s.call("users/create", {"userName": "u5", "password": "secret7"}, ROOT)
        ans = self.raw(self.req("collections/list", {}, "u5:secret7"), 1)
        self.assertEqual((ans[0][0], ans[0][1].get("code")), (200, 0), ans)

    def test_without_authorization_token_still_works(self):
        self.srv.stop()
        self.srv.args = ["--log-level", "warn", "--token", "root:Milvus"]
        self.srv.start()
        self.assertEqual(self.srv.call("collections/list", {}, ROOT), [])
        st, r = self.srv.post("collections/list", {}, "u1:secret1")
        self.assertEqual(r.get("code"), 1800, r)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_rbac.py path/to/vdb-server [unittest args]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
