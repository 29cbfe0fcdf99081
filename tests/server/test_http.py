#!/usr/bin/env python3
"""vdb-server at the HTTP level (python3 standard library only): bad requests, auth, limits,
slow clients, TLS, the config file and graceful shutdown.

    tests/server/test_http.py path/to/vdb-server [unittest args]
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvtest import Server, make_cert, tls_context, vec  # noqa: E402

BINARY = None
TOKEN = "root:Milvus"
DIM = 16


def insert_body(coll, first, n, dim=DIM, pad=0):
    rows = [{"id": first + i, "vector": [round(x, 6) for x in vec(first + i, dim)],
             "tag": "x" * pad} for i in range(n)]
    return json.dumps({"collectionName": coll, "data": rows})


class Base(unittest.TestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(BINARY, "--log-level", "warn", *cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.srv.stop()
            assert rc == 0, "vdb-server exited with %s\n%s" % (rc, cls.srv.stderr())
        finally:
            cls.srv.cleanup()

    def create(self, name, dim=DIM, **kw):
        self.srv.post("collections/drop", {"collectionName": name}, **kw)
        self.srv.call("collections/create", {"collectionName": name, "dimension": dim}, **kw)

    def assertCode(self, resp, code, status=200):
        st, r = resp
        self.assertEqual(st, status, r)
        self.assertIsInstance(r, dict, r)
        self.assertEqual(r.get("code"), code, r)
        if code:
            self.assertTrue(r.get("message"), r)
        return r


class HalfVectors(Base):
    """Float16Vector, BFloat16Vector and Int8Vector fields over REST: rows as lists of numbers
    or base64 of the little-endian elements, search data either way, output as the elements'
    values, bad input refused."""

    def test_float16_bfloat16_int8_fields(self):
        import base64
        import struct
        for dtype in ("Float16Vector", "BFloat16Vector", "Int8Vector"):
            self.srv.post("collections/drop", {"collectionName": "hv"})
            self.srv.call("collections/create", {
                "collectionName": "hv",
                "schema": {"fields": [
                    {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                    {"fieldName": "v", "dataType": dtype, "elementTypeParams": {"dim": 4}}]},
                "indexParams": [{"fieldName": "v", "indexName": "v", "metricType": "L2",
                                 "indexType": "HNSW"}]})
            d = self.srv.call("collections/describe", {"collectionName": "hv"})
            self.assertIn(dtype, json.dumps(d))

            def raw(v):
                if dtype == "Int8Vector":
                    return struct.pack("<4b", *[int(x) for x in v])
                if dtype == "Float16Vector":
                    return struct.pack("<4e", *v)
                return b"".join(struct.pack("<f", x)[2:] for x in v)

            vals = [[float(i), float(-i), 2.0, float(i % 3)] for i in range(20)]
            rows = [{"id": i, "v": vals[i] if i % 2 else base64.b64encode(raw(vals[i])).decode()}
                    for i in range(20)]
            self.srv.call("entities/insert", {"collectionName": "hv", "data": rows})
            for q in (vals[7], base64.b64encode(raw(vals[7])).decode()):
                r = self.srv.call("entities/search", {"collectionName": "hv", "data": [q],
                                                      "limit": 1, "outputFields": ["v"]})
                self.assertEqual(r[0]["id"], 7, r)
                self.assertEqual(r[0]["v"], vals[7], r)
            bad = [{"id": 99, "v": base64.b64encode(b"\0\0\0").decode()},
                   {"id": 99, "v": [1.0, 2.0]}]
            if dtype == "Int8Vector":
                bad.append({"id": 99, "v": [1.0, 2.5, 0, 0]})
            else:
                nan = struct.pack("<H", 0x7e00 if dtype == "Float16Vector" else 0x7fc0)
                bad.append({"id": 99, "v": base64.b64encode(nan + bytes(6)).decode()})
            for b in bad:
                st, r = self.srv.post("entities/insert", {"collectionName": "hv", "data": [b]})
                self.assertNotEqual(r.get("code"), 0, (dtype, b, r))
            self.assertEqual(self.srv.call("entities/query", {"collectionName": "hv",
                                                              "filter": "id == 99"}), [])

class BadRequests(Base):
    def test_broken_and_truncated_json(self):
        for body in ['{"collectionName": "a"', '{"collectionName": }', "not json", '{"a":1}}',
                     '{"collectionName": "a", "collectionName": "b"}', b"\xff\xfe{}"]:
            r = self.assertCode(self.srv.post_raw("/v2/vectordb/collections/describe", body), 1801)
            self.assertIn("json", r["message"])

    def test_body_must_be_an_object(self):
        for body in ["[]", "3", '"x"', "null"]:
            self.assertCode(self.srv.post_raw("/v2/vectordb/collections/has", body), 1801)

    def test_empty_body_is_an_empty_request(self):
        st, r = self.srv.post_raw("/v2/vectordb/collections/list", b"")
        self.assertEqual((st, r["code"]), (200, 0), r)
        self.assertCode(self.srv.post_raw("/v2/vectordb/collections/describe", b""), 1802)

    def test_wrong_types(self):
        self.create("types")
        p = self.srv.post
        self.assertCode(p("collections/describe", {"collectionName": 5}), 1801)
        self.assertCode(p("collections/create", {"collectionName": "t2", "dimension": "x"}), 1801)
        self.assertCode(p("entities/query", {"collectionName": "types", "filter": "id > 0",
                                             "limit": "many"}), 1801)
        self.assertCode(p("entities/query", {"collectionName": "types", "filter": 7}), 1801)
        self.assertCode(p("entities/search", {"collectionName": "types", "data": "v"}), 1802)
        self.assertCode(p("entities/search", {"collectionName": "types",
                                              "data": [["a"] * DIM]}), 1100)
        self.assertCode(p("entities/search", {"collectionName": "types", "data": [vec(1, DIM)],
                                              "outputFields": "id"}), 1801)
        self.assertCode(p("entities/insert", {"collectionName": "types", "data": 3}), 1802)
        self.assertCode(p("entities/insert", {"collectionName": "types",
                                              "data": [{"id": "one", "vector": vec(1, DIM)}]}),
                        1804)
        self.assertCode(p("entities/insert", {"collectionName": "types",
                                              "data": [{"id": 1, "vector": ["x"] * DIM}]}), 1804)
        self.assertCode(p("entities/insert", {"collectionName": "types", "data": [[1, 2]]}), 1804)
        self.assertCode(p("entities/get", {"collectionName": "types", "id": {"a": 1}}), 1806)
        self.assertCode(p("entities/delete", {"collectionName": "types"}), 1802)
        self.assertCode(p("collections/create", {"collectionName": "t3", "schema": {
            "fields": [{"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                       {"fieldName": "v", "dataType": "NoSuchVector",
                        "elementTypeParams": {"dim": 8}}]}}), 1100)
        # nothing of the failed calls is there
        self.assertEqual(self.srv.call("collections/get_stats",
                                       {"collectionName": "types"})["rowCount"], 0)
        self.assertFalse(self.srv.call("collections/has", {"collectionName": "t3"})["has"])

    def test_unknown_collection_partition_index(self):
        p = self.srv.post
        for ep, extra in [("collections/describe", {}), ("collections/get_stats", {}),
                          ("collections/load", {}), ("collections/get_load_state", {}),
                          ("entities/insert", {"data": [{"id": 1}]}),
                          ("entities/query", {"filter": "id > 0"}),
                          ("entities/get", {"id": [1]}), ("entities/delete", {"filter": "id > 0"}),
                          ("entities/search", {"data": [vec(1, DIM)]}),
                          ("partitions/list", {}), ("indexes/list", {})]:
            r = self.assertCode(p(ep, dict(collectionName="nope_" + ep.replace("/", "_"),
                                           **extra)), 100)
            self.assertIn("collection not found", r["message"])
        self.create("known")
        self.assertCode(p("partitions/drop", {"collectionName": "known",
                                              "partitionName": "nope"}), 200)
        self.assertCode(p("indexes/describe", {"collectionName": "known",
                                               "indexName": "nope"}), 700)
        self.assertCode(p("indexes/drop", {"collectionName": "known", "indexName": "nope"}), 700)
        self.assertCode(p("entities/query", {"collectionName": "known", "filter": "id > 0",
                                             "outputFields": ["nope"]}), 0)  # dynamic key

    def test_unknown_endpoint_and_method(self):
        self.assertCode(self.srv.post_raw("/v2/vectordb/collections/nope", "{}"), 1100, 404)
        self.assertCode(self.srv.post_raw("/v1/vector/collections", "{}"), 1100, 404)
        c = self.srv.conn()
        c.request("GET", "/v2/vectordb/collections/list")
        r = c.getresponse()
        self.assertEqual(r.status, 405)
        self.assertEqual(json.loads(r.read())["code"], 1100)
        c.request("GET", "/healthz")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, b"OK"))
        c.close()

    def test_index_names(self):
        self.create("idxn")  # quick setup: AUTOINDEX on "vector", named after it
        self.assertEqual(self.srv.call("indexes/list", {"collectionName": "idxn"}), ["vector"])
        self.srv.call("indexes/drop", {"collectionName": "idxn", "indexName": "vector"})
        self.srv.call("indexes/create", {"collectionName": "idxn", "indexParams": [
            {"fieldName": "vector", "indexName": "vec_idx", "indexType": "HNSW",
             "metricType": "COSINE", "params": {"M": 8}},
            {"fieldName": "id", "indexName": "by_id", "indexType": "STL_SORT"}]})
        self.assertEqual(self.srv.call("indexes/list", {"collectionName": "idxn"}),
                         ["by_id", "vec_idx"])
        self.assertEqual(self.srv.call("indexes/list", {"collectionName": "idxn",
                                                        "fieldName": "vector"}), ["vec_idx"])
        d = self.srv.call("indexes/describe", {"collectionName": "idxn", "indexName": "vec_idx"})
        self.assertEqual([(x["indexName"], x["fieldName"], x["indexType"], x["metricType"])
                          for x in d], [("vec_idx", "vector", "HNSW", "COSINE")])
        self.assertEqual(d[0]["indexState"], "Finished")
        d = self.srv.call("collections/describe", {"collectionName": "idxn"})
        self.assertEqual(sorted((x["fieldName"], x["indexName"]) for x in d["indexes"]),
                         [("id", "by_id"), ("vector", "vec_idx")])
        # the same again is a success; another index on the field, a taken or bad name are not
        self.srv.call("indexes/create", {"collectionName": "idxn", "indexParams": [
            {"fieldName": "vector", "indexName": "vec_idx", "indexType": "HNSW",
             "params": {"M": 8}}]})
        r = self.assertCode(self.srv.post("indexes/create", {"collectionName": "idxn",
                            "indexParams": [{"fieldName": "vector", "indexName": "other",
                                             "indexType": "HNSW"}]}), 1100)
        self.assertIn("at most one distinct index is allowed per field", r["message"])
        self.assertCode(self.srv.post("indexes/create", {"collectionName": "idxn",
                        "indexParams": [{"fieldName": "vector", "indexName": "1bad"}]}), 1100)
        # the field's name is not the index's
        self.assertCode(self.srv.post("indexes/describe", {"collectionName": "idxn",
                                                           "indexName": "vector"}), 700)
        self.assertCode(self.srv.post("indexes/drop", {"collectionName": "idxn",
                                                       "indexName": "vector"}), 700)
        self.srv.call("indexes/drop", {"collectionName": "idxn", "indexName": "vec_idx"})
        self.assertEqual(self.srv.call("indexes/list", {"collectionName": "idxn"}), ["by_id"])
        self.srv.call("collections/drop", {"collectionName": "idxn"})

    def test_rename_aliases_truncate_and_other_database(self):
        self.create("ren")
        self.srv.post("collections/drop", {"collectionName": "r2"})
        self.srv.call("entities/insert", {"collectionName": "ren",
                                          "data": [{"id": 1, "vector": vec(1, DIM)}]})
        self.srv.call("aliases/create", {"collectionName": "ren", "aliasName": "ra"})
        self.assertCode(self.srv.post("aliases/create", {"collectionName": "ren",
                                                         "aliasName": "ren"}), 1601)
        self.create("other")
        self.assertCode(self.srv.post("aliases/create", {"collectionName": "other",
                                                         "aliasName": "ra"}), 1602)
        self.assertCode(self.srv.post("aliases/create", {"collectionName": "nope",
                                                         "aliasName": "rb"}), 100)
        self.assertCode(self.srv.post("aliases/describe", {"aliasName": "nope"}), 1600)
        self.assertCode(self.srv.post("aliases/drop", {"aliasName": "nope"}), 1600)
        self.assertCode(self.srv.post("aliases/alter", {"collectionName": "ren",
                                                        "aliasName": "nope"}), 1600)
        self.assertCode(self.srv.post("aliases/create", {"aliasName": "x"}), 1802)
        self.assertEqual(self.srv.call("aliases/list", {"collectionName": "ren"}), ["ra"])
        self.assertEqual(self.srv.call("aliases/describe", {"aliasName": "ra"}),
                         {"aliasName": "ra", "collectionName": "ren", "dbName": "default"})
        d = self.srv.call("collections/describe", {"collectionName": "ra"})
        self.assertEqual((d["collectionName"], d["aliases"]), ("ren", ["ra"]))
        got = self.srv.call("entities/get", {"collectionName": "ra", "id": [1]})
        self.assertEqual([r["id"] for r in got], [1])
        # dropping a collection with an alias, or through one, is refused
        self.assertCode(self.srv.post("collections/drop", {"collectionName": "ren"}), 1100)
        self.assertCode(self.srv.post("collections/drop", {"collectionName": "ra"}), 1100)
        # rename: the alias follows
        self.assertCode(self.srv.post("collections/rename", {"collectionName": "ren",
                                                            "newCollectionName": "other"}),
                        1100)
        self.assertCode(self.srv.post("collections/rename", {"collectionName": "ren",
                                                            "newCollectionName": "r2",
                                                            "newDbName": "db2"}), 800)
        self.srv.call("collections/rename", {"collectionName": "ren", "newCollectionName": "r2"})
        self.assertEqual(self.srv.call("aliases/describe", {"aliasName": "ra"})["collectionName"],
                         "r2")
        self.assertFalse(self.srv.call("collections/has", {"collectionName": "ren"})["has"])
        stats = self.srv.call("collections/get_stats", {"collectionName": "r2"})
        self.assertEqual(stats["rowCount"], 1)
        # truncate keeps the collection, empties it
        self.srv.call("collections/truncate", {"collectionName": "ra"})
        self.assertEqual(self.srv.call("collections/get_stats", {"collectionName": "r2"}),
                         {"rowCount": 0})
        self.assertCode(self.srv.post("collections/truncate", {"collectionName": "nope"}), 100)
        # alter moves it
        self.srv.call("aliases/alter", {"collectionName": "other", "aliasName": "ra"})
        self.assertEqual(self.srv.call("aliases/list", {}), ["ra"])
        self.assertEqual(self.srv.call("aliases/list", {"collectionName": "r2"}), [])
        self.srv.call("aliases/drop", {"aliasName": "ra"})
        self.assertEqual(self.srv.call("aliases/list", {}), [])
        self.srv.call("collections/drop", {"collectionName": "r2"})
        self.srv.call("collections/drop", {"collectionName": "other"})
        self.assertCode(self.srv.post("collections/list", {"dbName": "other"}), 800)
        self.assertNotIn("ren", self.srv.call("collections/list", {"dbName": "default"}))


    def test_collection_properties(self):
        self.create("props")
        self.srv.call("entities/insert", {"collectionName": "props",
                                          "data": [{"id": 1, "vector": vec(1, DIM)}]})
        self.srv.call("collections/alter_properties", {
            "collectionName": "props", "properties": {"collection.ttl.seconds": 3600}})
        d = self.srv.call("collections/describe", {"collectionName": "props"})
        self.assertEqual(d["properties"], [{"key": "collection.ttl.seconds", "value": "3600"}])
        # bad values and unsupported keys are refused and change nothing
        for v in (-1, "abc", 1.5, [1]):
            self.assertCode(self.srv.post("collections/alter_properties", {
                "collectionName": "props", "properties": {"collection.ttl.seconds": v}}), 1100)
        r = self.assertCode(self.srv.post("collections/alter_properties", {
            "collectionName": "props", "properties": {"collection.replica.number": 2}}), 3000)
        self.assertIn("collection.replica.number", r["message"])
        self.assertCode(self.srv.post("collections/alter_properties", {
            "collectionName": "nope", "properties": {"collection.ttl.seconds": 5}}), 100)
        self.assertCode(self.srv.post("collections/alter_properties", {
            "collectionName": "props", "properties": {}}), 1100)
        self.assertCode(self.srv.post("collections/drop_properties", {
            "collectionName": "props", "propertyKeys": "collection.ttl.seconds"}), 1100)
        d = self.srv.call("collections/describe", {"collectionName": "props"})
        self.assertEqual(d["properties"], [{"key": "collection.ttl.seconds", "value": "3600"}])
        self.assertEqual(self.srv.call("collections/get_stats", {"collectionName": "props"}),
                         {"rowCount": 1})
        self.srv.call("collections/drop_properties", {
            "collectionName": "props", "propertyKeys": ["collection.ttl.seconds"]})
        d = self.srv.call("collections/describe", {"collectionName": "props"})
        self.assertEqual(d["properties"], [])
        self.srv.call("collections/drop", {"collectionName": "props"})

    def test_create_with_properties(self):
        self.srv.post("collections/drop", {"collectionName": "cprops"})
        # checked as alter checks them: nothing is created when one is refused
        r = self.assertCode(self.srv.post("collections/create", {
            "collectionName": "cprops", "dimension": DIM,
            "properties": {"collection.ttl.seconds": 60, "collection.replica.number": 2}}),
            3000)
        self.assertIn("collection.replica.number", r["message"])
        self.assertCode(self.srv.post("collections/create", {
            "collectionName": "cprops", "dimension": DIM,
            "properties": {"collection.ttl.seconds": -1}}), 1100)
        self.assertFalse(self.srv.call("collections/has", {"collectionName": "cprops"})["has"])
        self.srv.call("collections/create", {"collectionName": "cprops", "dimension": DIM,
                                             "properties": {"collection.ttl.seconds": 60}})
        d = self.srv.call("collections/describe", {"collectionName": "cprops"})
        self.assertEqual(d["properties"], [{"key": "collection.ttl.seconds", "value": "60"}])
        self.srv.call("collections/drop", {"collectionName": "cprops"})

    def test_add_collection_field(self):
        self.create("addf")
        self.srv.call("entities/insert", {"collectionName": "addf",
                                          "data": [{"id": i, "vector": vec(i, DIM)}
                                                   for i in range(5)]})
        self.srv.call("collections/flush", {"collectionName": "addf"})
        self.srv.call("collections/fields/add", {
            "collectionName": "addf",
            "schema": {"fieldName": "score", "dataType": "Int64", "nullable": True}})
        self.srv.call("collections/fields/add", {
            "collectionName": "addf",
            "schema": {"fieldName": "tag", "dataType": "VarChar", "nullable": True,
                       "defaultValue": "none", "elementTypeParams": {"max_length": 16}}})
        d = self.srv.call("collections/describe", {"collectionName": "addf"})
        names = [f["name"] for f in d["fields"]]
        self.assertEqual(names[-2:], ["score", "tag"])
        # Milvus's refusals
        for schema, words in (
                ({"fieldName": "x", "dataType": "Int64"}, "added field must be nullable"),
                ({"fieldName": "id", "dataType": "Int64", "nullable": True},
                 "duplicate field name"),
                ({"fieldName": "v", "dataType": "FloatVector", "nullable": True,
                  "elementTypeParams": {"dim": 4}}, "vector")):
            r = self.assertCode(self.srv.post("collections/fields/add", {
                "collectionName": "addf", "schema": schema}), 1100)
            self.assertIn(words, r["message"])
        self.assertCode(self.srv.post("collections/fields/add", {
            "collectionName": "nope",
            "schema": {"fieldName": "y", "dataType": "Int64", "nullable": True}}), 100)
        self.srv.call("entities/insert", {"collectionName": "addf",
                                          "data": [{"id": 10, "vector": vec(10, DIM),
                                                    "score": 7}]})
        rows = self.srv.call("entities/query", {"collectionName": "addf", "filter": "id >= 0",
                                                "outputFields": ["score", "tag"]})
        by_id = {r["id"]: r for r in rows}
        self.assertEqual(len(by_id), 6)
        self.assertIsNone(by_id[3]["score"])
        self.assertEqual(by_id[3]["tag"], "none")
        self.assertEqual(by_id[10]["score"], 7)
        self.assertEqual(len(self.srv.call("entities/query", {
            "collectionName": "addf", "filter": "score is null"})), 5)
        self.srv.call("collections/drop", {"collectionName": "addf"})


class Auth(Base):
    server_args = ("--token", TOKEN)

    def test_missing_or_wrong_token_touches_nothing(self):
        body = {"collectionName": "secret", "dimension": 4}
        for token in [None, "root:wrong", TOKEN + "x", TOKEN[:-1], ""]:
            r = self.assertCode(self.srv.post("collections/create", body, token=token), 1800, 401)
            self.assertEqual(r["message"], "user hasn't authenticated")
        st, r = self.srv.post_raw("/v2/vectordb/collections/create", json.dumps(body),
                                  {"Authorization": "Basic " + TOKEN})
        self.assertEqual((st, r["code"]), (401, 1800))
        self.assertFalse(self.srv.call("collections/has", {"collectionName": "secret"},
                                       token=TOKEN)["has"])
        self.srv.call("collections/create", body, token=TOKEN)
        self.assertTrue(self.srv.call("collections/has", {"collectionName": "secret"},
                                      token=TOKEN)["has"])
        self.assertCode(self.srv.post("collections/drop", {"collectionName": "secret"}), 1800, 401)
        self.assertTrue(self.srv.call("collections/has", {"collectionName": "secret"},
                                      token=TOKEN)["has"])

    def test_auth_is_checked_before_the_body_is_read(self):
        # 30 MB announced, nothing sent: the 401 comes back at once
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        s.sendall(b"POST /v2/vectordb/entities/insert HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 31457280\r\n\r\n{")
        reply = s.recv(4096)
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 401"), reply[:100])
        self.assertIn(b'"code":1800', reply)


class Limits(Base):
    server_args = ("--max-body", "8M", "--timeout", "2", "--request-timeout", "4",
                   "--max-connections", "16")

    def test_garbage_http_does_not_hurt(self):
        for junk in [b"\x00\x01\x02garbage\r\n\r\n", b"POST /v2/vectordb HTTP/9.9\r\n\r\n",
                     b"POST " + b"/a" * 40000 + b" HTTP/1.1\r\n\r\n"]:
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=15)
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                reply = s.recv(4096)
            except OSError:
                # the server answered and closed (or reset) before we finished: the race
                # between its close and our shutdown/recv decides which error we see
                reply = b""
            s.close()
            # an answer (400, 414, 505) and a close, or a close at --timeout
            self.assertTrue(reply == b"" or reply.startswith(b"HTTP/1.1 4") or
                            reply.startswith(b"HTTP/1.1 505"), reply[:80])
        self.assertEqual(self.srv.call("collections/has", {"collectionName": "x"})["has"], False)

    def test_body_over_the_cap_is_refused_before_it_is_read(self):
        # 50 MB announced; only 1 MB sent: the answer comes while the rest is unsent
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        s.sendall(b"POST /v2/vectordb/entities/insert HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n")
        try:
            s.sendall(b" " * (1 << 20))
        except OSError:  # the server closed first: any of EPIPE, ECONNRESET, ENOTCONN
            pass
        reply = b""
        while True:
            try:
                chunk = s.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            reply += chunk
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:100])
        self.assertIn(b'"code":1102', reply)

    def test_whole_50mb_body_over_the_cap(self):
        body = insert_body("big", 0, 1, pad=50 << 20)
        self.assertGreater(len(body), 50 << 20)
        self.assertCode(self.srv.post_big("/v2/vectordb/entities/insert", body), 1102, 413)
        self.assertEqual(self.srv.call("collections/list", {}).count("big"), 0)

    def test_chunked_body_over_the_cap(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=20)
        s.sendall(b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * (1 << 20)
        try:
            for _ in range(12):
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            s.sendall(b"0\r\n\r\n")
        except OSError:  # the server closed first: any of EPIPE, ECONNRESET, ENOTCONN
            pass
        try:
            reply = s.recv(4096)
        except OSError:
            reply = b""
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:100])

    def test_stalled_client_is_timed_out_and_others_are_served(self):
        self.create("slow")
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=15)
        body = insert_body("slow", 0, 10).encode()
        s.sendall(b"POST /v2/vectordb/entities/insert HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body[: len(body) // 2])
        t0 = time.time()
        # meanwhile the server answers others
        for i in range(5):
            self.assertEqual(self.srv.call("collections/has", {"collectionName": "slow"})["has"],
                             True)
        got = s.recv(4096)  # the server closes the stalled connection after --timeout
        waited = time.time() - t0
        s.close()
        self.assertEqual(got, b"")
        self.assertLess(waited, 10)
        self.assertEqual(self.srv.call("collections/get_stats",
                                       {"collectionName": "slow"})["rowCount"], 0)

    def test_trickling_client_hits_the_request_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=20)
        s.sendall(b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1000\r\n\r\n")
        t0, closed = time.time(), False
        try:
            while time.time() - t0 < 12:
                s.sendall(b" ")  # one byte a second: never idle for --timeout
                time.sleep(1)
        except OSError:  # the server closed first: any of EPIPE, ECONNRESET, ENOTCONN
            closed = True
        if not closed:
            s.settimeout(3)
            try:
                closed = s.recv(100) == b""
            except OSError:  # reset, or a timeout (socket.timeout is an OSError)
                closed = True
        s.close()
        self.assertTrue(closed, "a request that takes longer than --request-timeout is cut")
        self.assertLess(time.time() - t0, 12)


class Cap(Base):
    # its own server: with Limits' --timeout 2 the idle connections below could be closed
    # by the server before the extra one is accepted, on a slow (sanitizer, loaded) run
    server_args = ("--timeout", "30", "--max-connections", "16")

    def test_connection_cap(self):
        # at the cap, a new connection is refused at once (503, code 2, closed); once the idle
        # ones are closed, new connections are served (test_attack.py has the fuller case)
        idle = [socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
                for _ in range(16)]
        time.sleep(0.3)
        req = (b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 2\r\n\r\n{}")
        extra = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        extra.sendall(req)
        reply = b""
        while True:
            chunk = extra.recv(4096)
            if not chunk:
                break
            reply += chunk
        extra.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 503"), reply[:100])
        self.assertIn(b'"code":2', reply)
        for s in idle:
            s.close()
        reply = b""
        for _ in range(100):  # until the server has seen the closes
            extra = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
            extra.sendall(req)
            reply = extra.recv(4096)
            extra.close()
            if reply.startswith(b"HTTP/1.1 200"):
                break
            time.sleep(0.05)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:100])


class BigBody(Base):
    def test_50mb_insert_under_the_default_cap(self):
        dim = 768
        self.create("big", dim=dim)
        rows = 6600
        body = insert_body("big", 0, rows, dim=dim)
        self.assertGreater(len(body), 50 << 20)
        self.assertLess(len(body), 64 << 20)
        st, r = self.srv.post_raw("/v2/vectordb/entities/insert", body, timeout=300)
        self.assertEqual((st, r["code"]), (200, 0), str(r)[:300])
        self.assertEqual(r["data"]["insertCount"], rows)
        self.assertEqual(self.srv.call("collections/get_stats",
                                       {"collectionName": "big"})["rowCount"], rows)

    def test_reads_do_not_queue_behind_a_long_write(self):
        dim = 768
        self.create("busy", dim=dim)
        self.srv.call("entities/insert", {"collectionName": "busy",
                                          "data": [{"id": 0, "vector": vec(0, dim)}]})
        body = insert_body("busy", 1, 5000, dim=dim)
        done = {}

        def writer():
            done["r"] = self.srv.post_raw("/v2/vectordb/entities/insert", body, timeout=300)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.05)
        lat = []
        while t.is_alive() and len(lat) < 50:
            t0 = time.time()
            self.srv.call("entities/search", {"collectionName": "busy", "data": [vec(0, dim)],
                                              "limit": 1})
            lat.append(time.time() - t0)
        t.join()
        self.assertEqual(done["r"][1]["code"], 0)
        if lat:
            self.assertLess(max(lat), 5, "a search waited %.2f s" % max(lat))


class TLS(unittest.TestCase):
    def test_https_with_a_self_signed_certificate(self):
        folder = tempfile.mkdtemp(prefix="vdb-tls.")
        try:
            pair = make_cert(folder)
            if not pair:
                self.skipTest("openssl is not installed")
            cert, key = pair
            srv = Server(BINARY, "--tls-cert", cert, "--tls-key", key, "--log-level", "warn",
                         tls_ctx=tls_context(cert))
            srv.start()
            try:
                srv.call("collections/create", {"collectionName": "tls", "dimension": 4})
                self.assertEqual(srv.call("collections/list", {}), ["tls"])
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                s.sendall(b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    reply = s.recv(100)
                except OSError:
                    reply = b""
                s.close()
                self.assertFalse(reply.startswith(b"HTTP/1.1 200"), "plain HTTP is not served")
                self.assertEqual(srv.stop(), 0)
            finally:
                srv.cleanup()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class Lifecycle(unittest.TestCase):
    def test_help_lists_every_flag(self):
        out = subprocess.run([BINARY, "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        for flag in ["--host", "--port", "--data", "--log-uri", "--meta-uri", "--object-uri",
                     "--threads", "--token", "--tls-cert", "--tls-key", "--log-level",
                     "--config", "--max-body", "--timeout", "--max-connections", "--sync"]:
            self.assertIn(flag, out.stdout)
        bad = subprocess.run([BINARY, "--port", "x"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        bad = subprocess.run([BINARY, "--nope"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)

    def test_config_file_and_flags_over_it(self):
        folder = tempfile.mkdtemp(prefix="vdb-conf.")
        try:
            conf = os.path.join(folder, "vdb.conf")
            with open(conf, "w") as f:
                f.write("# vdb-server settings\nport = 19999\ntoken = from-file\n"
                        "log_level=warn\nmax-body = 1M\nthreads=3\n")
            srv = Server(BINARY, "--config", conf, data=os.path.join(folder, "data"))
            srv.start()  # --port 0 from Server wins over port = 19999
            try:
                st, r = srv.post("collections/list", {})
                self.assertEqual((st, r["code"]), (401, 1800))
                self.assertEqual(srv.call("collections/list", {}, token="from-file"), [])
                st, r = srv.post_big("/v2/vectordb/collections/list", " " * (2 << 20),
                                     {"Authorization": "Bearer from-file"})
                self.assertEqual((st, r["code"]), (413, 1102))
                self.assertEqual(srv.stop(), 0)
            finally:
                srv.cleanup()
            with open(conf, "w") as f:
                f.write("no_such_key = 1\n")
            bad = subprocess.run([BINARY, "--config", conf], capture_output=True, text=True)
            self.assertEqual(bad.returncode, 2)
            self.assertIn("unknown key", bad.stderr)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def test_sigterm_finishes_requests_in_flight_and_closes_cleanly(self):
        srv = Server(BINARY, "--log-level", "info").start()
        try:
            dim = 256
            srv.call("collections/create", {"collectionName": "g", "dimension": dim})
            body = insert_body("g", 0, 6000, dim=dim)
            result = {}

            def writer():
                result["r"] = srv.post_raw("/v2/vectordb/entities/insert", body, timeout=120)

            t = threading.Thread(target=writer)
            t.start()
            time.sleep(0.3)  # the body is on its way or being handled
            srv.proc.send_signal(signal.SIGTERM)
            t.join()
            rc = srv.proc.wait(60)
            srv.proc.stdout.close()
            srv.proc = None
            self.assertEqual(rc, 0, srv.stderr())
            st, r = result["r"]
            self.assertEqual((st, r["code"]), (200, 0), str(r)[:200])
            self.assertIn("database is closed", srv.stderr())
            # reopened on the same folder: the acknowledged rows are there
            again = Server(BINARY, "--log-level", "warn", data=srv.data).start()
            try:
                self.assertEqual(again.call("collections/get_stats",
                                            {"collectionName": "g"})["rowCount"], 6000)
                self.assertEqual(again.stop(signal.SIGINT), 0)
            finally:
                again.cleanup()
        finally:
            srv.cleanup()

    def test_second_server_on_the_same_folder_is_refused(self):
        srv = Server(BINARY, "--log-level", "warn").start()
        try:
            other = subprocess.run([BINARY, "--port", "0", "--data", srv.data],
                                   capture_output=True, text=True, timeout=30)
            self.assertEqual(other.returncode, 1)
            self.assertIn("VDB_ELOCKED", other.stderr)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.cleanup()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_http.py path/to/vdb-server [unittest args]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
