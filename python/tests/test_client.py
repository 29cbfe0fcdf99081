"""libvdb.MilvusClient: every method against the documented behaviour (pymilvus MilvusClient
shape), embedded and remote (the `client` fixture runs each test in both modes)."""

import math
import os
import subprocess
import sys

import pytest

import libvdb
from libvdb import DataType

from conftest import rand_vectors


def l2(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b))


# ---- module, client lifecycle ---------------------------------------------------------------

def test_version_and_path(db_path):
    assert libvdb.library_version().count(".") == 2
    assert os.path.exists(libvdb.library_path()) or libvdb.library_path().startswith("libvdb")
    with libvdb.MilvusClient(db_path) as c:
        assert c.get_server_version() == libvdb.library_version()
        d = c.get_server_version(detail=True)
        assert d["version"] == libvdb.library_version() and d["deploy_mode"] == "EMBEDDED"


def test_context_manager_and_close(connect, mode):
    with connect() as c:
        assert not c.closed and c.mode == mode
        assert c.list_collections() == []
    assert c.closed
    c.close()  # idempotent
    with pytest.raises(libvdb.VdbError):
        c.list_collections()


def test_second_open_is_locked(db_path):
    with libvdb.Client(db_path):
        with pytest.raises(libvdb.LockedError) as e:
            libvdb.Client(db_path)
        assert e.value.status == libvdb.Status.ELOCKED
        assert e.value.status.name == "ELOCKED" and e.value.code == 8
        assert e.value.message


def test_unknown_option(connect):
    with pytest.raises(TypeError):
        connect(no_such_option=1)


# ---- collections ----------------------------------------------------------------------------

def test_quick_create_collection(client):
    client.create_collection("quick", dimension=4)
    assert client.has_collection("quick")
    assert not client.has_collection("nope")
    assert client.list_collections() == ["quick"]
    d = client.describe_collection("quick")
    assert d["collection_name"] == "quick"
    assert d["enable_dynamic_field"] is True
    assert d["auto_id"] is False
    assert d["num_shards"] == 1
    assert d["num_partitions"] == 1
    pk, vec = d["fields"]
    assert pk["name"] == "id" and pk["type"] == DataType.INT64 and pk["is_primary"]
    assert vec["name"] == "vector" and vec["type"] == DataType.FLOAT_VECTOR
    assert vec["params"]["dim"] == 4 and vec["params"]["metric_type"] == "COSINE"
    # the quick setup indexes the vector field (AUTOINDEX), as Milvus does
    assert client.list_indexes("quick") == ["vector"]
    idx = client.describe_index("quick", "vector")
    # a vector AUTOINDEX is exact search today: the library reports what it built
    assert idx["index_type"] == "FLAT" and idx["metric_type"] == "COSINE"
    assert idx["state"] == "Finished"


def test_quick_create_string_ids_and_options(client):
    client.create_collection("s", dimension=3, primary_field_name="pk", id_type="string",
                             vector_field_name="emb", metric_type="IP", max_length=32,
                             enable_dynamic_field=False, num_shards=2)
    d = client.describe_collection("s")
    assert d["fields"][0]["type"] == DataType.VARCHAR
    assert d["fields"][0]["params"]["max_length"] == 32
    assert d["fields"][1]["name"] == "emb"
    assert d["fields"][1]["params"]["metric_type"] == "IP"
    assert d["num_shards"] == 2
    assert d["enable_dynamic_field"] is False
    r = client.insert("s", [{"pk": "a", "emb": [1, 0, 0]}, {"pk": "b", "emb": [0, 1, 0]}])
    assert r["ids"] == ["a", "b"]
    hits = client.search("s", [1, 0, 0], limit=2)[0]
    assert [h["id"] for h in hits] == ["a", "b"]
    assert hits[0]["distance"] == pytest.approx(1.0)
    assert client.get("s", "b") == [{"pk": "b", "emb": [0.0, 1.0, 0.0]}]
    client.delete("s", ids=["a"])
    assert [r["pk"] for r in client.get("s", ["a", "b"])] == ["b"]


