#!/usr/bin/env python3
"""Sparse vectors over vdb-server's REST API (Milvus REST v2: SparseFloatVector fields, rows
and queries as {"<index>": value} objects): create, insert, index, search exact against a dot
product computed here, output fields, bad input refused.
    tests/server/test_sparse_rest.py path/to/vdb-server [unittest args]
"""
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvtest import Server  # noqa: E402

BINARY = None


def dot(a, b):
    return sum(v * b.get(k, 0.0) for k, v in a.items())


class Sparse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(BINARY, "--log-level", "warn").start()

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.srv.stop() == 0, cls.srv.stderr()
        finally:
            cls.srv.cleanup()

    def test_sparse_insert_index_search_and_bad_input(self):
        s = self.srv
        s.call("collections/create", {"collectionName": "sp", "schema": {"fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "sv", "dataType": "SparseFloatVector"}]}})
        rng = random.Random(3)
        rows = [{str(k): round(rng.uniform(0.01, 1), 3)
                 for k in rng.sample(range(100), rng.randint(1, 8))} for _ in range(200)]
        s.call("entities/insert", {"collectionName": "sp",
                                   "data": [{"id": i, "sv": r} for i, r in enumerate(rows)]})
        s.call("indexes/create", {"collectionName": "sp", "indexParams": [
            {"fieldName": "sv", "indexName": "sv", "metricType": "IP",
             "indexType": "SPARSE_WAND"}]})
        q = {"3": 0.5, "17": 1.0, "60": 0.25}
        want = sorted(((dot({int(k): v for k, v in q.items()},
                             {int(k): v for k, v in r.items()}), i)
                       for i, r in enumerate(rows)), reverse=True)
        want = [w for w in want if w[0] > 0][:5]
        hits = s.call("entities/search", {"collectionName": "sp", "annsField": "sv",
                                          "data": [q], "limit": 5, "outputFields": ["sv"]})
        self.assertEqual(len(hits), len(want))
        for h, (score, _) in zip(hits, want):
            self.assertAlmostEqual(h["distance"], score, places=4)
            self.assertEqual({k: round(v, 3) for k, v in h["sv"].items()}, rows[h["id"]])
        for bad in ({"1": -1.0}, {"x": 1.0}, {"4294967295": 1.0}, [1, 2]):
            st, r = s.post("entities/insert", {"collectionName": "sp",
                                               "data": [{"id": 999, "sv": bad}]})
            self.assertNotEqual(r.get("code"), 0, r)
        st, r = s.post("entities/search", {"collectionName": "sp", "data": [{"1": "a"}],
                                           "limit": 3})
        self.assertNotEqual(r.get("code"), 0, r)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_sparse_rest.py path/to/vdb-server [unittest args]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
