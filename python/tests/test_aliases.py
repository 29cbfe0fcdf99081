"""Aliases, rename_collection and truncate_collection, in both modes: pymilvus's calls and
answers, the errors (the same exception class embedded and remote), and what survives a
reopen (embedded) or a new client (remote)."""

import threading

import pytest

import libvdb

from conftest import rand_vectors


def make(client, name, n=0, first=0, dim=4):
    client.create_collection(name, dimension=dim)
    if n:
        vecs = rand_vectors(n, dim, seed=first + 1)
        client.insert(name, [{"id": first + i, "vector": vecs[i]} for i in range(n)])


def count(client, name):
    return client.query(name, "", output_fields=["count(*)"])[0]["count(*)"]


def test_alias_calls_and_errors(client):
    make(client, "a", 10)
    make(client, "b", 3, first=100)
    client.create_alias("a", "x")
    client.create_alias("a", "x")  # the same again: no error, as Milvus
    assert client.describe_alias("x") == {"alias": "x", "collection_name": "a",
                                          "db_name": "default"}
    assert client.list_aliases("a")["aliases"] == ["x"]
    assert client.list_aliases()["aliases"] == ["x"]
    assert client.list_aliases("b")["aliases"] == []
    # every read and write takes the alias
    assert count(client, "x") == 10
    client.insert("x", [{"id": 50, "vector": [0.5] * 4}])
    assert count(client, "a") == 11
    assert [r["id"] for r in client.get("x", ids=[50])] == [50]
    assert len(client.search("x", [[0.5] * 4], limit=3)[0]) == 3
    client.delete("x", ids=[50])
    assert count(client, "a") == 10
    assert client.has_collection("x")
    d = client.describe_collection("x")
    assert d["collection_name"] == "a" and d["aliases"] == ["x"]
    assert sorted(client.list_collections()) == ["a", "b"]
    # the errors: one class in both modes
    with pytest.raises(libvdb.AlreadyExistsError):
        client.create_alias("b", "x")          # names another collection
    with pytest.raises(libvdb.AlreadyExistsError):
        client.create_alias("a", "b")          # a collection's name
    with pytest.raises(libvdb.NotFoundError):
        client.create_alias("nope", "y")
    with pytest.raises(libvdb.InvalidArgumentError):
        client.create_alias("x", "y")          # an alias of an alias
    with pytest.raises(libvdb.NotFoundError):
        client.alter_alias("a", "nope")
    with pytest.raises(libvdb.NotFoundError):
        client.drop_alias("nope")
    with pytest.raises(libvdb.NotFoundError):
        client.describe_alias("nope")
    with pytest.raises(libvdb.InvalidArgumentError):
        client.drop_collection("a")            # it has an alias
    with pytest.raises(libvdb.InvalidArgumentError):
        client.drop_collection("x")            # through an alias
    with pytest.raises(libvdb.InvalidArgumentError):
        client.create_alias("a", "")
    with pytest.raises(TypeError):
        client.create_alias("a", "z", shards=2)
    assert client.describe_alias("x")["collection_name"] == "a"
    # alter moves it at once
    client.alter_alias("b", "x")
    assert client.describe_alias("x")["collection_name"] == "b"
    assert count(client, "x") == 3
    assert client.list_aliases("a")["aliases"] == []
    client.drop_alias("x")
    assert client.list_aliases()["aliases"] == []
    client.drop_collection("a")
    assert client.list_collections() == ["b"]


def test_readers_through_an_alias_while_it_moves(client):
    make(client, "one", 5)
    make(client, "two", 9, first=100)
    client.create_alias("one", "live")
    stop = threading.Event()
    failures = []

    def swap():
        try:
            for i in range(60):
                client.alter_alias("two" if i % 2 == 0 else "one", "live")
        except Exception as e:  # noqa: BLE001 -- reported below
            failures.append(e)
        finally:
            stop.set()

    t = threading.Thread(target=swap)
    t.start()
    seen = set()
    reads = 0
    while not stop.is_set() or reads < 30:
        seen.add(count(client, "live"))
        reads += 1
    t.join()
    assert not failures, failures
    assert seen <= {5, 9}, seen
    assert client.describe_alias("live")["collection_name"] == "one"


def test_rename_collection(connect, mode):
    c = connect()
    make(c, "old", 6)
    make(c, "other")
    c.create_alias("old", "al")
    with pytest.raises(libvdb.AlreadyExistsError):
        c.rename_collection("old", "other")
    with pytest.raises(libvdb.AlreadyExistsError):
        c.rename_collection("other", "al")
    with pytest.raises(libvdb.NotFoundError):
        c.rename_collection("nope", "n2")
    with pytest.raises(libvdb.InvalidArgumentError):
        c.rename_collection("al", "n2")        # through an alias
    with pytest.raises(libvdb.InvalidArgumentError):
        c.rename_collection("old", "9bad")
    with pytest.raises(libvdb.NotFoundError):  # no such database
        c.rename_collection("old", "n2", target_db="db2")
    c.rename_collection("old", "renamed")
    assert not c.has_collection("old")
    assert count(c, "renamed") == 6
    assert c.describe_alias("al")["collection_name"] == "renamed"
    assert c.describe_collection("renamed")["collection_name"] == "renamed"
    c.insert("renamed", [{"id": 99, "vector": [0.1] * 4}])
    c.close()
    c = connect()  # embedded: the folder reopened
    assert sorted(c.list_collections()) == ["other", "renamed"]
    assert count(c, "al") == 7
    assert c.describe_alias("al")["collection_name"] == "renamed"
    c.drop_alias("al")
    c.drop_collection("renamed")
    c.close()


def test_truncate_collection(connect):
    c = connect()
    make(c, "t", 20)
    c.create_partition("t", "p1")
    c.insert("t", [{"id": 500, "vector": [0.2] * 4}], partition_name="p1")
    c.flush("t")
    c.insert("t", [{"id": 501, "vector": [0.3] * 4}])
    c.create_alias("t", "ta")
    indexes = c.list_indexes("t")
    assert count(c, "t") == 22
    c.truncate_collection("ta")
    assert count(c, "t") == 0
    assert c.search("t", [[0.2] * 4], limit=3) == [[]]
    assert sorted(c.list_partitions("t")) == ["_default", "p1"]
    assert c.list_indexes("t") == indexes
    assert c.describe_alias("ta")["collection_name"] == "t"
    with pytest.raises(libvdb.NotFoundError):
        c.truncate_collection("nope")
    c.insert("t", [{"id": 1, "vector": [0.4] * 4}, {"id": 2, "vector": [0.5] * 4}])
    assert count(c, "t") == 2
    c.close()
    c = connect()
    assert count(c, "t") == 2
    assert sorted(r["id"] for r in c.query("t", "id >= 0")) == [1, 2]
    c.close()
