#!/usr/bin/env python3
"""Full-text search over vdb-server's REST API (Milvus REST v2): a VarChar field with
elementTypeParams enable_analyzer / analyzer_params, schema.functions with a BM25 function,
rows without the output field, a SPARSE_INVERTED_INDEX with metricType BM25, search with
"data": ["some words"] scored as a BM25 computed here; bad input refused.
    tests/server/test_fulltext_rest.py path/to/vdb-server [unittest args]
"""
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvtest import Server  # noqa: E402

BINARY = None
DOCS = ["The quick brown fox", "a lazy dog and a quick cat", "dogs and foxes", "nothing here",
        "quick quick quick"]


def tokens(text):
    out, w = [], ""
    for ch in text + " ":
        if ch.isalnum():
            w += ch.lower()
        elif w:
            out.append(w)
            w = ""
    return out


def bm25(query, k1=1.2, b=0.75):
    toks = [tokens(d) for d in DOCS]
    avgdl = sum(len(t) for t in toks) / len(toks)
    out = []
    for t in toks:
        s = 0.0
        for term in set(tokens(query)):
            tf, df = t.count(term), sum(1 for u in toks if term in u)
            if tf:
                idf = math.log(1 + (len(toks) - df + 0.5) / (df + 0.5))
                s += tokens(query).count(term) * idf * tf * (k1 + 1) / (
                    tf + k1 * (1 - b + b * len(t) / avgdl))
        out.append(s)
    return out


class FullText(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(BINARY, "--log-level", "warn").start()

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.srv.stop() == 0, cls.srv.stderr()
        finally:
            cls.srv.cleanup()

    def test_bm25_function_and_text_search(self):
        s = self.srv
        s.call("collections/create", {"collectionName": "ft", "schema": {"fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "text", "dataType": "VarChar",
             "elementTypeParams": {"max_length": 1000, "enable_analyzer": True,
                                   "analyzer_params": {"type": "standard"}}},
            {"fieldName": "sparse", "dataType": "SparseFloatVector"}],
            "functions": [{"name": "bm25", "type": "BM25", "inputFieldNames": ["text"],
                           "outputFieldNames": ["sparse"], "params": {}}]}})
        s.call("entities/insert", {"collectionName": "ft",
                                   "data": [{"id": i, "text": d} for i, d in enumerate(DOCS)]})
        for indexed in (False, True):
            if indexed:
                s.call("indexes/create", {"collectionName": "ft", "indexParams": [
                    {"fieldName": "sparse", "indexName": "sparse", "metricType": "BM25",
                     "indexType": "SPARSE_INVERTED_INDEX",
                     "params": {"bm25_k1": 1.2, "bm25_b": 0.75}}]})
            want = bm25("quick dog")
            hits = s.call("entities/search", {"collectionName": "ft", "annsField": "sparse",
                                              "data": ["quick dog"], "limit": 10})
            self.assertEqual(len(hits), sum(1 for w in want if w > 0))
            for h in hits:
                self.assertAlmostEqual(h["distance"], want[h["id"]], places=4)
        st, r = s.post("entities/insert", {"collectionName": "ft", "data": [
            {"id": 99, "text": "x", "sparse": {"1": 1.0}}]})
        self.assertNotEqual(r.get("code"), 0, r)
        st, r = s.post("entities/search", {"collectionName": "ft", "annsField": "sparse",
                                           "data": [{"1": 1.0}], "limit": 3})
        self.assertNotEqual(r.get("code"), 0, r)
        st, r = s.post("collections/create", {"collectionName": "bad", "schema": {"fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "text", "dataType": "VarChar",
             "elementTypeParams": {"max_length": 10, "enable_analyzer": True,
                                   "analyzer_params": {"tokenizer": "nope"}}},
            {"fieldName": "sparse", "dataType": "SparseFloatVector"}]}})
        self.assertNotEqual(r.get("code"), 0, r)
        self.assertIn("tokenizer", r.get("message", ""))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_fulltext_rest.py path/to/vdb-server [unittest args]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
