"""Several vector fields and hybrid_search (AnnSearchRequest, RRFRanker, WeightedRanker), in
both modes: the fused hits equal a reference fusion computed here from each request's own
search (exact: the fields have no built index)."""

import math

import pytest

import libvdb
from libvdb import AnnSearchRequest, DataType, RRFRanker, WeightedRanker

from conftest import rand_vectors

N = 150


@pytest.fixture
def multi(client):
    s = libvdb.Schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("tag", DataType.INT64)
    s.add_field("text", DataType.FLOAT_VECTOR, dim=8, metric_type="L2")
    s.add_field("image", DataType.FLOAT_VECTOR, dim=4, metric_type="IP")
    s.add_field("audio", DataType.FLOAT_VECTOR, dim=3, metric_type="COSINE")
    idx = client.prepare_index_params()
    for name, metric in METRIC.items():  # FLAT: each request's hits are exact
        idx.add_index(name, index_type="FLAT", metric_type=metric)
    client.create_collection("m", schema=s, index_params=idx)
    t, im, au = rand_vectors(N, 8, 1), rand_vectors(N, 4, 2), rand_vectors(N, 3, 3)
    client.insert("m", [{"id": i, "tag": i % 7, "text": t[i], "image": im[i], "audio": au[i]}
                        for i in range(N)])
    return client


METRIC = {"text": "L2", "image": "IP", "audio": "COSINE"}


def norm(metric, s):
    if metric == "COSINE":
        return (1 + s) / 2
    if metric == "IP":
        return 0.5 + math.atan(s) / math.pi
    return 1 - 2 * math.atan(s) / math.pi


def reference(client, reqs, ranker, limit, offset):
    """Per query: each request searched alone, fused (RRF or weighted), ties by id."""
    nq = len(reqs[0].data)
    out = []
    for q in range(nq):
        scores = {}
        raw_l2 = isinstance(ranker, WeightedRanker) and not ranker.norm_score
        all_l2 = all(METRIC[r.anns_field] == "L2" for r in reqs)
        for i, r in enumerate(reqs):
            hits = client.search("m", [r.data[q]], anns_field=r.anns_field, limit=r.limit,
                                 filter=r.expr or "")[0]
            for rank, h in enumerate(hits, 1):
                if isinstance(ranker, RRFRanker):
                    s = 1.0 / (ranker.k + rank)
                elif not raw_l2:
                    s = ranker.weights[i] * norm(METRIC[r.anns_field], h["distance"])
                else:
                    d = h["distance"]
                    s = ranker.weights[i] * (-d if METRIC[r.anns_field] == "L2" and not all_l2
                                             else d)
                scores[h["id"]] = scores.get(h["id"], 0.0) + s
        asc = isinstance(ranker, WeightedRanker) and raw_l2 and all_l2
        order = sorted(scores.items(), key=lambda kv: ((kv[1] if asc else -kv[1]), kv[0]))
        out.append(order[offset:offset + limit])
    return out


def reqs3():
    return [
        AnnSearchRequest(rand_vectors(2, 8, 10), "text", {"metric_type": "L2"}, 20),
        AnnSearchRequest(rand_vectors(2, 4, 11), "image", {"params": {}}, 15, expr="tag < 4"),
        AnnSearchRequest(rand_vectors(2, 3, 12), "audio", {}, 25, expr="tag != {t}",
                         expr_params={"t": 2}),
    ]


@pytest.mark.parametrize("ranker,limit,offset", [
    (RRFRanker(), 10, 0), (RRFRanker(5), 8, 4), (WeightedRanker(0.8, 0.3, 0.5), 10, 0),
    (WeightedRanker(0.8, 0.3, 0.5), 6, 9), (WeightedRanker(1, 0.1, 0.2, norm_score=False), 10, 0),
])
def test_hybrid_equals_reference(multi, ranker, limit, offset):
    reqs = reqs3()
    for r in reqs:  # the reference searches with the filled-in template
        if r.expr_params:
            r.expr, r.expr_params = r.expr.replace("{t}", str(r.expr_params["t"])), None
    res = multi.hybrid_search("m", reqs, ranker, limit=limit, offset=offset,
                              output_fields=["tag"])
    want = reference(multi, reqs, ranker, limit, offset)
    assert len(res) == 2
    for got, ref in zip(res, want):
        assert [h["id"] for h in got] == [pk for pk, _ in ref]
        for h, (_, s) in zip(got, ref):
            assert h["distance"] == pytest.approx(s, rel=1e-5, abs=1e-6)
            assert h["entity"] == {"tag": h["id"] % 7}


def test_hybrid_all_l2_raw_is_a_distance(multi):
    q = rand_vectors(1, 8, 20)
    reqs = [AnnSearchRequest(q, "text", {}, 10), AnnSearchRequest(q, "text", {}, 10,
                                                                   expr="tag > 2")]
    ranker = WeightedRanker(0.5, 0.5, norm_score=False)
    got = multi.hybrid_search("m", reqs, ranker, limit=5)[0]
    ref = reference(multi, reqs, ranker, 5, 0)[0]
    assert [h["id"] for h in got] == [pk for pk, _ in ref]
    ds = [h["distance"] for h in got]
    assert ds == sorted(ds)


