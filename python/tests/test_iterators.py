"""query_iterator and search_iterator (embedded: vdb_query_iterator_* / vdb_search_iterator_*;
remote: vdb-server's entities/query_iterator and entities/search_iterator, every batch at the
first one's timestamp): every row of the snapshot once while writes and compaction go on, hits
in the order of one exact search, none twice."""

import threading

import pytest

import libvdb


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


def test_iterator_ends(docs, mode):
    if mode == "embedded":
        it = docs.query_iterator("docs")
        assert len(it.next()) == 100
        docs.close()  # closes the open iterator before the database
        return
    # the server keeps nothing: a cursor it did not hand out is refused, not a restart
    with pytest.raises(libvdb.InvalidArgumentError, match="cursor"):
        docs._t.call("entities/query_iterator", {"collectionName": "docs", "cursor": "x"})
    with pytest.raises(libvdb.InvalidArgumentError, match="cursor"):
        docs._t.call("entities/search_iterator", {"collectionName": "docs", "cursor": "1:x",
                                                  "data": [[0.0] * 8]})


@pytest.mark.parametrize("pk", ["int", "str"])
def test_iterators_hold_their_snapshot_under_writes_and_compaction(client, pk):
    """Every row of the snapshot exactly once (and only those) while another thread inserts,
    deletes, flushes and compacts; a search iterator meanwhile gives the snapshot's hits."""
    s = libvdb.Schema()
    if pk == "int":
        s.add_field("id", libvdb.DataType.INT64, is_primary=True)
    else:
        s.add_field("id", libvdb.DataType.VARCHAR, is_primary=True, max_length=32)
    s.add_field("n", libvdb.DataType.INT64)
    s.add_field("v", libvdb.DataType.FLOAT_VECTOR, dim=4, metric_type="L2")
    client.create_collection("w", schema=s)
    key = (lambda i: i) if pk == "int" else (lambda i: 'k"%05d\\' % i)
    n = 3000
    for at in range(0, n, 1000):
        client.insert("w", [{"id": key(i), "n": i, "v": [i / 64.0, 1.0, 0.0, 0.0]}
                            for i in range(at, at + 1000)])
    client.flush("w")
    q = [-1.0, 1.0, 0.0, 0.0]  # no ties: the nearest are the smallest n, which the writer deletes
    want_hits = client.search("w", [q], limit=200, filter="n < 1500")[0]
    it = client.query_iterator("w", batch_size=128, filter="n >= 100", output_fields=["n"])
    sit = client.search_iterator("w", q, batch_size=50, filter="n < 1500", limit=200)
    stop = threading.Event()
    errors = []

    def writer():
        i = n
        try:
            while not stop.is_set():
                client.insert("w", [{"id": key(j), "n": j, "v": [-1.0, 1.0, 0.0, 0.0]}
                                    for j in range(i, i + 50)])
                client.delete("w", ids=[key(j) for j in range(i - n, i - n + 40)])
                client.flush("w")
                client.compact("w")
                i += 50
        except Exception as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        seen, hits = [], []
        while True:
            b = it.next()
            if not b:
                break
            for r in b:
                assert r["id"] == key(r["n"])
            seen += [r["n"] for r in b]
            page = sit.next()
            hits += page
        while True:
            page = sit.next()
            if not page:
                break
            hits += page
    finally:
        stop.set()
        t.join()
    it.close()
    sit.close()
    assert not errors, errors
    assert sorted(seen) == list(range(100, n)) and len(seen) == len(set(seen))
    if pk == "int":
        assert seen == list(range(100, n))  # key order
    assert [h["id"] for h in hits] == [h["id"] for h in want_hits]
    assert [h["distance"] for h in hits] == [h["distance"] for h in want_hits]
