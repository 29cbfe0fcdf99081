"""One Client shared by threads: 4 searching while 1 inserts (the C handle is thread-safe and
ctypes releases the GIL during each call)."""

import threading

import libvdb

from conftest import rand_vectors


def test_concurrent_search_while_inserting(client):
    dim = 32
    client.create_collection("c", dimension=dim, metric_type="L2")
    client.insert("c", [{"id": i, "vector": v} for i, v in enumerate(rand_vectors(500, dim))])
    errors = []
    stop = threading.Event()
    counts = [0] * 4
    queries = rand_vectors(8, dim, seed=99)

    def searcher(t):
        try:
            while not stop.is_set() or counts[t] < 5:
                res = client.search("c", queries, limit=10, output_fields=["id"])
                assert len(res) == 8 and all(len(h) == 10 for h in res)
                for hits in res:
                    ds = [h["distance"] for h in hits]
                    assert ds == sorted(ds)
                counts[t] += 1
        except Exception as e:  # reported below
            errors.append(e)

    def inserter():
        try:
            vecs = rand_vectors(2000, dim, seed=5)
            for b in range(20):
                client.insert("c", [{"id": 500 + b * 100 + i, "vector": vecs[b * 100 + i]}
                                    for i in range(100)])
                if b == 10:
                    client.flush("c")
        except Exception as e:
            errors.append(e)
        finally:
            stop.set()

    threads = [threading.Thread(target=searcher, args=(t,)) for t in range(4)]
    threads.append(threading.Thread(target=inserter))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert all(c >= 5 for c in counts)
    assert client.get_collection_stats("c")["row_count"] == 2500


def test_close_waits_for_running_calls(db_path):
    c = libvdb.Client(db_path, sync="off")
    c.create_collection("c", dimension=8, metric_type="L2")
    c.insert("c", [{"id": i, "vector": v} for i, v in enumerate(rand_vectors(200, 8))])
    errors, done = [], []

    def worker():
        try:
            for _ in range(200):
                c.search("c", rand_vectors(4, 8), limit=5)
                done.append(1)
        except libvdb.VdbError as e:  # "the Client is closed" once close() ran: expected
            if "closed" not in str(e):
                errors.append(e)

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    c.close()
    for t in ts:
        t.join()
    assert not errors
    assert c.closed


def test_calls_release_the_gil():
    """The library is a ctypes.CDLL (calls drop the GIL), never a PyDLL (calls hold it)."""
    import ctypes

    from libvdb import _lib
    dll = _lib.get().dll
    assert isinstance(dll, ctypes.CDLL) and not isinstance(dll, ctypes.PyDLL)
    assert not dll._func_flags_ & ctypes._FUNCFLAG_PYTHONAPI
    assert libvdb.MilvusClient is libvdb.Client
