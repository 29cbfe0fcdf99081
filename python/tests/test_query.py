"""Filters, query, count(*), delete by filter and indexes: the calls backed by vdb_query,
vdb_count, vdb_delete_where, the search filter and vdb_create_index / drop / describe."""

import pytest

import libvdb
from conftest import rand_vectors


def ids(rows):
    return sorted(r["id"] for r in rows)


def test_query_filter_output_fields(docs):
    rows = docs.query("docs", filter="id < 5", output_fields=["title", "color"])
    assert sorted(rows, key=lambda r: r["id"]) == [
        {"id": i, "title": "doc %d" % i, "color": ["red", "green"][i % 2]} for i in range(5)]
    assert ids(docs.query("docs", filter="year == 2003 and id < 50")) == [3, 13, 23, 33, 43]
    assert ids(docs.query("docs", filter='title like "doc 9%"')) == [9] + list(range(90, 100))
    assert ids(docs.query("docs", filter="id in [1, 2, 999]")) == [1, 2]
    assert ids(docs.query("docs", filter='color == "red" and id < 6')) == [0, 2, 4]  # dynamic
    assert ids(docs.query("docs", filter='meta["n"] >= 97')) == [97, 98, 99]
    assert ids(docs.query("docs", filter="array_contains(tags, 50)")) == [49, 50]
    assert ids(docs.query("docs", filter="score is null and id < 10")) == [0, 3, 6, 9]


def test_query_all_fields_by_default(docs):
    row = docs.query("docs", filter="id == 7")[0]
    assert row["title"] == "doc 7" and row["tags"] == [7, 8] and row["color"] == "green"
    assert len(row["vector"]) == 8


def test_query_limit_offset(docs):
    page1 = docs.query("docs", filter="id >= 0", limit=10, output_fields=["id"])
    page2 = docs.query("docs", filter="id >= 0", limit=10, offset=10, output_fields=["id"])
    assert len(page1) == 10 and len(page2) == 10
    assert not set(ids(page1)) & set(ids(page2))
    assert len(docs.query("docs", filter="", limit=7)) == 7  # no filter: a limit is needed
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.query("docs", filter="")


def test_query_ids_and_partitions(docs):
    assert ids(docs.query("docs", ids=[3, 4, 5], output_fields=["title"])) == [3, 4, 5]
    docs.create_partition("docs", "p")
    docs.insert("docs", [{"id": 900, "vector": [0] * 8, "title": "p", "tags": [],
                          "meta": {}}], partition_name="p")
    assert ids(docs.query("docs", filter="id > 0", partition_names=["p"])) == [900]


def test_count(docs):
    assert docs.query("docs", output_fields=["count(*)"]) == [{"count(*)": 100}]
    assert docs.query("docs", filter="id < 10", output_fields=["count(*)"]) == [{"count(*)": 10}]
    docs.delete("docs", ids=[0, 1])
    assert docs.query("docs", output_fields=["count(*)"])[0]["count(*)"] == 98
    assert docs.query("docs", output_fields="count(*)", filter="id < {n}",
                      filter_params={"n": 10}) == [{"count(*)": 8}]


@pytest.mark.embedded_only("time travel (vdb-server's REST API has no timestamps)")
def test_count_travel_timestamp(docs):
    t = docs.now()
    docs.delete("docs", ids=[0, 1])
    assert docs.query("docs", output_fields=["count(*)"], travel_timestamp=t) == \
        [{"count(*)": 100}]


@pytest.mark.embedded_only("time travel (vdb-server's REST API has no timestamps)")
def test_query_travel_timestamp(docs):
    t = docs.now()
    docs.delete("docs", ids=[1])
    assert ids(docs.query("docs", filter="id <= 2")) == [0, 2]
    assert ids(docs.query("docs", filter="id <= 2", travel_timestamp=t)) == [0, 1, 2]


def test_delete_by_filter(docs):
    r = docs.delete("docs", filter="id >= 90")
    assert r["delete_count"] == 10
    assert docs.get_collection_stats("docs")["row_count"] == 90
    assert docs.delete("docs", filter="id >= 90")["delete_count"] == 0
    assert docs.delete("docs", filter='color == "red"')["delete_count"] == 45


def test_search_with_filter(docs):
    hits = docs.search("docs", [docs.vecs[3]], limit=5, filter="id % 2 == 0",
                       output_fields=["title"])[0]
    assert len(hits) == 5 and all(h["id"] % 2 == 0 for h in hits)
    assert 3 not in [h["id"] for h in hits]
    assert docs.search("docs", [docs.vecs[3]], limit=5, filter="id > 1000")[0] == []


def test_bad_filter(docs):
    for bad in ("id >", "nosuchfield == 1 and", "id == 'x", "(id > 1"):
        with pytest.raises(libvdb.InvalidArgumentError) as e:
            docs.query("docs", filter=bad, limit=1)
        assert e.value.message
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.search("docs", [docs.vecs[0]], filter="id >")
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.delete("docs", filter="id >")
    assert docs.get_collection_stats("docs")["row_count"] == 100


