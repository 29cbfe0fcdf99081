"""What a pymilvus user relies on, in both modes: kwargs honoured or refused (never ignored),
offset paging, filter templates, round_decimal, consistency levels, LoadState, index names,
quick setup, drop of a missing collection, per-row index progress, the remote uri."""

import os

import pytest

import libvdb
from libvdb import DataType

from conftest import TOKEN, rand_vectors


def ids(rows):
    return sorted(r["id"] for r in rows)


# ---- offset ---------------------------------------------------------------------------------

def test_search_offset_pages_are_distinct_and_in_order(docs):
    q = [docs.vecs[7]]
    whole = docs.search("docs", q, limit=30)[0]
    pages = [docs.search("docs", q, limit=10, offset=o)[0] for o in (0, 10, 20)]
    assert [h["id"] for p in pages for h in p] == [h["id"] for h in whole]
    assert len({h["id"] for p in pages for h in p}) == 30
    assert pages[1][0]["distance"] >= pages[0][-1]["distance"]  # L2: farther on later pages
    # offset inside search_params, as pymilvus also takes it
    assert docs.search("docs", q, limit=10, search_params={"offset": 10})[0] == pages[1]
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.search("docs", q, limit=10, offset=5, search_params={"offset": 5})
    # past the end: fewer hits, then none
    assert len(docs.search("docs", q, limit=10, offset=95)[0]) == 5
    assert docs.search("docs", q, limit=10, offset=100)[0] == []
    # several queries page independently
    two = docs.search("docs", [docs.vecs[1], docs.vecs[2]], limit=3, offset=1)
    assert [h["id"] for h in two[0]] == [h["id"] for h in
                                         docs.search("docs", [docs.vecs[1]], limit=4)[0][1:]]
    assert len(two[1]) == 3


def test_offset_and_limit_bounds(docs):
    q = [docs.vecs[0]]
    assert len(docs.search("docs", q, limit=16384)[0]) == 100
    for bad in (dict(limit=16000, offset=385), dict(limit=16385), dict(limit=10, offset=-1),
                dict(limit=10, offset=1.5), dict(limit=0), dict(limit=True)):
        with pytest.raises(libvdb.InvalidArgumentError):
            docs.search("docs", q, **bad)
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.query("docs", "id >= 0", limit=16000, offset=385)


def test_query_offset_pages_are_distinct(docs):
    pages = [docs.query("docs", "id >= 0", limit=25, offset=o, output_fields=["id"])
             for o in (0, 25, 50, 75)]
    got = [r["id"] for p in pages for r in p]
    assert sorted(got) == list(range(100)) and len(set(got)) == 100
    assert docs.query("docs", "id >= 0", limit=25, offset=100) == []


# ---- filter templates -------------------------------------------------------------------------

def test_filter_params_numbers_lists_bools(docs):
    assert ids(docs.query("docs", "id < {n}", filter_params={"n": 5})) == [0, 1, 2, 3, 4]
    assert ids(docs.query("docs", "id in {keys}", filter_params={"keys": [3, 1, 4]})) == \
        [1, 3, 4]
    assert ids(docs.query("docs", "score > {s} and id < {n}",
                          filter_params={"s": 40.25, "n": 90})) == \
        [i for i in range(81, 90) if i % 3]
    assert ids(docs.query("docs", 'meta["even"] == {b} and id < 6',
                          filter_params={"b": True})) == [0, 2, 4]
    assert ids(docs.query("docs", "id > {neg} and id < { n }",
                          filter_params={"neg": -3, "n": 2})) == [0, 1]
    hits = docs.search("docs", [docs.vecs[3]], limit=5, filter="id in {k}",
                       filter_params={"k": [3, 50]})[0]
    assert sorted(h["id"] for h in hits) == [3, 50]
    assert docs.delete("docs", filter="id >= {n}", filter_params={"n": 98})["delete_count"] == 2
    assert docs.get_collection_stats("docs")["row_count"] == 98