def test_hybrid_templates_rounding_and_default_ranker(multi):
    reqs = reqs3()
    res = multi.hybrid_search("m", reqs, limit=5, round_decimal=3)
    assert len(res[0]) == 5
    for h in res[0]:
        assert h["distance"] == round(h["distance"], 3)
        assert h["entity"] == {}
    # the template filter is honoured: no hit of request 2 alone has tag 2
    only = multi.hybrid_search("m", [reqs[2]], RRFRanker(), limit=25)[0]
    assert only and all(multi.get("m", h["id"])[0]["tag"] != 2 for h in only)


def test_hybrid_errors(multi):
    reqs = reqs3()
    with pytest.raises(libvdb.InvalidArgumentError, match="weights"):
        multi.hybrid_search("m", reqs, WeightedRanker(0.5, 0.5))
    with pytest.raises(libvdb.InvalidArgumentError, match="k must be"):
        RRFRanker(0)
    with pytest.raises(libvdb.InvalidArgumentError, match=r"\[0, 1\]"):
        WeightedRanker(1.5)
    with pytest.raises(libvdb.InvalidArgumentError, match="same number"):
        multi.hybrid_search("m", [reqs[0], AnnSearchRequest(rand_vectors(3, 4), "image", {},
                                                            5)])
    with pytest.raises(libvdb.InvalidArgumentError, match="vector field"):
        multi.hybrid_search("m", [AnnSearchRequest([[0.0] * 8], "tag", {}, 5)])
    with pytest.raises(libvdb.InvalidArgumentError, match="metric_type"):
        multi.hybrid_search("m", [AnnSearchRequest([[0.0] * 4], "image",
                                                   {"metric_type": "L2"}, 5)])
    with pytest.raises(libvdb.InvalidArgumentError, match="limit"):
        multi.hybrid_search("m", reqs, limit=10000, offset=7000)
    with pytest.raises(libvdb.InvalidArgumentError):
        multi.hybrid_search("m", [AnnSearchRequest([[0.0] * 8], "text", {}, 5,
                                                   expr="nosuch >")])
    with pytest.raises(libvdb.InvalidArgumentError, match="non-empty"):
        multi.hybrid_search("m", [])
    with pytest.raises(libvdb.InvalidArgumentError, match="vector fields"):
        multi.search("m", [[0.0] * 8], limit=1)


def test_search_each_field_by_name(multi):
    for field, dim in (("text", 8), ("image", 4), ("audio", 3)):
        hits = multi.search("m", rand_vectors(1, dim, 30), anns_field=field, limit=3)[0]
        assert len(hits) == 3
    multi.flush("m")
    multi.drop_index("m", "image")
    idx = multi.prepare_index_params()
    idx.add_index("image", index_type="HNSW", metric_type="IP")
    multi.create_index("m", idx)
    res = multi.hybrid_search("m", reqs3(), WeightedRanker(0.3, 0.3, 0.3), limit=5)
    assert len(res) == 2 and len(res[0]) == 5


def grouped_reference(client, q, field, limit, offset, size, expr=""):
    """Every passing row by exact score, grouped by tag: groups ranked by their best row."""
    hits = client.search("m", [q], anns_field=field, limit=N, filter=expr,
                         output_fields=["tag"])[0]
    order, rows = [], {}
    for h in hits:
        t = h["entity"]["tag"]
        if t not in rows:
            order.append(t)
            rows[t] = []
        if len(rows[t]) < size:
            rows[t].append(h["id"])
    return [i for t in order[offset:offset + limit] for i in rows[t]]


@pytest.mark.parametrize("limit,offset,size,expr", [
    (3, 0, 4, ""), (10, 0, 2, ""), (2, 3, 5, ""), (10, 0, 3, "id < 2"), (4, 0, 1, "id % 2 == 0"),
])
def test_grouping_search(multi, limit, offset, size, expr):
    q = rand_vectors(1, 8, 40)[0]
    res = multi.search("m", [q], anns_field="text", limit=limit, offset=offset, filter=expr,
                       group_by_field="tag", group_size=size, output_fields=["tag"])[0]
    assert [h["id"] for h in res] == grouped_reference(multi, q, "text", limit, offset, size,
                                                       expr)
    # also through search_params, strict, as pymilvus allows
    res2 = multi.search("m", [q], anns_field="text", limit=limit, offset=offset, filter=expr,
                        search_params={"group_by_field": "tag", "group_size": size,
                                       "strict_group_size": True})[0]
    assert [h["id"] for h in res2] == [h["id"] for h in res]


