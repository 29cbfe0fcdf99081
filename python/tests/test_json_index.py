"""JSON path indexes (Milvus 2.6's json_path / json_cast_type) through the client: several on
one JSON field, the same rows as without them, described with their path and cast, dropped
by name, and the parameters refused. And query's order_by_fields (issue 17 item 4 with them)
against a sort done here."""

import pytest

import libvdb


def ids(rows):
    return sorted(r["id"] for r in rows)


FILTERS = ['meta["n"] > 90', 'meta["n"] <= 3', 'meta["n"] in [5, 7, 500]', 'meta["n"] != 50',
           'meta["even"] == true', 'not (meta["n"] < 95)', 'meta["s"] == "s4"',
           'meta["s"] > "s7"']


def add_s(client):
    client.upsert("docs", [{"id": i, "vector": client.vecs[i], "title": "doc %d" % i,
                            "tags": [], "meta": {"n": i, "even": i % 2 == 0, "s": "s%d" % (i % 10)}
                            if i % 4 else {"n": "x%d" % i}} for i in range(0, 100, 2)])


def test_json_path_indexes_give_the_rows_of_a_scan(docs):
    add_s(docs)
    docs.flush("docs")
    want = {f: ids(docs.query("docs", filter=f)) for f in FILTERS}
    assert want['meta["n"] > 90'] == [91, 93, 94, 95, 97, 98, 99]  # 92, 96: n is a string
    assert want['meta["n"] in [5, 7, 500]'] == [5, 7]
    ip = docs.prepare_index_params()
    ip.add_index(field_name="meta", index_type="INVERTED", index_name="n_idx",
                 params={"json_path": 'meta["n"]', "json_cast_type": "double"})
    ip.add_index(field_name="meta", index_type="AUTOINDEX", index_name="s_idx",
                 params={"json_path": 'meta["s"]', "json_cast_type": "VARCHAR"})
    ip.add_index(field_name="meta", index_type="INVERTED", index_name="even_idx",
                 params={"json_path": 'meta["even"]', "json_cast_type": "BOOL"})
    docs.create_index("docs", ip)
    for f in FILTERS:
        assert ids(docs.query("docs", filter=f)) == want[f], f
    assert sorted(docs.list_indexes("docs")) == ["even_idx", "n_idx", "s_idx"]
    d = docs.describe_index("docs", "n_idx")
    assert d["field_name"] == "meta" and d["index_type"] == "INVERTED"
    docs.drop_index("docs", "s_idx")
    assert sorted(docs.list_indexes("docs")) == ["even_idx", "n_idx"]
    for f in FILTERS:
        assert ids(docs.query("docs", filter=f)) == want[f], f


@pytest.mark.embedded_only("describe_index's json_path / json_cast_type come from the library")
def test_json_path_index_is_described_with_path_and_cast(docs):
    docs.create_index("docs", "meta", index_type="INVERTED", index_name="n_idx",
                      params={"json_path": 'meta["n"]', "json_cast_type": "DOUBLE"})
    d = docs.describe_index("docs", "n_idx")
    assert d["json_path"] == 'meta["n"]' and d["json_cast_type"] == "DOUBLE"


def test_json_path_index_parameters_are_checked(docs):
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.create_index("docs", "meta", index_type="STL_SORT", index_name="a",
                          params={"json_path": 'meta["n"]', "json_cast_type": "DOUBLE"})
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.create_index("docs", "meta", index_type="INVERTED", index_name="a",
                          params={"json_path": 'meta["n"]', "json_cast_type": "INT64"})
    with pytest.raises(libvdb.VdbError):  # unsupported: a path index needs its cast
        docs.create_index("docs", "meta", index_type="INVERTED", index_name="a",
                          params={"json_path": 'meta["n"]'})


def _key(row, fields):
    out = []
    for f, desc in fields:
        v = row.get(f)
        # NULLs last either way; descending flips the value only
        out.append((v is None, 0 if v is None else (-v if desc else v)))
    return out + [row["id"]]


def test_query_order_by_fields(docs):
    docs.delete("docs", ids=[4, 5, 6])
    rows = docs.query("docs", filter="id >= 0", output_fields=["score", "year"])
    for spec, fields in [([{"field": "score", "order": "desc"}], [("score", True)]),
                         ("score", [("score", False)]),
                         (["year desc", "score"], [("year", True), ("score", False)])]:
        want = [r["id"] for r in sorted(rows, key=lambda r: _key(r, fields))]
        got = docs.query("docs", filter="id >= 0", output_fields=["score"],
                         order_by_fields=spec)
        assert [r["id"] for r in got] == want, spec
        got = docs.query("docs", filter="id >= 0", output_fields=["score"], limit=7, offset=3,
                         order_by_fields=spec)
        assert [r["id"] for r in got] == want[3:10], spec
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.query("docs", filter="id >= 0", order_by_fields=["vector"])
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.query("docs", filter="id >= 0", order_by_fields=["meta"])
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.query("docs", filter="id >= 0", order_by_fields=[{"field": "year", "order": "up"}])