def test_filter_params_strings_are_quoted_and_escaped(client):
    client.create_collection("s", dimension=2, metric_type="L2")
    titles = ['plain', 'say "hi"', "it's", 'back\\slash', 'two\nlines', 'tab\there',
              '{n} braces', 'é ü 漢', '" or id >= 0 or title == "']
    client.insert("s", [{"id": i, "vector": [i, 0], "title": t} for i, t in enumerate(titles)])
    for i, t in enumerate(titles):
        rows = client.query("s", "title == {t}", filter_params={"t": t},
                            output_fields=["title"])
        assert rows == [{"id": i, "title": t}], t  # exactly one row: no value escapes its quotes
    assert ids(client.query("s", "title in {ts}", filter_params={"ts": titles[:3]})) == \
        [0, 1, 2]
    assert ids(client.query("s", "title like {p}", filter_params={"p": "t%"})) == [4, 5]
    # a {name} inside a string literal of the filter is text, not a template
    assert ids(client.query("s", 'title == "{n} braces"', filter_params={"n": 1})) == [6]
    assert ids(client.query("s", "title == '{n} braces' or id == {n}",
                            filter_params={"n": 0})) == [0, 6]


def test_filter_params_errors(docs):
    with pytest.raises(libvdb.InvalidArgumentError) as e:
        docs.query("docs", "id < {n}", filter_params={"m": 1})
    assert "{n}" in e.value.message
    for bad in ({"n": float("nan")}, {"n": None}, {"n": {"a": 1}}, {"n": 2 ** 64}):
        with pytest.raises(libvdb.InvalidArgumentError):
            docs.query("docs", "id < {n}", filter_params=bad)
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.query("docs", "id < {n}", filter_params=[1])
    with pytest.raises(libvdb.InvalidArgumentError):  # no template: the parser says what is
        docs.query("docs", "id < {n}", limit=1)      # wrong with "{", as before
    assert docs.get_collection_stats("docs")["row_count"] == 100


# ---- search options ---------------------------------------------------------------------------

def half_away(x, n):
    """round_decimal's rule (the C API's and the server's): half away from zero"""
    import math
    m = 10.0 ** n
    return math.copysign(math.floor(abs(x) * m + 0.5) / m, x)


def test_round_decimal(docs):
    q = [docs.vecs[2]]
    raw = docs.search("docs", q, limit=5)[0]
    for n in (0, 2, 6):
        got = docs.search("docs", q, limit=5, round_decimal=n)[0]
        assert [h["id"] for h in got] == [h["id"] for h in raw]
        assert [h["distance"] for h in got] == [half_away(h["distance"], n) for h in raw]
    assert docs.search("docs", q, limit=5, round_decimal=-1)[0] == raw
    for bad in (7, -2, 1.5, "2"):
        with pytest.raises(libvdb.InvalidArgumentError):
            docs.search("docs", q, round_decimal=bad)


def test_round_decimal_ties_round_away_from_zero(client):
    # L2 distances 0.25 and 0.5 exactly: Python's round() would give 0.2 and 0 (half to even)
    client.create_collection("t", dimension=2, metric_type="L2")
    client.insert("t", [{"id": 0, "vector": [0.5, 0]}, {"id": 1, "vector": [0, -0.5]}])
    hits = client.search("t", [[0, 0]], limit=2, output_fields=[])[0]
    raw = sorted(h["distance"] for h in hits)
    assert raw == [0.25, 0.25]  # squared L2, as Milvus
    got = client.search("t", [[0, 0]], limit=2, round_decimal=1)[0]
    assert all(h["distance"] == half_away(0.25, 1) for h in got)   # 0.3
    assert half_away(0.25, 1) > round(0.25, 1)


def test_unknown_kwargs_are_type_errors(docs, connect):
    q = [docs.vecs[0]]
    for call in (lambda: docs.search("docs", q, limt=3),
                 lambda: docs.query("docs", "id > 1", no_such=1),
                 lambda: docs.get("docs", 1, outputfields=["x"]),
                 lambda: docs.insert("docs", [], partition="p"),
                 lambda: docs.delete("docs", ids=[1], filtr="x"),
                 lambda: docs.create_collection("x", dimension=2, dim=2),
                 lambda: docs.drop_collection("x", force=True),
                 lambda: docs.describe_collection("docs", verbose=True),
                 lambda: docs.create_index("docs", "year", idx_type="STL_SORT"),
                 lambda: docs.flush("docs", sync=True),
                 lambda: docs.list_collections(db="x"),
                 lambda: connect(no_such_option=1),
                 lambda: libvdb.Schema(shards=2),
                 lambda: libvdb.Schema().add_field("f", DataType.INT64, is_primry=True)):
        with pytest.raises(TypeError):
            call()
    assert not docs.has_collection("x")
    # add_index's other keyword arguments are index parameters (as pymilvus): checked there
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.create_index("docs", docs.prepare_index_params("year", index_type="STL_SORT",
                                                            bad_kw=1))


