"""add_collection_field (Milvus 2.6) in both modes: rows written before read the new field as
None (or its default), new rows carry it, filters see it (`is null`), sealed segments and
reopens keep it; Milvus's refusals; create_collection(properties=...)."""

import pytest

import libvdb
from libvdb import DataType

from conftest import rand_vectors

TTL = "collection.ttl.seconds"


def rows_by_id(client, name, filt="id >= 0"):
    return {r["id"]: r for r in client.query(name, filt, output_fields=["score", "tag"])}


def test_add_field(client, connect, mode):
    vecs = rand_vectors(30, 4)
    client.create_collection("af", dimension=4)
    client.insert("af", [{"id": i, "vector": vecs[i]} for i in range(10)])
    client.flush("af")  # sealed before the add
    client.insert("af", [{"id": i, "vector": vecs[i]} for i in range(10, 15)])  # growing
    client.add_collection_field("af", "score", DataType.INT64, nullable=True)
    client.add_collection_field("af", "tag", DataType.VARCHAR, nullable=True,
                                default_value="none", max_length=16, desc="a label")
    fields = client.describe_collection("af")["fields"]
    assert [f["name"] for f in fields][-2:] == ["score", "tag"]
    assert fields[-1]["nullable"] and fields[-1]["default_value"] == "none"
    client.insert("af", [{"id": i, "vector": vecs[i], "score": i * 10} for i in range(20, 30)])
    client.insert("af", [{"id": 15, "vector": vecs[15], "tag": "x"}])  # score left out

    def check(c):
        rows = rows_by_id(c, "af")
        assert len(rows) == 26
        assert rows[3]["score"] is None and rows[3]["tag"] == "none"
        assert rows[12]["score"] is None and rows[12]["tag"] == "none"
        assert rows[25]["score"] == 250 and rows[25]["tag"] == "none"
        assert rows[15]["score"] is None and rows[15]["tag"] == "x"
        assert sorted(rows_by_id(c, "af", "score is null")) == list(range(16))
        assert sorted(rows_by_id(c, "af", "score >= 250")) == list(range(25, 30))
        hits = c.search("af", [vecs[3]], limit=30, filter="score is null",
                        output_fields=["score", "tag"])[0]
        assert sorted(h["id"] for h in hits) == list(range(16))
        assert all(h["entity"]["score"] is None for h in hits)

    check(client)
    client.flush("af")
    check(client)
    if mode == "embedded":  # the schema is in the meta store: a reopen keeps it
        client.close()
        client = connect()
        check(client)
        client.close()


def test_add_field_refused(client):
    client.create_collection("afr", dimension=4)
    for kwargs, words in (({}, "added field must be nullable"),
                          ({"nullable": True, "is_primary": True}, "pk field"),
                          ({"nullable": True, "is_partition_key": True}, "partition key")):
        with pytest.raises(libvdb.InvalidArgumentError, match=words):
            client.add_collection_field("afr", "x", DataType.INT64, **kwargs)
    with pytest.raises(libvdb.InvalidArgumentError, match="vector"):
        client.add_collection_field("afr", "v2", DataType.FLOAT_VECTOR, dim=4, nullable=True)
    with pytest.raises(libvdb.InvalidArgumentError, match="duplicate field name"):
        client.add_collection_field("afr", "id", DataType.INT64, nullable=True)
    with pytest.raises(libvdb.NotFoundError):
        client.add_collection_field("nope", "x", DataType.INT64, nullable=True)
    assert len(client.describe_collection("afr")["fields"]) == 2


def test_create_with_properties(client):
    with pytest.raises(libvdb.UnsupportedError, match="collection.replica.number"):
        client.create_collection("cp", dimension=4,
                                 properties={TTL: 60, "collection.replica.number": 2})
    with pytest.raises(libvdb.InvalidArgumentError):
        client.create_collection("cp", dimension=4, properties={TTL: -1})
    assert not client.has_collection("cp")
    client.create_collection("cp", dimension=4, properties={TTL: 3600})
    assert client.describe_collection("cp")["properties"] == {TTL: "3600"}