def test_create_twice_and_drop(client):
    client.create_collection("c", dimension=2)
    with pytest.raises(libvdb.AlreadyExistsError):
        client.create_collection("c", dimension=2)
    client.drop_collection("c")
    assert not client.has_collection("c")
    client.drop_collection("c")  # dropping what is not there succeeds, as in Milvus
    client.drop_collection("never_was")
    client.create_collection("c", dimension=3)  # same name, new schema: the cache is refreshed
    client.insert("c", [{"id": 1, "vector": [1, 2, 3]}])


def test_create_needs_dimension(client):
    with pytest.raises(libvdb.InvalidArgumentError):
        client.create_collection("c")


def test_full_schema_describe(docs):
    d = docs.describe_collection("docs")
    f = {x["name"]: x for x in d["fields"]}
    assert list(f) == ["id", "vector", "title", "year", "tags", "meta", "score"]
    assert f["title"]["params"]["max_length"] == 64
    assert f["year"]["default_value"] == 2024
    assert f["tags"]["type"] == DataType.ARRAY
    assert f["tags"]["element_type"] == DataType.INT64
    assert f["tags"]["params"]["max_capacity"] == 8
    assert f["meta"]["type"] == DataType.JSON
    assert f["score"]["nullable"] is True
    assert f["vector"]["params"]["metric_type"] == "L2"
    assert [x["field_id"] for x in d["fields"]] == list(range(100, 107))


def test_schema_builder_validation(client):
    s = libvdb.Schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=0)
    with pytest.raises(libvdb.InvalidArgumentError):
        client.create_collection("bad", schema=s)
    assert not client.has_collection("bad")
    with pytest.raises(libvdb.InvalidArgumentError):
        libvdb.Schema().add_field("x", "NOT_A_TYPE")


def test_create_schema_and_index_params_like_pymilvus(client):
    schema = client.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field(field_name="my_id", datatype=DataType.INT64, is_primary=True)
    schema.add_field(field_name="my_vector", datatype=DataType.FLOAT_VECTOR, dim=5)
    ip = client.prepare_index_params()
    ip.add_index(field_name="my_vector", index_type="AUTOINDEX", metric_type="IP")
    client.create_collection("cs", schema=schema, index_params=ip)
    d = client.describe_collection("cs")
    assert d["auto_id"] is True
    assert d["fields"][1]["params"]["metric_type"] == "IP"
    r = client.insert("cs", [{"my_vector": [1, 2, 3, 4, 5]}, {"my_vector": [5, 4, 3, 2, 1]}])
    assert r["insert_count"] == 2 and len(set(r["ids"])) == 2
    assert client.describe_index("cs", "my_vector")["metric_type"] == "IP"
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("cs", [{"my_vector": [1, 2, 3, 4, 5], "extra": 1}])  # dynamic off
    with pytest.raises(libvdb.InvalidArgumentError):
        client.upsert("cs", [{"my_id": 1, "my_vector": [1, 2, 3, 4, 5]}])  # auto_id
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("cs", [{"my_id": 1, "my_vector": [1, 2, 3, 4, 5]}])
    assert client.get_collection_stats("cs")["row_count"] == 2


def test_load_release_are_noops(client):
    client.create_collection("c", dimension=2)
    client.load_collection("c")
    client.release_collection("c")
    state = client.get_load_state("c")
    assert state == {"state": libvdb.LoadState.Loaded}
    assert state["state"] is libvdb.LoadState.Loaded and str(state["state"]) == "Loaded"
    assert client.get_load_state("c", partition_name="_default")["state"] == \
        libvdb.LoadState.Loaded
    for call in (lambda: client.load_collection("nope"), lambda: client.get_load_state("nope"),
                 lambda: client.get_load_state("c", partition_name="nope"),
                 lambda: client.load_partitions("c", ["nope"])):
        with pytest.raises(libvdb.NotFoundError):
            call()


