"""Databases (create_database, drop_database, list_databases, describe_database,
using_database, MilvusClient(db_name=...)), in both modes: namespaces of collections and
aliases, Milvus's errors, and what survives a new client."""

import pytest

import libvdb

from conftest import rand_vectors


def make(client, name, n=0, first=0):
    client.create_collection(name, dimension=4)
    if n:
        vecs = rand_vectors(n, 4, seed=first + 1)
        client.insert(name, [{"id": first + i, "vector": vecs[i]} for i in range(n)])


def count(client, name):
    return client.query(name, "", output_fields=["count(*)"])[0]["count(*)"]


@pytest.fixture
def clean(client):
    yield client
    if client.closed:  # the test closed it (embedded: to open the folder again)
        return
    client.using_database("default")
    for db in client.list_databases():
        if db == "default":
            continue
        client.using_database(db)
        for a in client.list_aliases()["aliases"]:
            client.drop_alias(a)
        for c in client.list_collections():
            client.drop_collection(c)
        client.using_database("default")
        client.drop_database(db)


def test_databases(clean, connect, mode):
    client = clean
    assert client.list_databases() == ["default"]
    make(client, "a", 3)
    client.create_database("db2")
    with pytest.raises(libvdb.VdbError):
        client.create_database("db2")
    with pytest.raises(libvdb.VdbError):
        client.create_database("default")
    assert client.list_databases() == ["default", "db2"]
    assert client.describe_database("db2")["name"] == "db2"
    with pytest.raises(libvdb.NotFoundError):
        client.describe_database("nope")
    with pytest.raises(libvdb.NotFoundError):
        client.using_database("nope")

    client.using_database("db2")
    assert client.db_name == "db2"
    assert client.list_collections() == []
    make(client, "a", 5, first=100)  # the same name, another collection
    make(client, "b")
    client.create_alias("a", "x")
    assert count(client, "a") == 5 and count(client, "x") == 5
    assert sorted(client.list_collections()) == ["a", "b"]
    assert client.list_aliases()["aliases"] == ["x"]
    assert client.describe_alias("x") == {"alias": "x", "collection_name": "a",
                                          "db_name": "db2"}
    assert client.describe_collection("a")["collection_name"] == "a"
    assert client.describe_collection("x")["aliases"] == ["x"]
    client.rename_collection("b", "c")
    assert sorted(client.list_collections()) == ["a", "c"]
    with pytest.raises(libvdb.VdbError):
        client.drop_database("db2")  # not empty

    client.using_database("default")
    assert client.list_collections() == ["a"]
    assert count(client, "a") == 3
    assert client.list_aliases()["aliases"] == []
    with pytest.raises(libvdb.VdbError):
        client.drop_database("default")
    with pytest.raises(libvdb.NotFoundError):
        client.drop_database("nope")

    # a new client (embedded: a reopen) on db2 sees it as it was
    if mode == "embedded":
        client.close()
    other = connect(db_name="db2")
    try:
        assert sorted(other.list_collections()) == ["a", "c"]
        assert count(other, "x") == 5
        other.drop_alias("x")
        other.drop_collection("a")
        other.drop_collection("c")
        other.using_database("default")
        other.drop_database("db2")
        assert other.list_databases() == ["default"]
        assert count(other, "a") == 3
    finally:
        other.close()


def test_rename_to_another_database(clean):
    client = clean
    client.create_database("db3")
    make(client, "m", 4)
    client.rename_collection("m", "m2", target_db="db3")
    assert "m" not in client.list_collections()
    client.using_database("db3")
    assert client.list_collections() == ["m2"]
    assert count(client, "m2") == 4
    with pytest.raises(libvdb.NotFoundError):
        client.rename_collection("m2", "m3", target_db="nope")