def test_pymilvus_features_libvdb_lacks_are_refused(docs):
    q = [docs.vecs[0]]
    refused = [
        lambda: docs.search("docs", q, ranker=object()),
        lambda: docs.search("docs", q, ignore_growing=True),
        lambda: docs.search("docs", q, search_params={"ignore_growing": True}),
        lambda: docs.search("docs", q, order_by_fields=[{"field": "year"}]),
        lambda: docs.query("docs", "id > 1", guarantee_timestamp=123),
        lambda: docs.upsert("docs", [], partial_update=True),
        lambda: docs.compact("docs", is_clustering=True),
        lambda: docs.create_collection("x", dimension=2,
                                       properties={"collection.replica.number": 2}),
        lambda: libvdb.Schema().add_field("g", DataType.GEOMETRY),
        lambda: docs.create_privilege_group("g"),
        lambda: docs.grant_privilege_v2("r", "Search", "c"),
        lambda: docs.alter_collection_properties("docs", {"a": 1}),
        lambda: docs.load_collection("docs", replica_number=2),
        lambda: docs.load_collection("docs", load_fields=["title"]),
        lambda: docs.load_partitions("docs", ["_default"], resource_groups=["rg"]),
    ]
    for call in refused:
        with pytest.raises(libvdb.UnsupportedError) as e:
            call()
        assert e.value.status == libvdb.Status.EUNSUPPORTED and e.value.message
    # the same options switched off are fine (wrappers pass them so)
    assert len(docs.search("docs", q, limit=2, group_by_field=None, ranker=None,
                           ignore_growing=False)[0]) == 2
    docs.load_collection("docs", replica_number=1, refresh=True)
    assert not docs.has_collection("x") and docs.has_collection("docs")
    assert docs.list_databases() == ["default"]
    docs.use_database("default")
    with pytest.raises(libvdb.NotFoundError):
        docs.use_database("other")


# ---- consistency levels ---------------------------------------------------------------------

def test_consistency_level_of_a_collection(client):
    client.create_collection("c", dimension=2, metric_type="L2", consistency_level="Eventually")
    assert client.describe_collection("c")["consistency_level"] == 3
    client.insert("c", [{"id": 1, "vector": [0, 0]}])
    assert client.get("c", 1, output_fields=["id"]) == [{"id": 1}]
    client.create_collection("d", dimension=2, consistency_level="Strong")
    assert client.describe_collection("d")["consistency_level"] == 0
    client.drop_collection("c")
    client.create_collection("c", dimension=2)  # a new collection: the default again
    assert client.describe_collection("c")["consistency_level"] == 0
    with pytest.raises(libvdb.InvalidArgumentError):
        client.create_collection("e", dimension=2, consistency_level="Customized")
    assert not client.has_collection("e")


@pytest.mark.embedded_only("the Bounded staleness window (vdb-server reads Bounded as Strong)")
def test_collection_consistency_level_is_the_default_of_its_reads(client):
    client.create_collection("b", dimension=2, metric_type="L2", consistency_level="Bounded")
    client.insert("b", [{"id": 1, "vector": [0, 0]}])
    assert client.get("b", 1) == []  # Bounded: as of 5 s ago, before the insert
    assert client.search("b", [[0, 0]], limit=1) == [[]]
    assert client.get("b", 1, output_fields=["id"], consistency_level="Strong") == [{"id": 1}]
    client.create_collection("s", dimension=2, metric_type="L2")
    client.insert("s", [{"id": 1, "vector": [0, 0]}])
    assert client.get("s", 1, output_fields=["id"]) == [{"id": 1}]  # Strong


# ---- collections and indexes --------------------------------------------------------------------

def test_drop_of_a_missing_collection_succeeds(client):
    client.drop_collection("nothing_here")
    client.create_collection("c", dimension=2)
    client.drop_collection("c")
    client.drop_collection("c")
    assert client.list_collections() == []
    with pytest.raises(libvdb.InvalidArgumentError):
        client.drop_collection("")


def test_quick_setup_and_schema_arguments_do_not_mix(client):
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    for kw in (dict(schema=s, dimension=2), dict(schema=s, auto_id=True),
               dict(schema=s, id_type="string"), dict(schema=s, max_length=5),
               dict(dimension=2, index_params=client.prepare_index_params("vector")),
               dict(dimension="2"), dict()):
        with pytest.raises(libvdb.InvalidArgumentError):
            client.create_collection("x", **kw)
    assert not client.has_collection("x")


