"""Full-text search through the Python client (embedded): a BM25 Function from an analyzed
VARCHAR field, the output left out of the rows, text queries scored as a BM25 computed here
over the same tokens; analyzer params checked; the schema read back. vdb-server does not take
analyzers and functions yet: the remote mode refuses them (UnsupportedError)."""

import math

import pytest

import libvdb
from libvdb import DataType, Function, FunctionType

DOCS = [
    "The quick brown fox jumps over the lazy dog",
    "A quick brown dog outpaces a quick fox",
    "Lazy dogs sleep all day",
    "Foxes are quick and clever animals",
    "The dog barks at the fox",
    "Nothing to see here",
]


def schema(params):
    s = libvdb.Schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True,
                analyzer_params=params)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function("bm25", FunctionType.BM25, input_field_names=["text"],
                            output_field_names=["sparse"]))
    return s


def tokens(text):
    # the standard analyzer's tokens of these ASCII texts: lower-cased letter runs
    out, w = [], ""
    for ch in text + " ":
        if ch.isalnum():
            w += ch.lower()
        elif w:
            out.append(w)
            w = ""
    return out


def bm25(docs, query, k1=1.2, b=0.75):
    toks = [tokens(d) for d in docs]
    n = len(docs)
    avgdl = sum(len(t) for t in toks) / n
    q = {}
    for t in tokens(query):
        q[t] = q.get(t, 0) + 1
    scores = []
    for t in toks:
        s = 0.0
        for term, qtf in q.items():
            tf = t.count(term)
            if not tf:
                continue
            df = sum(1 for u in toks if term in u)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            s += qtf * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(t) / avgdl))
        scores.append(s)
    return scores


@pytest.mark.embedded_only("vdb-server does not take BM25 functions yet")
def test_bm25_search_matches_a_reference(client):
    client.create_collection("ft", schema=schema({"type": "standard"}))
    client.insert("ft", [{"id": i, "text": d} for i, d in enumerate(DOCS)])
    for q in ("quick fox", "lazy dog", "the dog barks"):
        want = bm25(DOCS, q)
        hits = client.search("ft", data=[q], anns_field="sparse", limit=10)[0]
        assert len(hits) == sum(1 for s in want if s > 0)
        ranked = sorted((s for s in want if s > 0), reverse=True)
        for j, h in enumerate(hits):
            assert h["distance"] == pytest.approx(want[h["id"]], rel=1e-4)
            assert h["distance"] == pytest.approx(ranked[j], rel=1e-4)
    # deletes leave the statistics
    client.delete("ft", ids=[0, 1])
    want = bm25(DOCS[2:], "quick fox")
    hits = client.search("ft", data=["quick fox"], anns_field="sparse", limit=10)[0]
    assert sorted(h["id"] for h in hits) == [i + 2 for i, s in enumerate(want) if s > 0]
    for h in hits:
        assert h["distance"] == pytest.approx(want[h["id"] - 2], rel=1e-4)
    # the schema comes back with its analyzer and function
    info = client.describe_collection("ft")
    assert info is not None
    s = client._info("ft")
    assert s.by_name["text"].enable_analyzer
    assert s.by_name["text"].analyzer_params == {"type": "standard"}
    assert [f.name for f in s.functions] == ["bm25"]
    assert s.by_name["sparse"].metric_type == libvdb.MetricType.BM25


@pytest.mark.embedded_only("vdb-server does not take BM25 functions yet")
def test_output_field_is_not_supplied_and_params_are_checked(client):
    client.create_collection("ft", schema=schema({"type": "english"}))
    with pytest.raises(libvdb.InvalidArgumentError, match="output of BM25 function"):
        client.insert("ft", [{"id": 1, "text": "x", "sparse": {1: 1.0}}])
    with pytest.raises(libvdb.InvalidArgumentError, match="texts"):
        client.search("ft", data=[{1: 1.0}], anns_field="sparse", limit=3)
    with pytest.raises(libvdb.UnsupportedError, match="jieba"):
        client.create_collection("bad", schema=schema({"tokenizer": "jieba"}))
    with pytest.raises(libvdb.InvalidArgumentError, match="unknown filter"):
        client.create_collection("bad", schema=schema({"tokenizer": "standard",
                                                       "filter": ["nope"]}))
    with pytest.raises(libvdb.UnsupportedError):
        Function("e", FunctionType.TEXTEMBEDDING, ["text"], ["sparse"])
    # english: stop words go, stems match
    client.insert("ft", [{"id": 1, "text": "The runners were running"},
                         {"id": 2, "text": "a walk in the park"}])
    hits = client.search("ft", data=["run"], anns_field="sparse", limit=3)[0]
    assert [h["id"] for h in hits] == [1]
    assert client.search("ft", data=["the"], anns_field="sparse", limit=3)[0] == []


def test_remote_refuses_or_embedded_takes(client):
    if getattr(client, "_mode", None) == "embedded" or client._t.has_timestamps:
        client.create_collection("ft", schema=schema(None))
        return
    with pytest.raises(libvdb.UnsupportedError, match="BM25"):
        client.create_collection("ft", schema=schema(None))
