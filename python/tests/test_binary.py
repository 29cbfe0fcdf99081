"""BINARY_VECTOR fields through the client, embedded and remote (REST: base64 of the bytes in,
byte lists out): rows and search data as bytes of dim / 8 (pymilvus's form), [bytes] back,
HAMMING and JACCARD on BIN_FLAT and BIN_IVF_FLAT with distances equal to ones computed here,
hybrid search, search by primary key, the search iterator, bad input refused."""

import random

import pytest

import libvdb
from libvdb import DataType

DIM = 64  # bits
N = 200


def hamming(a, b):
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b))


def jaccard(a, b):
    inter = sum(bin(x & y).count("1") for x, y in zip(a, b))
    union = sum(bin(x | y).count("1") for x, y in zip(a, b))
    return 1.0 - inter / union if union else 0.0


def codes(n, seed):
    rng = random.Random(seed)
    return [bytes(rng.randrange(256) for _ in range(DIM // 8)) for _ in range(n)]


ROWS = codes(N, 16)


def make(client, metric="HAMMING", index="BIN_FLAT", params=None):
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tag", DataType.INT64)
    schema.add_field("bv", DataType.BINARY_VECTOR, dim=DIM)
    idx = client.prepare_index_params()
    idx.add_index("bv", index_type=index, metric_type=metric, params=params or {})
    client.create_collection("b", schema=schema, index_params=idx)
    data = [{"id": i, "tag": i % 3, "bv": ROWS[i]} for i in range(N)]
    assert client.insert("b", data[:120])["insert_count"] == 120
    client.flush("b")
    assert client.insert("b", data[120:])["insert_count"] == N - 120


@pytest.mark.parametrize("metric,index,params,sp", [
    ("HAMMING", "BIN_FLAT", {}, {}),
    ("HAMMING", "BIN_IVF_FLAT", {"nlist": 4}, {"nprobe": 4}),
    ("JACCARD", "BIN_FLAT", {}, {}),
    ("JACCARD", "BIN_IVF_FLAT", {"nlist": 4}, {"nprobe": 4}),
])
def test_exact_distances_and_bytes_back(client, metric, index, params, sp):
    make(client, metric, index, params)
    dist = hamming if metric == "HAMMING" else jaccard
    qs = codes(3, 7)
    res = client.search("b", qs, limit=10, anns_field="bv", filter="tag != 2",
                        search_params={"metric_type": metric, "params": sp},
                        output_fields=["bv", "tag"])
    assert len(res) == 3
    for q, hits in zip(qs, res):
        want = sorted(dist(q, ROWS[i]) for i in range(N) if i % 3 != 2)[:10]
        assert [h["distance"] for h in hits] == pytest.approx(want, abs=1e-5)
        for h in hits:
            assert h["distance"] == pytest.approx(dist(q, ROWS[h["id"]]), abs=1e-5)
            assert h["entity"]["bv"] == [ROWS[h["id"]]]  # [bytes], as pymilvus
            assert h["entity"]["tag"] != 2
    got = client.get("b", [3, 150], output_fields=["bv"])
    assert {g["id"]: g["bv"] for g in got} == {3: [ROWS[3]], 150: [ROWS[150]]}
    # what a read returns goes back into an insert unchanged
    client.upsert("b", [{"id": 3, "bv": got[0]["bv"], "tag": 0}])
    assert client.get("b", [3], output_fields=["bv"])[0]["bv"] == [ROWS[3]]
    # one query as bytes (not in a list), and search by primary key (the stored bytes)
    hits = client.search("b", ROWS[9], limit=1, anns_field="bv")[0]
    assert (hits[0]["id"], hits[0]["distance"]) == (9, 0)
    hits = client.search("b", ids=[150], limit=1, anns_field="bv")[0]
    assert (hits[0]["id"], hits[0]["distance"]) == (150, 0)
    d = client.describe_collection("b")
    f = [x for x in d["fields"] if x["name"] == "bv"][0]
    assert f["type"] == DataType.BINARY_VECTOR


def test_hybrid_search(client):
    make(client)
    q = ROWS[11]
    reqs = [libvdb.AnnSearchRequest([q], "bv", {"metric_type": "HAMMING"}, 5),
            libvdb.AnnSearchRequest([q], "bv", {"metric_type": "HAMMING"}, 5, expr="tag == 2")]
    res = client.hybrid_search("b", reqs, libvdb.RRFRanker(60), limit=5)
    assert res[0][0]["id"] == 11


def test_search_iterator_every_row_once(client):
    make(client)
    q = ROWS[5]
    it = client.search_iterator("b", q, batch_size=32, anns_field="bv")
    seen = []
    while True:
        batch = it.next()
        if not batch:
            break
        seen += [(h["distance"], h["id"]) for h in batch]
    it.close()
    assert sorted(i for _, i in seen) == list(range(N))
    assert [d for d, _ in seen] == sorted(hamming(q, r) for r in ROWS)


def test_bad_input(client):
    make(client)
    for bad in (ROWS[0][:7], ROWS[0] + b"\0", list(ROWS[0]), [0, 1] * 32, "abcdefgh"):
        with pytest.raises(libvdb.VdbError):
            client.insert("b", [{"id": 999, "tag": 0, "bv": bad}])
        with pytest.raises(libvdb.VdbError):
            client.search("b", [bad], limit=3, anns_field="bv")
    assert client.query("b", filter="id == 999") == []
    with pytest.raises(libvdb.VdbError):
        client.search("b", [ROWS[0]], limit=3, anns_field="bv",
                      search_params={"metric_type": "L2"})
    # dims that are not multiples of 8, float metrics on binary fields
    for dim, metric in ((12, "HAMMING"), (64, "L2")):
        schema = client.create_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("bv", DataType.BINARY_VECTOR, dim=dim)
        idx = client.prepare_index_params()
        idx.add_index("bv", index_type="BIN_FLAT", metric_type=metric)
        with pytest.raises(libvdb.VdbError):
            client.create_collection("b2", schema=schema, index_params=idx)