def test_quick_setup_indexes_and_searches(client):
    client.create_collection("q", dimension=3, metric_type="IP")
    assert client.list_indexes("q") == ["vector"]
    d = client.describe_index("q", "vector")
    assert d["field_name"] == d["index_name"] == "vector" and d["metric_type"] == "IP"
    client.insert("q", [{"id": 1, "vector": [1, 0, 0]}, {"id": 2, "vector": [0, 1, 0]}])
    assert client.search("q", [1, 0, 0], limit=1)[0][0]["id"] == 1
    with pytest.raises(libvdb.AlreadyExistsError):  # one index per field: drop it first
        client.create_index("q", "vector", index_type="HNSW")
    client.drop_index("q", "vector")
    client.create_index("q", "vector", index_type="HNSW", params={"M": 8})
    assert client.describe_index("q", "vector")["index_type"] == "HNSW"


def test_index_names(client):
    """An index is named after its field unless given a name; describe, list and drop go by
    the name; one index per field, names unique in the collection (as Milvus)."""
    s = libvdb.Schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2, metric_type="L2")
    s.add_field("year", DataType.INT32)
    ip = client.prepare_index_params()
    ip.add_index("year", index_type="STL_SORT", index_name="by_year")
    ip.add_index("v", index_type="HNSW", index_name="vec_idx", M=8)
    client.create_collection("n", schema=s, index_params=ip)
    client.insert("n", [{"id": i, "v": [i, 1], "year": 2000 + i} for i in range(5)])
    assert client.list_indexes("n") == ["vec_idx", "by_year"]
    assert client.list_indexes("n", field_name="v") == ["vec_idx"]
    d = client.describe_index("n", "vec_idx")
    assert (d["field_name"], d["index_name"], d["index_type"], d["metric_type"]) == \
        ("v", "vec_idx", "HNSW", "L2")
    assert d["state"] == "Finished"
    assert "metric_type" not in client.describe_index("n", "by_year")
    assert client.wait_for_index_building_complete("n", "vec_idx")
    # a field's name is not its index's
    with pytest.raises(libvdb.NotFoundError):
        client.describe_index("n", "v")
    with pytest.raises(libvdb.NotFoundError):
        client.drop_index("n", "v")
    # the same again is a success; another name on the field, a taken or bad name are not
    client.create_index("n", "v", index_type="HNSW", params={"M": 8}, index_name="vec_idx")
    with pytest.raises(libvdb.AlreadyExistsError) as e:
        client.create_index("n", "v", index_type="HNSW", params={"M": 8}, index_name="other")
    assert "at most one distinct index is allowed per field" in e.value.message
    with pytest.raises(libvdb.AlreadyExistsError) as e:
        client.create_index("n", "id", index_type="STL_SORT", index_name="by_year")
    assert "by_year" in e.value.message
    with pytest.raises(libvdb.InvalidArgumentError) as e:
        client.create_index("n", "id", index_type="STL_SORT", index_name="1bad")
    assert "invalid" in e.value.message
    bad = client.prepare_index_params()
    bad.add_index("v", index_type="FLAT", index_name="bad-name")
    with pytest.raises(libvdb.InvalidArgumentError):  # refused, and nothing is left behind
        client.create_collection("m", schema=s, index_params=bad)
    assert not client.has_collection("m")
    client.drop_index("n", "by_year")
    assert client.list_indexes("n") == ["vec_idx"]
    client.create_index("n", "year", index_type="STL_SORT")  # default: the field's name
    assert client.list_indexes("n") == ["vec_idx", "year"]
    assert client.describe_index("n", "year")["field_name"] == "year"
    with pytest.raises(libvdb.NotFoundError):
        client.describe_index("n", "my_index")


def test_create_then_index_names_the_metric(client):
    """pymilvus's usual flow: create with a schema and no index, then index with a metric:
    the empty collection takes the index's metric."""
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("tag", DataType.VARCHAR, max_length=8)
    client.create_collection("c", schema=s)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 8})
    client.create_index("c", ip)
    d = client.describe_collection("c")
    assert d["fields"][1]["params"]["metric_type"] == "L2"
    assert client.describe_index("c", "v")["metric_type"] == "L2"
    client.insert("c", [{"id": 1, "v": [3, 4], "tag": "a"}])
    assert client.search("c", [0, 0], limit=1)[0][0]["distance"] == pytest.approx(25)
    client.drop_index("c", "v")
    with pytest.raises(libvdb.InvalidArgumentError):  # not empty any more: refused
        client.create_index("c", "v", index_type="FLAT", metric_type="IP")
    assert client.describe_collection("c")["fields"][1]["params"]["metric_type"] == "L2"
    assert client.get("c", 1, output_fields=["tag"]) == [{"id": 1, "tag": "a"}]
    with pytest.raises(libvdb.InvalidArgumentError):  # a metric on a scalar field
        client.create_index("c", "tag", index_type="TRIE", metric_type="L2")
    with pytest.raises(libvdb.InvalidArgumentError):
        client.search("c", [0, 0], search_params={"metric_type": "IP"})


