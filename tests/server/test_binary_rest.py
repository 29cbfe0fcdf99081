#!/usr/bin/env python3
"""Binary vectors over vdb-server's REST API (Milvus REST v2: BinaryVector fields, dim in bits,
rows and queries as lists of dim / 8 byte values or base64 of the bytes): create, insert,
BIN_FLAT / BIN_IVF_FLAT indexes, search (HAMMING and JACCARD distances against ones computed
here), hybrid search, a search iterator, output bytes, bad input refused.
    tests/server/test_binary_rest.py path/to/vdb-server [unittest args]
"""
import base64
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvtest import Server  # noqa: E402

BINARY = None
DIM = 64  # bits
N = 300


def hamming(a, b):
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b))


def jaccard(a, b):
    inter = sum(bin(x & y).count("1") for x, y in zip(a, b))
    union = sum(bin(x | y).count("1") for x, y in zip(a, b))
    return 1.0 - inter / union if union else 0.0


class Binary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(BINARY, "--log-level", "warn").start()
        rng = random.Random(16)
        cls.rows = [bytes(rng.randrange(256) for _ in range(DIM // 8)) for _ in range(N)]

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.srv.stop() == 0, cls.srv.stderr()
        finally:
            cls.srv.cleanup()

    def make(self, name, metric, index=None, params=None):
        s = self.srv
        s.post("collections/drop", {"collectionName": name})
        s.call("collections/create", {"collectionName": name, "schema": {"fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "tag", "dataType": "Int64"},
            {"fieldName": "bv", "dataType": "BinaryVector", "elementTypeParams": {"dim": DIM}}]},
            "indexParams": [{"fieldName": "bv", "indexName": "bv", "metricType": metric,
                             "indexType": index or "BIN_FLAT", "params": params or {}}]})
        # half the rows as byte lists, half as base64 (Milvus REST v2 takes either)
        data = [{"id": i, "tag": i % 3,
                 "bv": list(r) if i % 2 else base64.b64encode(r).decode()}
                for i, r in enumerate(self.rows)]
        for k in range(0, N, 100):
            s.call("entities/insert", {"collectionName": name, "data": data[k:k + 100]})
            if k == 100:
                s.call("collections/flush", {"collectionName": name})

    def check_hits(self, hits, q, metric, k, ids=None):
        dist = hamming if metric == "HAMMING" else jaccard
        want = sorted(dist(q, self.rows[i]) for i in (ids if ids is not None else range(N)))[:k]
        self.assertEqual(len(hits), len(want), hits)
        for h in hits:
            self.assertAlmostEqual(h["distance"], dist(q, self.rows[h["id"]]), places=5)
        got = [h["distance"] for h in hits]
        for a, b in zip(got, want):
            self.assertAlmostEqual(a, b, places=5)

    def test_schema_and_index_describe(self):
        self.make("bdesc", "HAMMING")
        d = self.srv.call("collections/describe", {"collectionName": "bdesc"})
        f = [x for x in d["fields"] if x["name"] == "bv"][0]
        self.assertEqual(f["type"], "BinaryVector", d)
        self.assertIn({"key": "dim", "value": str(DIM)}, f["params"])
        idx = self.srv.call("indexes/describe", {"collectionName": "bdesc", "indexName": "bv"})
        self.assertEqual((idx[0]["indexType"], idx[0]["metricType"]), ("BIN_FLAT", "HAMMING"))

    def test_hamming_and_jaccard_exact(self):
        rng = random.Random(5)
        for metric, index, params, sp in (
                ("HAMMING", "BIN_FLAT", {}, {}),
                ("HAMMING", "BIN_IVF_FLAT", {"nlist": 4}, {"params": {"nprobe": 4}}),
                ("JACCARD", "BIN_FLAT", {}, {}),
                ("JACCARD", "BIN_IVF_FLAT", {"nlist": 4}, {"params": {"nprobe": 4}})):
            name = "b_%s_%s" % (metric.lower(), index.lower())
            self.make(name, metric, index, params)
            qs = [bytes(rng.randrange(256) for _ in range(DIM // 8)) for _ in range(3)]
            r = self.srv.post("entities/search", {
                "collectionName": name, "annsField": "bv", "limit": 10,
                "data": [list(qs[0]), base64.b64encode(qs[1]).decode(), list(qs[2])],
                "searchParams": dict(sp, metricType=metric), "outputFields": ["bv"]})[1]
            self.assertEqual(r.get("code"), 0, r)
            self.assertEqual(r["topks"], [10, 10, 10], r)
            for i, q in enumerate(qs):
                hits = r["data"][10 * i:10 * i + 10]
                self.check_hits(hits, q, metric, 10)
                for h in hits:  # output: the stored bytes as a list of 0..255
                    self.assertEqual(bytes(h["bv"]), self.rows[h["id"]])
            # a filter, and a row's own bytes at distance 0
            hits = self.srv.call("entities/search", {
                "collectionName": name, "data": [list(self.rows[7])], "limit": 5,
                "filter": "tag == 1", "searchParams": sp})
            self.check_hits(hits, self.rows[7], metric, 5, [i for i in range(N) if i % 3 == 1])
            self.assertEqual((hits[0]["id"], hits[0]["distance"]), (7, 0))

    def test_hybrid_and_iterator(self):
        self.make("bhy", "HAMMING")
        q = self.rows[11]
        hits = self.srv.call("entities/hybrid_search", {
            "collectionName": "bhy", "limit": 5, "rerank": {"strategy": "rrf"},
            "search": [{"annsField": "bv", "data": [list(q)], "limit": 5},
                       {"annsField": "bv", "data": [base64.b64encode(q).decode()], "limit": 5,
                        "filter": "tag == 2"}]})
        self.assertEqual(hits[0]["id"], 11, hits)
        seen, cursor = [], None
        while True:
            body = {"collectionName": "bhy", "annsField": "bv", "data": [list(q)],
                    "batchSize": 64, "outputFields": ["id"]}
            if cursor:
                body["cursor"] = cursor
            st, r = self.srv.post("entities/search_iterator", body)
            self.assertEqual(r.get("code"), 0, r)
            seen += [(h["distance"], h["id"]) for h in r["data"]]
            cursor = r.get("cursor")
            if not r["data"] or not cursor:
                break
            self.assertLess(len(seen), 2 * N)
        self.assertEqual(sorted(i for _, i in seen), list(range(N)))
        self.assertEqual([d for d, _ in seen], sorted(hamming(q, r) for r in self.rows))

    def test_bad_input(self):
        self.make("bbad", "HAMMING")
        s = self.srv
        for bad in (list(range(7)), list(range(9)), [0, 1, 2, 3, 4, 5, 6, 256], [0] * 7 + [-1],
                    [0.5] * 8, base64.b64encode(bytes(7)).decode(), "not base64!", 5):
            st, r = s.post("entities/insert", {"collectionName": "bbad",
                                               "data": [{"id": 9999, "tag": 0, "bv": bad}]})
            self.assertNotEqual(r.get("code"), 0, (bad, r))
            self.assertIn("bv", r["message"], r)
        st, r = s.post("entities/insert", {"collectionName": "bbad",
                                           "data": [{"id": 9999, "tag": 0, "bv": [1] * 7}]})
        self.assertIn("dim / 8", r["message"], r)
        for q in ([1] * 9, [300] * 8, ["a"] * 8):
            st, r = s.post("entities/search", {"collectionName": "bbad", "data": [q],
                                               "limit": 3})
            self.assertNotEqual(r.get("code"), 0, (q, r))
        st, r = s.post("entities/search", {"collectionName": "bbad", "data": [[1] * 8],
                                           "limit": 3, "searchParams": {"metricType": "L2"}})
        self.assertNotEqual(r.get("code"), 0, r)
        self.assertEqual(s.call("entities/query", {"collectionName": "bbad",
                                                   "filter": "id == 9999"}), [])
        # dims that are not multiples of 8, float metrics on binary fields and back
        for dim, metric in ((12, "HAMMING"), (64, "L2"), (64, "COSINE")):
            st, r = s.post("collections/create", {"collectionName": "bbad2", "schema": {
                "fields": [{"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                           {"fieldName": "bv", "dataType": "BinaryVector",
                            "elementTypeParams": {"dim": dim}}]},
                "indexParams": [{"fieldName": "bv", "metricType": metric,
                                 "indexType": "BIN_FLAT"}]})
            self.assertNotEqual(r.get("code"), 0, (dim, metric, r))
        st, r = s.post("collections/create", {"collectionName": "bbad3", "schema": {"fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}}]},
            "indexParams": [{"fieldName": "v", "metricType": "HAMMING"}]})
        self.assertNotEqual(r.get("code"), 0, r)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_binary_rest.py path/to/vdb-server [unittest args]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