def test_bitmap_and_array_indexes(docs):
    filters = ["year == 2003", "year in [2001, 2005] and id < 40", "year != 2000 and id < 15",
               "array_contains(tags, 50)", "array_contains_any(tags, [3, 77])",
               "array_contains_all(tags, [7, 8])", "not array_contains(tags, 1) and id < 5"]
    docs.flush("docs")
    before = [ids(docs.query("docs", filter=f)) for f in filters]
    docs.create_index("docs", "year", index_type="BITMAP")
    ip = docs.prepare_index_params()
    ip.add_index(field_name="tags", index_type="INVERTED")
    docs.create_index("docs", ip)
    assert docs.describe_index("docs", "year")["index_type"] == "BITMAP"
    assert docs.describe_index("docs", "tags")["index_type"] == "INVERTED"
    assert [ids(docs.query("docs", filter=f)) for f in filters] == before
    assert before[3] == [49, 50] and before[5] == [7]
    docs.drop_index("docs", "tags")
    docs.create_index("docs", "tags", index_type="BITMAP")
    assert docs.describe_index("docs", "tags")["index_type"] == "BITMAP"
    assert [ids(docs.query("docs", filter=f)) for f in filters] == before
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.create_index("docs", "id", index_type="BITMAP")  # the primary key


def test_indexes(docs):
    docs.create_index("docs", "year", index_type="STL_SORT")
    assert docs.describe_index("docs", "year")["index_type"] == "STL_SORT"
    ip = docs.prepare_index_params()
    ip.add_index(field_name="title", index_type="TRIE")
    docs.create_index("docs", ip)
    docs.create_index("docs", "id")  # AUTOINDEX
    assert sorted(docs.list_indexes("docs")) == ["id", "title", "year"]
    docs.flush("docs")  # indexes are built on sealed segments: results must not change
    assert ids(docs.query("docs", filter="year == 2003")) == list(range(3, 100, 10))
    assert ids(docs.query("docs", filter='title like "doc 9%"')) == [9] + list(range(90, 100))
    docs.drop_index("docs", "year")
    with pytest.raises(libvdb.NotFoundError):
        docs.describe_index("docs", "year")
    assert ids(docs.query("docs", filter="year == 2003")) == list(range(3, 100, 10))
    with pytest.raises(libvdb.UnsupportedError):
        docs.create_index("docs", "vector", index_type="DISKANN")
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.create_index("docs", "vector", index_type="IVF_FLAT", params={"nlist": 0})
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.create_index("docs", "vector", index_type="HNSW", params={"M": 1})
    docs.create_index("docs", "vector", index_type="HNSW",
                      params={"M": 16, "efConstruction": 100})
    assert docs.describe_index("docs", "vector")["index_type"] == "HNSW"
    with pytest.raises(libvdb.VdbError):
        docs.create_index("docs", "nosuchfield")


def test_vector_indexes_build_in_background_and_report_progress(client, mode):
    s = libvdb.Schema()
    s.add_field("id", libvdb.DataType.INT64, is_primary=True)
    s.add_field("vector", libvdb.DataType.FLOAT_VECTOR, dim=8, metric_type="L2")
    client.create_collection("v", schema=s)
    vecs = rand_vectors(2000, 8, seed=5)
    client.insert("v", [{"id": i, "vector": v} for i, v in enumerate(vecs)])
    client.flush("v")
    exact = client.search("v", vecs[:5], limit=10)
    client.create_index("v", "vector", index_type="IVF_FLAT", params={"nlist": 16})  # waits
    d = client.describe_index("v", "vector")
    assert d["index_type"] == "IVF_FLAT" and d["state"] == "Finished"
    assert d["indexed_rows"] == d["total_rows"] == 2000 and d["pending_index_rows"] == 0
    stats = client.get_collection_stats("v")
    if mode == "embedded":  # the library's own figures
        assert stats["indexed_rows"] == 2000 and stats["index_bytes"] > 0
        assert stats["failed_index_builds"] == 0
    # every list probed: the same answers as exact search
    got = client.search("v", vecs[:5], limit=10, search_params={"params": {"nprobe": 16}})
    assert [[h["id"] for h in q] for q in got] == [[h["id"] for h in q] for q in exact]
    # range search through search params: only scores inside the window
    r = client.search("v", vecs[:1], limit=50,
                      search_params={"params": {"nprobe": 16, "radius": 1.5,
                                                "range_filter": 0.5}})
    assert r[0] and all(0.5 <= h["distance"] < 1.5 for h in r[0])
    with pytest.raises(libvdb.InvalidArgumentError):
        client.search("v", vecs[:1], limit=5, search_params={"params": {"nprobe": 0}})
    with pytest.raises(libvdb.InvalidArgumentError):
        client.search("v", vecs[:1], limit=5,
                      search_params={"params": {"radius": 0.5, "range_filter": 1.5}})
    # without waiting: the build goes on in the background, wait_for_index_building_complete
    client.drop_index("v", "vector")
    client.create_index("v", "vector", index_type="HNSW", params={"M": 8}, sync=False)
    assert client.wait_for_index_building_complete("v", "vector", timeout=60)
    assert client.describe_index("v", "vector")["state"] == "Finished"