def test_progress_callback_sees_rows(connect, mode):
    np = pytest.importorskip("numpy")
    c = connect(segment_max_rows=6000) if mode == "embedded" else connect()
    try:
        c.create_collection("p", dimension=32, metric_type="L2")
        c.drop_index("p", "vector")
        n = 12000
        c.insert("p", {"id": np.arange(n),
                       "vector": np.random.default_rng(3).standard_normal((n, 32),
                                                                          dtype=np.float32)})
        c.flush("p")
        seen = []
        c.create_index("p", "vector", index_type="HNSW", params={"M": 8, "efConstruction": 64},
                       progress=lambda done, total: seen.append((done, total)))
        assert seen, "the callback was never called"
        assert seen[-1] == (n, n)  # the last call: every row indexed
        assert all(t == n and 0 <= d <= t for d, t in seen)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)  # never goes back
        if mode == "embedded":  # rows inside a segment's build count as they are done
            assert any(0 < d < n and d % 6000 for d, _ in seen), seen
        assert c.describe_index("p", "vector")["indexed_rows"] == n
        assert c.wait_for_index_building_complete("p", "vector", progress=False)
    finally:
        c.close()


def test_progress_sums_the_segments_building():
    from libvdb._embedded import _Builds
    b = _Builds()
    b.report("c", "v", 100, 1000)
    b.report("c", "v", 50, 500)      # another segment
    b.report("c", "v", 300, 1000)    # the first one again
    assert b.partial("c", "v") == 350
    b.report("c", "v", 500, 500)     # the second is done: vdb_index_progress counts it now
    assert b.partial("c", "v") == 300
    b.report("c", "v", 120, 1000)    # a third of the same size as the first
    b.report("c", "v", 400, 1000)
    assert b.partial("c", "v") == 520
    assert b.partial("c", "other") == 0
    b.forget("c")
    assert b.partial("c", "v") == 0


# ---- the remote uri -------------------------------------------------------------------------

def test_remote_uri_never_creates_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for uri in ("http://127.0.0.1:9", "https://127.0.0.1:9", "http://127.0.0.1:9/"):
        c = libvdb.MilvusClient(uri=uri, token="root:Milvus")
        assert c.mode == "remote"
        with pytest.raises(libvdb.ConnectionFailedError) as e:
            c.list_collections()
        assert isinstance(e.value, ConnectionError) and "127.0.0.1:9" in e.value.message
        c.close()
    for uri in ("grpc://127.0.0.1:19530", "tcp://127.0.0.1:19530", "http://",
                "http://h:x", "http://127.0.0.1:19530?x=1"):
        with pytest.raises(libvdb.InvalidArgumentError):
            libvdb.MilvusClient(uri=uri)
    assert os.listdir(tmp_path) == []


def test_remote_timeout_is_honoured():
    """A server that accepts and never answers: the call's timeout (or the client's) ends it."""
    import socket
    import time
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    try:
        uri = "http://127.0.0.1:%d" % lsock.getsockname()[1]
        for c, call in ((libvdb.MilvusClient(uri), lambda c: c.list_collections(timeout=0.3)),
                        (libvdb.MilvusClient(uri, timeout=0.3), lambda c: c.has_collection("x")),
                        (libvdb.MilvusClient(uri, timeout=60),
                         lambda c: c.describe_collection("x", 0.3))):
            t0 = time.monotonic()
            with pytest.raises(libvdb.TimedOutError):
                call(c)
            assert time.monotonic() - t0 < 10
            c.close()
        with pytest.raises(libvdb.InvalidArgumentError):
            libvdb.MilvusClient(uri).list_collections(timeout=-1)
        with pytest.raises(libvdb.InvalidArgumentError):
            libvdb.MilvusClient(uri, timeout="5")
    finally:
        lsock.close()


