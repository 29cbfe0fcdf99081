"""FLOAT16_VECTOR, BFLOAT16_VECTOR and INT8_VECTOR fields through the client, embedded and
remote (REST: base64 of the elements in, their values out): lists of floats or raw bytes in, [bytes] out (as
pymilvus returns them), search data as floats or bytes, bad lengths refused."""

import struct

import pytest

import libvdb
from libvdb import DataType

TYPES = [DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR, DataType.INT8_VECTOR]
DIM = 8


def rows_for(t):
    # small integers (exact in every type); the first element makes each row unique
    return [[float(i - 25)] + [float((i * 7 + j * 3) % 19 - 9) for j in range(1, DIM)]
            for i in range(50)]


def as_bytes(t, v):
    if t == DataType.FLOAT16_VECTOR:
        return struct.pack("<%de" % DIM, *v)
    if t == DataType.INT8_VECTOR:
        return struct.pack("<%db" % DIM, *[int(x) for x in v])
    return b"".join(struct.pack("<f", x)[2:] for x in v)  # small integers: exact in bfloat16


def make(client, t, metric="L2"):
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", t, dim=DIM)
    idx = client.prepare_index_params()
    idx.add_index("v", index_type="HNSW", metric_type=metric, params={"M": 8})
    client.create_collection("c", schema=schema, index_params=idx)


@pytest.mark.parametrize("t", TYPES)
def test_insert_lists_and_bytes_search_and_read_back(client, t):
    make(client, t)
    vals = rows_for(t)
    # half the rows as lists of floats, half as the stored bytes
    data = [{"id": i, "v": vals[i] if i % 2 else as_bytes(t, vals[i])} for i in range(50)]
    assert client.insert("c", data)["insert_count"] == 50
    got = client.get("c", [3, 4], output_fields=["v"])
    assert [g["v"] for g in got] == [[as_bytes(t, vals[3])], [as_bytes(t, vals[4])]]
    client.upsert("c", [{"id": 3, "v": got[0]["v"]}])  # the read's form goes back in
    assert client.get("c", [3], output_fields=["v"])[0]["v"] == [as_bytes(t, vals[3])]
    for q in (vals[11], as_bytes(t, vals[11])):
        res = client.search("c", [q], limit=1, anns_field="v", output_fields=["v"])
        assert res[0][0]["id"] == 11 and res[0][0]["distance"] == 0
        assert res[0][0]["entity"]["v"] == [as_bytes(t, vals[11])]
    client.flush("c")
    res = client.search("c", [vals[20]], limit=3, anns_field="v")
    assert res[0][0]["id"] == 20
    # search by primary key reads the stored elements as the query
    res = client.search("c", ids=[20], limit=1, anns_field="v")
    assert res[0][0]["id"] == 20


@pytest.mark.parametrize("t", TYPES)
def test_bad_vectors_are_refused(client, t):
    make(client, t)
    w = 1 if t == DataType.INT8_VECTOR else 2
    with pytest.raises(libvdb.InvalidArgumentError, match="bytes"):
        client.insert("c", [{"id": 1, "v": b"\0" * (DIM * w - 1)}])
    with pytest.raises(libvdb.InvalidArgumentError, match="dim"):
        client.insert("c", [{"id": 1, "v": [1.0] * (DIM + 1)}])
    if t == DataType.INT8_VECTOR:
        with pytest.raises(libvdb.InvalidArgumentError, match="int8"):
            client.insert("c", [{"id": 1, "v": [200.0] + [0.0] * (DIM - 1)}])
    else:
        nan = struct.pack("<H", 0x7e00 if t == DataType.FLOAT16_VECTOR else 0x7fc0)
        with pytest.raises(libvdb.InvalidArgumentError, match="NaN or Inf"):
            client.insert("c", [{"id": 1, "v": nan + b"\0" * (DIM * 2 - 2)}])
    assert client.query("c", filter="id >= 0", output_fields=["id"]) == []


@pytest.mark.needs_library
@pytest.mark.parametrize("t", TYPES)
def test_remote_answers_as_embedded(server, tmp_path, t):
    """The same rows (random floats, rounded to the type by each mode) and queries, embedded
    and through vdb-server: the same hits, distances and stored bytes."""
    import random
    from conftest import TOKEN
    rng = random.Random(7)
    gen = (lambda: float(rng.randint(-128, 127))) if t == DataType.INT8_VECTOR else \
        (lambda: rng.uniform(-1, 1))
    vals = [[gen() for _ in range(DIM)] for _ in range(200)]
    queries = [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(5)]
    emb = libvdb.MilvusClient(str(tmp_path / "e.db"), sync="off")
    rem = libvdb.MilvusClient(server.uri, token=TOKEN)
    try:
        answers = []
        for c in (emb, rem):
            if c.has_collection("cmp"):
                c.drop_collection("cmp")
            schema = c.create_schema()
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("v", t, dim=DIM)
            idx = c.prepare_index_params()
            idx.add_index("v", index_type="FLAT", metric_type="IP")
            c.create_collection("cmp", schema=schema, index_params=idx)
            c.insert("cmp", [{"id": i, "v": v} for i, v in enumerate(vals)])
            hits = c.search("cmp", queries, limit=10, anns_field="v", output_fields=["v"])
            rows = c.query("cmp", filter="id < 20", output_fields=["v"])
            answers.append(([[(h["id"], h["distance"], h["entity"]["v"]) for h in q]
                             for q in hits],
                            sorted((r["id"], r["v"]) for r in rows)))
            c.drop_collection("cmp")
        assert answers[0] == answers[1]
        assert all(isinstance(v, list) and isinstance(v[0], bytes) for _, v in answers[1][1])
    finally:
        emb.close()
        rem.close()
