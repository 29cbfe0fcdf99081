"""query_iterator and search_iterator (embedded: vdb_query_iterator_* / vdb_search_iterator_*):
every row of the snapshot once while writes go on, hits in the order of one exact search,
none twice; the remote client refuses them by name."""

import pytest

import libvdb

pytestmark_embedded = pytest.mark.embedded_only("iterators are the library's cursors")


@pytestmark_embedded
def test_query_iterator_snapshot_once(docs):
    it = docs.query_iterator("docs", batch_size=7, filter="id >= 10",
                             output_fields=["title"])
    seen = []
    first = True
    while True:
        batch = it.next()
        if not batch:
            break
        assert len(batch) <= 7
        for r in batch:
            assert r["title"] == "doc %d" % r["id"]
        seen += [r["id"] for r in batch]
        if first:  # writes after the snapshot change nothing it returns
            docs.delete("docs", ids=[50, 51, 52])
            docs.insert("docs", [{"id": 500 + i, "vector": [0.1] * 8, "title": "new",
                                  "tags": [], "meta": {}} for i in range(20)])
            docs.flush("docs")
            first = False
    it.close()
    assert seen == list(range(10, 100))  # key order, each once
    assert it.next() == []  # closed
    it = docs.query_iterator("docs", batch_size=30, limit=45)
    sizes = []
    while True:
        b = it.next()
        if not b:
            break
        sizes.append(len(b))
    assert sizes == [30, 15]
    it.close()
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.query_iterator("docs", batch_size=0)
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.query_iterator("docs", filter="id >")


@pytestmark_embedded
def test_search_iterator_matches_exact_search(docs):
    q = [0.2, -0.1, 0.3, 0.0, 0.1, -0.3, 0.2, 0.1]
    full = docs.search("docs", [q], limit=100, filter="year != 2003")[0]
    it = docs.search_iterator("docs", q, batch_size=9, filter="year != 2003",
                              output_fields=["title"])
    got = []
    while True:
        page = it.next()
        if not page:
            break
        assert len(page) <= 9
        for h in page:
            assert h["entity"]["title"] == "doc %d" % h["id"]
        got += page
        if len(got) == 9:
            docs.delete("docs", ids=[h["id"] for h in full[20:30]])
    it.close()
    assert [h["id"] for h in got] == [h["id"] for h in full]
    assert [h["distance"] for h in got] == [h["distance"] for h in full]
    it = docs.search_iterator("docs", q, batch_size=4, limit=10, round_decimal=2)
    pages = [it.next(), it.next(), it.next(), it.next()]
    it.close()
    assert [len(p) for p in pages] == [4, 4, 2, 0]
    assert all(h["distance"] == round(h["distance"], 2) for p in pages for h in p)
    with pytest.raises(libvdb.InvalidArgumentError):
        docs.search_iterator("docs", [q, q])


def test_iterators_remote_refused(docs, mode):
    if mode == "embedded":
        it = docs.query_iterator("docs")
        assert len(it.next()) == 100
        docs.close()  # closes the open iterator before the database
        return
    with pytest.raises(libvdb.UnsupportedError, match="query_iterator"):
        docs.query_iterator("docs")
    with pytest.raises(libvdb.UnsupportedError, match="search_iterator"):
        docs.search_iterator("docs", [0.0] * 8)
