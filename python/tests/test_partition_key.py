"""Partition keys (is_partition_key, num_partitions), in both modes: results equal those of a
collection without a key, the partitions made, and the partition calls refused as Milvus
refuses them."""

import pytest

import libvdb
from libvdb import DataType

from conftest import rand_vectors


def make(client, name, keyed, num_partitions=None, varchar=False):
    s = libvdb.Schema(partition_key_field="tag" if keyed else None)
    s.add_field("id", DataType.INT64, is_primary=True)
    if varchar:
        s.add_field("tag", DataType.VARCHAR, max_length=16)
    else:
        s.add_field("tag", DataType.INT64)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=4, metric_type="L2")
    kw = {"num_partitions": num_partitions} if num_partitions else {}
    client.create_collection(name, schema=s, **kw)


def rows(n, varchar=False):
    vecs = rand_vectors(n, 4, seed=7)
    return [{"id": i, "tag": ("t%d" % (i % 9)) if varchar else i % 9 - 2, "vector": vecs[i]}
            for i in range(n)]


@pytest.mark.parametrize("varchar", [False, True])
def test_same_results_as_without_key(client, varchar):
    make(client, "k", True, num_partitions=8, varchar=varchar)
    make(client, "p", False, varchar=varchar)
    data = rows(300, varchar)
    for name in ("k", "p"):
        client.insert(name, data[:200])
        client.flush(name)
        client.insert(name, data[200:])
        client.delete(name, ids=[3, 250])
    v = "'t4'" if varchar else "2"
    w = "['t1', 't7']" if varchar else "[-1, 5]"
    for flt in ("", "tag == %s" % v, "tag in %s" % w, "tag == %s or id < 20" % v,
                "tag != %s" % v):
        qk = sorted(r["id"] for r in client.query("k", flt or "id >= 0", output_fields=["id"]))
        qp = sorted(r["id"] for r in client.query("p", flt or "id >= 0", output_fields=["id"]))
        assert qk == qp and qk
        q = rand_vectors(2, 4, seed=3)
        sk = client.search("k", q, limit=15, filter=flt)
        sp = client.search("p", q, limit=15, filter=flt)
        assert [[h["id"] for h in g] for g in sk] == [[h["id"] for h in g] for g in sp]
        assert [[round(h["distance"], 5) for h in g] for g in sk] == \
            [[round(h["distance"], 5) for h in g] for g in sp]
    d = client.describe_collection("k")
    assert d["num_partitions"] == 8
    assert [f.get("is_partition_key", False) for f in d["fields"]] == [False, True, False]
    assert client.list_partitions("k") == ["_default_%d" % i for i in range(8)]


def test_default_num_partitions_and_errors(client):
    make(client, "k", True)
    assert len(client.list_partitions("k")) == 16  # Milvus's default
    client.insert("k", rows(20))
    with pytest.raises(libvdb.InvalidArgumentError) as e:
        client.create_partition("k", "p1")
    assert "partition key" in e.value.message
    with pytest.raises(libvdb.InvalidArgumentError):
        client.drop_partition("k", "_default_3")
    with pytest.raises(libvdb.InvalidArgumentError) as e:
        client.insert("k", rows(2), partition_name="_default_0")
    assert "partition key mode" in e.value.message
    with pytest.raises(libvdb.InvalidArgumentError):
        client.query("k", "id >= 0", partition_names=["_default_0"])
    with pytest.raises(libvdb.InvalidArgumentError):
        client.search("k", rand_vectors(1, 4), limit=3, partition_names=["_default_0"])
    with pytest.raises(libvdb.InvalidArgumentError):
        libvdb.Schema([libvdb.FieldSchema("id", DataType.INT64, is_primary=True)],
                      partition_key_field="nope")
    s = libvdb.Schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("f", DataType.FLOAT, is_partition_key=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    with pytest.raises(libvdb.InvalidArgumentError):
        client.create_collection("bad", schema=s)
    s = libvdb.Schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    with pytest.raises(libvdb.InvalidArgumentError):
        client.create_collection("bad", schema=s, num_partitions=4)  # no partition key
    assert client.query("k", "", output_fields=["count(*)"])[0]["count(*)"] == 20


@pytest.mark.embedded_only("the library's read_segments statistic")
def test_pruning_visible(client):
    make(client, "k", True, num_partitions=8)
    client.insert("k", rows(300))
    before = client._t.stats("k")["read_segments"]
    client.query("k", "id >= 0", output_fields=["id"])
    full = client._t.stats("k")["read_segments"] - before
    before = client._t.stats("k")["read_segments"]
    client.query("k", "tag == 2", output_fields=["id"])
    one = client._t.stats("k")["read_segments"] - before
    assert full >= 4 and one == 1  # 9 tags over 8 partitions: most get rows