def test_embedded_refuses_server_arguments(db_path):
    for kw in (dict(token="t"), dict(user="u", password="p"), dict(secure=True),
               dict(server_pem_path="x.pem")):
        with pytest.raises(libvdb.InvalidArgumentError):
            libvdb.MilvusClient(db_path, **kw)
    with pytest.raises(libvdb.NotFoundError):
        libvdb.MilvusClient(db_path, db_name="other")
    libvdb.MilvusClient(db_path, db_name="default", timeout=5).close()
    with pytest.raises(libvdb.InvalidArgumentError):
        libvdb.MilvusClient("http://127.0.0.1:9", sync="off")


def test_remote_token_db_name_and_errors(server):
    with pytest.raises(libvdb.AuthenticationError) as e:
        libvdb.MilvusClient(server.uri, token="wrong").list_collections()
    assert e.value.milvus_code == 1800 and isinstance(e.value, PermissionError)
    with pytest.raises(libvdb.AuthenticationError):
        libvdb.MilvusClient(server.uri).list_collections()
    user, password = TOKEN.split(":")
    assert isinstance(libvdb.MilvusClient(server.uri, user=user, password=password)
                      .list_collections(), list)
    assert isinstance(libvdb.MilvusClient("http://%s:%s@127.0.0.1:%d" % (user, password,
                                                                         server.port))
                      .list_collections(), list)
    with pytest.raises(libvdb.NotFoundError) as e:
        libvdb.MilvusClient(server.uri, token=TOKEN, db_name="other").list_collections()
    assert e.value.milvus_code == 800
    c = libvdb.MilvusClient(server.uri, token=TOKEN, db_name="default")
    try:
        c.drop_collection("r")
        c.create_collection("r", dimension=2)
        with pytest.raises(libvdb.AlreadyExistsError) as e:  # 1100 + the library's words
            c.create_collection("r", dimension=2)
        assert e.value.milvus_code == 1100
        with pytest.raises(libvdb.NotFoundError) as e:
            c.describe_collection("nope")
        assert e.value.milvus_code == 100
        for call in (lambda: c.now(), lambda: c.get("r", 1, travel_timestamp=123),
                     lambda: c.search("r", [0, 0], consistency_level="Bounded",
                                      staleness_ms=10),
                     lambda: c.get_server_version()):
            with pytest.raises(libvdb.UnsupportedError):
                call()
        c.drop_collection("r")
    finally:
        c.close()


def test_remote_survives_a_server_side_close(server):
    """A kept connection the server closed (idle timeout, restart) is replaced."""
    c = libvdb.MilvusClient(server.uri, token=TOKEN)
    try:
        assert isinstance(c.list_collections(), list)
        conn = c._t._local.conn
        conn.sock.shutdown(2)  # as if the peer had gone: the next call must reconnect
        assert isinstance(c.list_collections(), list)
    finally:
        c.close()


@pytest.mark.needs_library
def test_same_answers_in_both_modes(server, tmp_path):
    """The two modes give equal results for the same calls (values, floats, order)."""
    vecs = rand_vectors(40, 4, seed=9)
    out = []
    for c in (libvdb.MilvusClient(str(tmp_path / "db")),
              libvdb.MilvusClient(server.uri, token=TOKEN)):
        with c:
            c.drop_collection("same")
            s = c.create_schema(enable_dynamic_field=True)
            s.add_field("id", DataType.INT64, is_primary=True)
            s.add_field("v", DataType.FLOAT_VECTOR, dim=4, metric_type="L2")
            s.add_field("f", DataType.FLOAT)
            s.add_field("d", DataType.DOUBLE, nullable=True)
            s.add_field("t", DataType.VARCHAR, max_length=16, default_value="none")
            s.add_field("a", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=4)
            c.create_collection("same", schema=s)
            c.insert("same", [{"id": i, "v": v, "f": i / 3, "d": None if i % 4 else i / 7,
                               "a": [i / 9], "k": {"x": i}} for i, v in enumerate(vecs)])
            r = [c.search("same", vecs[:3], limit=5, output_fields=["*"], offset=1),
                 c.query("same", "id in [3, 1, 2]", output_fields=["f", "t", "k"]),
                 c.get("same", [5, 1]), c.describe_collection("same"),
                 c.query("same", output_fields=["count(*)"])]
            r[1] = sorted(r[1], key=lambda x: x["id"])
            out.append(r)
            c.drop_collection("same")
    assert out[0] == out[1]