# ---- partitions -----------------------------------------------------------------------------

def test_partitions(client):
    client.create_collection("c", dimension=2, metric_type="L2")
    assert client.list_partitions("c") == ["_default"]
    client.create_partition("c", "p1")
    assert client.has_partition("c", "p1")
    assert not client.has_partition("c", "p2")
    assert sorted(client.list_partitions("c")) == ["_default", "p1"]
    with pytest.raises(libvdb.AlreadyExistsError):
        client.create_partition("c", "p1")
    client.insert("c", [{"id": 1, "vector": [0, 0]}], partition_name="p1")
    client.insert("c", [{"id": 2, "vector": [0, 0.1]}])
    hits = client.search("c", [[0, 0]], limit=5, partition_names=["p1"])[0]
    assert [h["id"] for h in hits] == [1]
    assert [r["id"] for r in client.get("c", [1, 2], partition_names=["_default"])] == [2]
    assert client.describe_collection("c")["num_partitions"] == 2
    assert client.get_partition_stats("c", "p1") == {"row_count": 1}
    with pytest.raises(libvdb.VdbError):
        client.drop_partition("c", "_default")
    client.drop_partition("c", "p1")
    assert client.list_partitions("c") == ["_default"]
    assert client.get("c", [1, 2]) == [{"id": 2, "vector": pytest.approx([0, 0.1])}]
    with pytest.raises(libvdb.NotFoundError):
        client.insert("c", [{"id": 3, "vector": [0, 0]}], partition_name="p1")


# ---- writes ---------------------------------------------------------------------------------

def test_insert_returns_ids_and_timestamp(docs, mode):
    with pytest.raises(libvdb.InvalidArgumentError):  # None is NULL; meta is not nullable
        docs.insert("docs", [{"id": 1000, "vector": [0] * 8, "title": "x", "tags": [],
                              "meta": None}])
    r = docs.insert("docs", [{"id": 1000, "vector": [0] * 8, "title": "x", "tags": [],
                              "meta": "just a string", "score": 1.5}])
    assert r["insert_count"] == 1 and r["ids"] == [1000]
    r2 = docs.insert("docs", {"id": 1001, "vector": [0] * 8, "title": "y", "tags": [1],
                              "meta": [1, 2]})  # one dict is one row
    assert r2["ids"] == [1001]
    assert docs.get("docs", 1000, output_fields=["meta"]) == [{"id": 1000,
                                                               "meta": "just a string"}]
    if mode == "embedded":  # the write's timestamp (vdb-server's REST API gives none)
        assert 0 < r["timestamp"] < r2["timestamp"]
        assert docs.insert("docs", []) == {"insert_count": 0, "ids": [], "timestamp": 0}
    else:
        assert "timestamp" not in r
        assert docs.insert("docs", []) == {"insert_count": 0, "ids": []}


def test_values_round_trip(docs):
    row = docs.get("docs", 7)[0]
    assert row["id"] == 7
    assert row["vector"] == pytest.approx(docs.vecs[7], rel=1e-6)
    assert row["title"] == "doc 7"
    assert row["year"] == 2007
    assert row["tags"] == [7, 8]
    assert row["meta"] == {"n": 7, "even": False}
    assert row["score"] == 3.5
    assert row["color"] == "green"  # dynamic field, flattened as pymilvus does
    assert docs.get("docs", 6)[0]["score"] is None  # NULL
    assert "$meta" not in row