def test_grouping_errors(multi):
    q = rand_vectors(1, 8, 41)[0]
    with pytest.raises(libvdb.InvalidArgumentError, match="group_by_field"):
        multi.search("m", [q], anns_field="text", group_size=3)
    with pytest.raises(libvdb.InvalidArgumentError, match="nosuch"):
        multi.search("m", [q], anns_field="text", group_by_field="nosuch")
    with pytest.raises(libvdb.InvalidArgumentError, match="group_size"):
        multi.search("m", [q], anns_field="text", group_by_field="tag", group_size=5000)
    with pytest.raises(libvdb.InvalidArgumentError, match="grouping takes"):
        multi.search("m", [q], anns_field="text", group_by_field="image")


def test_search_by_ids(multi):
    rows = multi.get("m", [3, 77], output_fields=["image"])
    by_vec = multi.search("m", [r["image"] for r in rows], anns_field="image", limit=6)
    by_ids = multi.search("m", anns_field="image", ids=[3, 77], limit=6)
    assert [[h["id"] for h in q] for q in by_ids] == [[h["id"] for h in q] for q in by_vec]
    for a, b in zip(by_ids, by_vec):
        for x, y in zip(a, b):
            assert x["distance"] == pytest.approx(y["distance"], rel=1e-6)
    with pytest.raises(libvdb.NotFoundError, match="100000"):
        multi.search("m", anns_field="image", ids=[3, 100000], limit=6)
    with pytest.raises(libvdb.InvalidArgumentError, match="not both"):
        multi.search("m", [[0.0] * 4], anns_field="image", ids=[3], limit=6)


def test_rest_hybrid_search_request_shapes(multi, mode):
    """Milvus's REST shapes beside the client's: params nested with metricType, searchParams,
    and the server's own refusals."""
    if mode != "remote":
        pytest.skip("the REST request itself")
    q8, q4 = rand_vectors(1, 8, 50), rand_vectors(1, 4, 51)
    base = {"collectionName": "m", "limit": 5, "rerank": {"strategy": "rrf", "params": {"k": 60}}}
    flat = multi._t.call("entities/hybrid_search", dict(base, search=[
        {"data": q8, "annsField": "text", "limit": 10},
        {"data": q4, "annsField": "image", "limit": 10, "params": {"ef": 64}}]))
    nested = multi._t.call("entities/hybrid_search", dict(base, search=[
        {"data": q8, "annsField": "text", "limit": 10,
         "searchParams": {"metricType": "L2", "params": {}}},
        {"data": q4, "annsField": "image", "limit": 10,
         "params": {"metricType": "IP", "params": {"ef": 64}}}]))
    assert [h["id"] for h in flat["data"]] == [h["id"] for h in nested["data"]]
    assert flat["topks"] == [5]
    want = multi.hybrid_search("m", [AnnSearchRequest(q8, "text", {}, 10),
                                     AnnSearchRequest(q4, "image", {}, 10)], RRFRanker(60),
                               limit=5)[0]
    assert [h["id"] for h in flat["data"]] == [h["id"] for h in want]
    with pytest.raises(libvdb.InvalidArgumentError, match="metric"):
        multi._t.call("entities/hybrid_search", dict(base, search=[
            {"data": q4, "annsField": "image", "limit": 10, "params": {"metricType": "L2"}}]))
    with pytest.raises(libvdb.InvalidArgumentError, match="strategy"):
        multi._t.call("entities/hybrid_search", dict(base, rerank={"strategy": "max"}, search=[
            {"data": q8, "annsField": "text", "limit": 10}]))
    with pytest.raises(libvdb.VdbError, match="grouping"):
        multi._t.call("entities/hybrid_search", dict(base, groupingField="tag", search=[
            {"data": q8, "annsField": "text", "limit": 10}]))


def test_hybrid_grouping(multi, mode):
    q1, q2 = [0.1] * 8, [0.2, -0.1, 0.3, 0.0]
    reqs = [AnnSearchRequest([q1], "text", {}, 10), AnnSearchRequest([q2], "image", {}, 10)]
    if mode == "remote":
        with pytest.raises(libvdb.UnsupportedError, match="group_by_field"):
            multi.hybrid_search("m", reqs, limit=3, group_by_field="tag", group_size=2)
        return
    hits = multi.hybrid_search("m", reqs, limit=3, group_by_field="tag", group_size=2,
                               output_fields=["tag"])[0]
    tags = [h["entity"]["tag"] for h in hits]
    assert len(tags) == 6 and len(set(tags)) == 3
    assert all(tags[2 * g] == tags[2 * g + 1] for g in range(3))
    hits = multi.hybrid_search("m", reqs, limit=20, group_by_field="tag", group_size=3,
                               output_fields=["tag"])[0]
    assert len(hits) == 7 * 3  # 7 groups present, each full
    with pytest.raises(libvdb.InvalidArgumentError, match="group_by_field"):
        multi.hybrid_search("m", reqs, limit=3, group_size=2)
