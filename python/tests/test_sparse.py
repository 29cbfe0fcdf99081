"""SPARSE_FLOAT_VECTOR fields through the Python client, embedded and through vdb-server's
REST API: dicts and (indices, values) pairs in, dicts out, search exact against a dot product
computed here, indexes, bad input."""

import random

import pytest

import libvdb
from libvdb import DataType

N = 300


def rand_sparse(rng):
    keys = rng.sample(range(200), rng.randint(1, 12))
    return {k: round(rng.uniform(0.01, 1.0), 3) for k in keys}


def dot(a, b):
    return sum(v * b[k] for k, v in a.items() if k in b)


@pytest.fixture
def sparse(client):
    s = libvdb.Schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("tag", DataType.INT64)
    s.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)
    client.create_collection("sp", schema=s)
    rng = random.Random(5)
    rows = [rand_sparse(rng) for _ in range(N)]
    # half as dicts (unsorted keys), half as (indices, values) pairs
    data = []
    for i, r in enumerate(rows):
        if i % 2:
            items = sorted(r.items(), reverse=True)
            v = dict(items)
        else:
            ks = sorted(r)
            v = (ks, [r[k] for k in ks])
        data.append({"id": i, "tag": i % 5, "sv": v})
    client.insert("sp", data)
    return client, rows


def check(client, rows, q, flt=None, params=None):
    hits = client.search("sp", [q], limit=10, filter=flt or "", output_fields=["sv", "tag"],
                         search_params={"params": params or {}})[0]
    want = sorted(((dot(q, r), i) for i, r in enumerate(rows)
                   if dot(q, r) > 0 and (flt is None or i % 5 != 0)), reverse=True)[:10]
    assert len(hits) == len(want)
    for h, (score, _) in zip(hits, want):
        assert abs(h["distance"] - score) < 1e-4
        assert h["entity"]["sv"] == pytest.approx(rows[h["id"]], rel=1e-6)
        if flt:
            assert h["entity"]["tag"] % 5 != 0


def test_sparse_insert_search_get_and_indexes(sparse):
    client, rows = sparse
    rng = random.Random(9)
    queries = [rand_sparse(rng) for _ in range(5)]
    for q in queries:
        check(client, rows, q)
        check(client, rows, q, "tag % 5 != 0")
    got = client.get("sp", ids=[3], output_fields=["sv"])
    assert got[0]["sv"] == pytest.approx(rows[3], rel=1e-6)
    client.flush("sp")
    for kind in ("SPARSE_INVERTED_INDEX", "SPARSE_WAND"):
        idx = client.prepare_index_params()
        idx.add_index("sv", index_type=kind, metric_type="IP",
                      params={"drop_ratio_build": 0})
        client.create_index("sp", idx, sync=True)
        assert client.describe_index("sp", "sv")["index_type"] == kind
        for q in queries:
            check(client, rows, q)
            check(client, rows, q, "tag % 5 != 0", {"drop_ratio_search": 0})
        client.drop_index("sp", "sv")
    # one query as an (indices, values) pair
    q = queries[0]
    ks = sorted(q)
    hits = client.search("sp", [(ks, [q[k] for k in ks])], limit=3)[0]
    assert hits and abs(hits[0]["distance"] - max(dot(q, r) for r in rows)) < 1e-4


def test_sparse_bad_input_is_refused(sparse):
    client, _ = sparse
    for bad in ({1: float("nan")}, {1: -0.5}, {2**32 - 1: 1.0}, ([3, 3], [0.1, 0.2]),
                ([1, 2], [0.1])):
        with pytest.raises(libvdb.InvalidArgumentError):
            client.insert("sp", [{"id": 10**6, "tag": 0, "sv": bad}])
    with pytest.raises(libvdb.InvalidArgumentError):
        client.search("sp", [{1: float("inf")}], limit=3)
