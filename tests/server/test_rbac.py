#!/usr/bin/env python3
"""Users and roles over vdb-server's REST API with --authorization 1 (Milvus's
authorizationEnabled): a user without Search gets Milvus's 1401 and changes nothing; with the
grant it works; revoke takes effect; a wrong password is refused; all of it kept across a
restart.
    tests/server/test_rbac.py path/to/vdb-server [unittest args]
"""
import os
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
