"""Collection properties in both modes: alter_collection_properties,
drop_collection_properties and describe_collection's "properties" as pymilvus has them;
collection.ttl.seconds hides expired rows; unsupported keys and bad values are refused and
change nothing."""

import time

import pytest

import libvdb

from conftest import rand_vectors

TTL = "collection.ttl.seconds"


def count(client, name):
    return client.query(name, "", output_fields=["count(*)"])[0]["count(*)"]


def test_alter_drop_describe(client, connect, mode):
    client.create_collection("p", dimension=4)
    assert client.describe_collection("p")["properties"] == {}
    client.alter_collection_properties("p", {TTL: 3600})
    assert client.describe_collection("p")["properties"] == {TTL: "3600"}
    for bad in (-1, "abc", 1.5):
        with pytest.raises(libvdb.InvalidArgumentError):
            client.alter_collection_properties("p", {TTL: bad})
    with pytest.raises(libvdb.InvalidArgumentError, match="mmap.enabled"):
        client.alter_collection_properties("p", {"mmap.enabled": "yes"})
    with pytest.raises(libvdb.UnsupportedError):
        client.alter_collection_properties("p", {"partitionkey.isolation": True})
    with pytest.raises(libvdb.InvalidArgumentError):
        client.alter_collection_properties("p", {})
    with pytest.raises(libvdb.InvalidArgumentError):
        client.drop_collection_properties("p", TTL)  # a string, not a list
    with pytest.raises(libvdb.NotFoundError):
        client.alter_collection_properties("nope", {TTL: 5})
    assert client.describe_collection("p")["properties"] == {TTL: "3600"}
    if mode == "embedded":  # kept in the collection's meta record
        client.close()
        client = connect()
    assert client.describe_collection("p")["properties"] == {TTL: "3600"}
    client.drop_collection_properties("p", [TTL, "mmap.enabled"])  # not set: no error
    assert client.describe_collection("p")["properties"] == {}
    if mode == "embedded":
        client.close()


def test_ttl_hides_old_rows(client):
    client.create_collection("t", dimension=4)
    vecs = rand_vectors(20, 4)
    client.insert("t", [{"id": i, "vector": vecs[i]} for i in range(10)])
    client.alter_collection_properties("t", {TTL: 1})
    time.sleep(2)  # past the TTL
    client.insert("t", [{"id": i, "vector": vecs[i]} for i in range(10, 20)])
    assert count(client, "t") == 10
    assert sorted(r["id"] for r in client.query("t", "id >= 0")) == list(range(10, 20))
    assert client.get("t", ids=[0, 15])[0]["id"] == 15
    hits = client.search("t", [vecs[0]], limit=20)[0]
    assert sorted(h["id"] for h in hits) == list(range(10, 20))
    client.drop_collection_properties("t", [TTL])  # not compacted: all visible again
    assert count(client, "t") == 20