def test_defaults_and_nulls(docs):
    docs.insert("docs", [{"id": 500, "vector": [0] * 8, "title": "d", "tags": [], "meta": {}}])
    docs.insert("docs", [{"id": 501, "vector": [0] * 8, "title": "d", "tags": [], "meta": {},
                          "year": None, "score": None}])
    for r in docs.get("docs", [500, 501]):
        assert r["year"] == 2024 and r["score"] is None
    with pytest.raises(libvdb.InvalidArgumentError) as e:  # title is not nullable
        docs.insert("docs", [{"id": 502, "vector": [0] * 8, "title": None, "tags": [],
                              "meta": {}}])
    assert "title" in e.value.message


def test_all_scalar_types(client):
    s = libvdb.Schema(enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    for name, t in [("b", DataType.BOOL), ("i8", DataType.INT8), ("i16", DataType.INT16),
                    ("i32", DataType.INT32), ("i64", DataType.INT64), ("f", DataType.FLOAT),
                    ("d", DataType.DOUBLE), ("j", DataType.JSON)]:
        s.add_field(name, t, nullable=True)
    s.add_field("s", DataType.VARCHAR, max_length=16, nullable=True)
    s.add_field("a", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4,
                max_length=8, nullable=True)
    client.create_collection("t", schema=s)
    row = {"id": 1, "v": [1, 2], "b": True, "i8": -128, "i16": 32767, "i32": -2 ** 31,
           "i64": 2 ** 63 - 1, "f": 0.5, "d": 1e300, "j": {"k": ["x", 1, None]},
           "s": "héllo", "a": ["a", "bb"]}
    client.insert("t", [row, {"id": 2, "v": [0, 0]}])
    got = client.get("t", [1, 2])
    assert got[0] == row
    assert got[1] == {"id": 2, "v": [0.0, 0.0], **{k: None for k in row if k not in ("id", "v")}}
    assert isinstance(got[0]["b"], bool)
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("t", [{"id": 3, "v": [0, 0], "i8": 128}])  # out of range
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("t", [{"id": 3, "v": [0, 0], "i32": "7"}])
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("t", [{"id": 3, "v": [0, 0], "s": "x" * 17}])  # max_length
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("t", [{"id": 3, "v": [0, 0], "a": ["a"] * 5}])  # max_capacity
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("t", [{"id": 3, "v": [0, 0], "d": float("nan")}])
    assert client.get_collection_stats("t")["row_count"] == 2


def test_columns_input(client):
    client.create_collection("c", dimension=3, metric_type="L2")
    r = client.insert("c", {"id": [1, 2, 3], "vector": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                            "tag": ["a", "b", "c"]})
    assert r["ids"] == [1, 2, 3]
    assert client.get("c", 2, output_fields=["tag"]) == [{"id": 2, "tag": "b"}]
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("c", {"id": [4, 5], "vector": [[1, 0, 0]]})


def test_dynamic_fields(client):
    client.create_collection("c", dimension=2, metric_type="L2")
    client.insert("c", [{"id": 1, "vector": [0, 0], "color": "red", "n": 1},
                        {"id": 2, "vector": [1, 1], "size": {"w": 2}},
                        {"id": 3, "vector": [2, 2], "$meta": {"x": 1}, "y": 2}])
    assert client.get("c", 1, output_fields=["color", "n"]) == [{"id": 1, "color": "red",
                                                                 "n": 1}]
    assert client.get("c", 2, output_fields=["color"]) == [{"id": 2}]  # the key is absent
    assert client.get("c", 2, output_fields=["size"]) == [{"id": 2, "size": {"w": 2}}]
    assert client.get("c", 3, output_fields=["$meta"]) == [{"id": 3, "x": 1, "y": 2}]
    hits = client.search("c", [[0, 0]], limit=1, output_fields=["color"])[0]
    assert hits == [{"id": 1, "distance": 0.0, "entity": {"color": "red"}}]


def test_upsert(docs):
    r = docs.upsert("docs", [{"id": 5, "vector": [9] * 8, "title": "new five", "tags": [],
                              "meta": {}}, {"id": 5000, "vector": [8] * 8, "title": "new",
                                            "tags": [], "meta": {}}])
    assert r["upsert_count"] == 2 and r["ids"] == [5, 5000]
    assert docs.get("docs", 5, output_fields=["title"]) == [{"id": 5, "title": "new five"}]
    assert docs.get_collection_stats("docs")["row_count"] == 101
    hits = docs.search("docs", [[9] * 8], limit=1)[0]
    assert hits[0]["id"] == 5 and hits[0]["distance"] == 0


def test_delete_by_ids(docs):
    r = docs.delete("docs", ids=[1, 2, 99999])
    assert r["delete_count"] == 3
    assert [x["id"] for x in docs.get("docs", [1, 2, 3])] == [3]
    assert docs.get_collection_stats("docs")["row_count"] == 98
    docs.delete("docs", ids=4)
    assert docs.get("docs", 4) == []
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.delete("docs")
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.delete("docs", ids=[1], filter="id > 1")
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.delete("docs", ids=["x"])


def test_flush_compact_stats(docs, mode):
    st = docs.get_collection_stats("docs")
    assert st["row_count"] == 100
    if mode == "embedded":  # the library's own figures; vdb-server's REST gives rowCount
        assert st["growing_rows"] == 100
    else:
        assert st == {"row_count": 100}
    docs.flush("docs")
    st = docs.get_collection_stats("docs")
    assert st["row_count"] == 100
    if mode == "embedded":
        assert st["sealed_segments"] >= 1 and st["growing_rows"] == 0
    docs.flush()
    assert docs.compact("docs") == 0 and docs.get_compaction_state(0) == "Completed"
    assert docs.get_collection_stats("docs")["row_count"] == 100


# ---- reads ----------------------------------------------------------------------------------

def test_get_output_fields_order_missing(docs):
    got = docs.get("docs", [10, 424242, 3], output_fields=["title"])
    assert got == [{"id": 10, "title": "doc 10"}, {"id": 3, "title": "doc 3"}]
    assert docs.get("docs", []) == []
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.get("docs", ["not an int"])


def test_search_lists(docs):
    q = [docs.vecs[3], docs.vecs[50]]
    res = docs.search("docs", q, limit=5, output_fields=["title", "year"])
    assert len(res) == 2 and all(len(h) == 5 for h in res)
    for qi, hits in zip((3, 50), res):
        assert hits[0]["id"] == qi and hits[0]["distance"] == pytest.approx(0, abs=1e-5)
        assert hits[0]["entity"] == {"title": "doc %d" % qi, "year": 2000 + qi % 10}
        exact = sorted(range(100), key=lambda i: l2(docs.vecs[i], docs.vecs[qi]))[:5]
        assert [h["id"] for h in hits] == exact
        ds = [h["distance"] for h in hits]
        assert ds == sorted(ds)
        assert ds[1] == pytest.approx(l2(docs.vecs[exact[1]], docs.vecs[qi]), rel=1e-4)
    single = docs.search("docs", docs.vecs[3], limit=2)  # one vector, not a list of them
    assert len(single) == 1 and single[0][0]["id"] == 3 and single[0][0]["entity"] == {}
    assert len(docs.search("docs", q, limit=1000)[0]) == 100
    everything = docs.search("docs", [docs.vecs[3]], limit=1, output_fields=["*"])[0][0]
    assert everything["entity"]["color"] == "green" and everything["entity"]["id"] == 3


def test_search_params_and_anns_field(docs):
    hits = docs.search("docs", [docs.vecs[0]], limit=1, anns_field="vector",
                       search_params={"metric_type": "L2", "params": {"ef": 64}})[0]
    assert hits[0]["id"] == 0
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.search("docs", [docs.vecs[0]], search_params={"metric_type": "IP"})
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.search("docs", [docs.vecs[0]], anns_field="title")
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.search("docs", [docs.vecs[0]], limit=0)


def test_consistency_levels(docs):
    for level in ("Strong", "Session", "Eventually", "strong", 0, 1, 3):
        hits = docs.search("docs", [docs.vecs[1]], limit=1, consistency_level=level)[0]
        assert hits[0]["id"] == 1
        assert docs.get("docs", 1, output_fields=["title"], consistency_level=level) == \
            [{"id": 1, "title": "doc 1"}]
        assert len(docs.query("docs", "id < 3", consistency_level=level)) == 3
    for bad in ("Sometimes", 7, 1.5):
        with pytest.raises(libvdb.InvalidArgumentError):
            docs.search("docs", [docs.vecs[1]], consistency_level=bad)


@pytest.mark.embedded_only("staleness_ms (vdb-server reads Bounded as Strong)")
def test_bounded_staleness(docs):
    # bounded reads as of now - staleness: the rows were inserted moments ago
    assert docs.search("docs", [docs.vecs[1]], limit=1, consistency_level="Bounded",
                       staleness_ms=600000) == [[]]
    assert docs.get("docs", 1, consistency_level="Bounded", staleness_ms=600000) == []
    hits = docs.search("docs", [docs.vecs[1]], limit=1, consistency_level="Bounded",
                       staleness_ms=0)[0]
    assert hits[0]["id"] == 1
    with pytest.raises(libvdb.InvalidArgumentError):  # staleness is Bounded's alone
        docs.get("docs", 1, staleness_ms=10)
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.get("docs", 1, consistency_level="Strong", staleness_ms=10)
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.get("docs", 1, consistency_level="Strong", travel_timestamp=docs.now())


@pytest.mark.embedded_only("time travel (vdb-server's REST API has no timestamps)")
def test_time_travel(client):
    client.create_collection("c", dimension=2, metric_type="L2")
    t_ins = client.insert("c", [{"id": 1, "vector": [0, 0], "v": 1}])["timestamp"]
    t_mid = client.now()
    assert t_mid > t_ins
    client.upsert("c", [{"id": 1, "vector": [0, 0], "v": 2}])
    t_del = client.delete("c", ids=[1])["timestamp"]
    assert client.get("c", 1) == []
    assert client.get("c", 1, output_fields=["v"], travel_timestamp=t_mid) == [{"id": 1, "v": 1}]
    assert client.get("c", 1, output_fields=["v"], travel_timestamp=t_del - 1) == \
        [{"id": 1, "v": 2}]
    assert client.search("c", [[0, 0]], limit=1)[0] == []
    hits = client.search("c", [[0, 0]], limit=1, travel_timestamp=t_mid, output_fields=["v"])
    assert hits[0][0]["entity"] == {"v": 1}
    with pytest.raises(libvdb.RangeError):
        client.get("c", 1, travel_timestamp=1)  # far older than the retention window


def test_close_reopen_round_trip(connect):
    vecs = rand_vectors(50, 4)
    with connect() as c:
        c.create_collection("c", dimension=4, metric_type="L2")
        c.insert("c", [{"id": i, "vector": vecs[i], "name": "n%d" % i} for i in range(30)])
        c.flush("c")
        c.insert("c", [{"id": i, "vector": vecs[i], "name": "n%d" % i} for i in range(30, 50)])
        c.delete("c", ids=[0])
        before = c.describe_collection("c")
    with connect() as c:
        assert c.list_collections() == ["c"]
        assert c.describe_collection("c") == before
        assert c.get_collection_stats("c")["row_count"] == 49
        assert c.get("c", [0, 1, 45], output_fields=["name"]) == [{"id": 1, "name": "n1"},
                                                                   {"id": 45, "name": "n45"}]
        assert c.search("c", [vecs[45]], limit=1)[0][0]["id"] == 45


# ---- errors -------------------------------------------------------------------------------

def test_unknown_collection(client):
    for call in (lambda: client.describe_collection("nope"),
                 lambda: client.insert("nope", [{"id": 1}]),
                 lambda: client.search("nope", [[1.0]]),
                 lambda: client.get("nope", [1]),
                 lambda: client.get_collection_stats("nope"),
                 lambda: client.list_partitions("nope"),
                 lambda: client.create_partition("nope", "p")):
        with pytest.raises(libvdb.NotFoundError) as e:
            call()
        assert e.value.status == libvdb.Status.ENOTFOUND
        assert "nope" in e.value.message


def test_wrong_dimension(client):
    client.create_collection("c", dimension=4)
    with pytest.raises(libvdb.InvalidArgumentError) as e:
        client.insert("c", [{"id": 1, "vector": [1, 2, 3]}])
    assert "dim" in e.value.message
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("c", [{"id": 1, "vector": [1, 2, 3, 4]}, {"id": 2, "vector": [1, 2]}])
    client.insert("c", [{"id": 1, "vector": [1, 2, 3, 4]}])
    with pytest.raises(libvdb.InvalidArgumentError) as e:
        client.search("c", [[1, 2, 3]])
    assert e.value.code == 1 and isinstance(e.value, ValueError)
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("c", [{"id": 2}])  # no vector
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("c", [[1, 2, 3, 4]])  # not a dict


def test_nan_vector(client):
    client.create_collection("c", dimension=2)
    with pytest.raises(libvdb.InvalidArgumentError) as e:
        client.insert("c", [{"id": 1, "vector": [math.nan, 0]}])
    assert "NaN" in e.value.message
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("c", [{"id": 1, "vector": [math.inf, 0]}])
    client.insert("c", [{"id": 1, "vector": [1, 0]}])
    with pytest.raises(libvdb.InvalidArgumentError):
        client.search("c", [[math.nan, 0]])
    assert client.get_collection_stats("c")["row_count"] == 1


def test_failed_write_changes_nothing(docs):
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.insert("docs", [{"id": 700, "vector": [0] * 8, "title": "ok", "tags": [],
                              "meta": {}},
                             {"id": 701, "vector": [0] * 7, "title": "bad", "tags": [],
                              "meta": {}}])
    assert docs.get("docs", [700, 701]) == []


def test_error_pickles():
    import pickle
    e = pickle.loads(pickle.dumps(libvdb.NotFoundError(2, "gone")))
    assert isinstance(e, libvdb.NotFoundError) and e.message == "gone" and e.code == 2


def test_missing_library_reports_path(tmp_path):
    env = dict(os.environ, LIBVDB_PATH=str(tmp_path / "no-such-libvdb.so"),
               PYTHONPATH=os.path.dirname(os.path.dirname(libvdb.__file__)))
    p = subprocess.run([sys.executable, "-c", "import libvdb; libvdb.Client('x')"], env=env,
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert p.returncode != 0 and "LIBVDB_PATH" in p.stderr


def test_mmap_options(db_path, tmp_path):
    """mmap, mmap_cache_dir and mmap_cache_bytes reach vdb_options: sealed vectors are read
    through files in the named cache folder, and answers equal those without mmap."""
    rows = [{"id": i, "vector": [float(i % 7), float(i % 5), 1.0]} for i in range(300)]
    cache = tmp_path / "cache"
    with libvdb.MilvusClient(db_path) as c:
        c.create_collection("m", dimension=3, metric_type="L2")
        c.insert("m", rows)
        c.flush("m")
        want = c.search("m", [[1.0, 2.0, 1.0]], limit=5)[0]
    with libvdb.MilvusClient(db_path, mmap=True, mmap_cache_dir=str(cache),
                             mmap_cache_bytes=1 << 30) as c:
        got = c.search("m", [[1.0, 2.0, 1.0]], limit=5)[0]
        assert [h["id"] for h in got] == [h["id"] for h in want]
        assert any(cache.iterdir()), "no file in the mmap cache folder"
