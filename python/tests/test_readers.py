"""Reader processes (read_only=True) beside a writer, with multiprocessing: each reader
counts and searches while the writer inserts, sees only whole inserts, catches up on a
STRONG count, and refuses writes with ReadOnlyError. Embedded only (no fixture: a folder)."""
import multiprocessing as mp

import pytest

import libvdb

DIM = 8
BATCH = 50


def _vec(i):
    return [float((i * 7 + d) % 13) / 13.0 for d in range(DIM)]


def _reader(path, acked, stop, out):
    try:
        c = libvdb.MilvusClient(path, read_only=True, read_only_refresh_ms=20)
        try:
            c.insert("docs", [{"id": 10 ** 9, "emb": _vec(0)}])
            out.put("insert on a reader did not raise")
            return
        except libvdb.ReadOnlyError:
            pass
        last = 0
        while not stop.is_set():
            before = acked.value
            n = c.query("docs", output_fields=["count(*)"],
                        consistency_level="Strong")[0]["count(*)"]
            if n % BATCH or n < last or n < before * BATCH:
                out.put("count %d: last %d, %d batches acknowledged before" % (n, last, before))
                return
            last = n
            if n:
                hits = c.search("docs", [_vec(3)], limit=3, consistency_level="Eventually")
                if len(hits[0]) == 0:
                    out.put("a search of %d rows found nothing" % n)
                    return
        c.close()
        out.put("ok %d" % last)
    except Exception as e:  # reported to the test, which asserts
        out.put("reader: %r" % (e,))


def test_reader_processes(tmp_path):
    path = str(tmp_path / "db")
    w = libvdb.MilvusClient(path)
    w.create_collection("docs", dimension=DIM, primary_field_name="id", vector_field_name="emb")
    ctx = mp.get_context("spawn")
    acked, stop, out = ctx.Value("q", 0), ctx.Event(), ctx.Queue()
    readers = [ctx.Process(target=_reader, args=(path, acked, stop, out)) for _ in range(2)]
    for p in readers:
        p.start()
    with pytest.raises(libvdb.LockedError):
        libvdb.MilvusClient(path)
    for b in range(40):
        w.insert("docs", [{"id": b * BATCH + i, "emb": _vec(b * BATCH + i)}
                          for i in range(BATCH)])
        acked.value = b + 1
        if b % 10 == 9:
            w.flush("docs")
    stop.set()
    answers = [out.get(timeout=120) for _ in readers]
    for p in readers:
        p.join(timeout=60)
    w.close()
    assert all(a.startswith("ok") for a in answers), answers
