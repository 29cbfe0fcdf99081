#!/usr/bin/env python3
"""SIGKILL in the middle of an insert load: after a restart on the same folder, every batch
the server acknowledged is there, whole, and no batch is there in part.

    tests/server/test_kill.py path/to/vdb-server [seconds of load before the kill, default 2]
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvtest import Server, vec  # noqa: E402

DIM = 32
BATCH = 50
WRITERS = 3
COLL = "durable"


def main():
    binary = os.path.abspath(sys.argv[1])
    load_secs = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    srv = Server(binary, "--log-level", "warn").start()
    data = srv.data
    try:
        srv.call("collections/create", {"collectionName": COLL, "dimension": DIM})
        acked, sent = [], []  # batch numbers
        lock = threading.Lock()
        stop = threading.Event()

        def writer(w):
            b = w
            while not stop.is_set():
                rows = [{"id": b * BATCH + i, "vector": vec(b * BATCH + i, DIM), "batch": b}
                        for i in range(BATCH)]
                with lock:
                    sent.append(b)
                try:
                    st, r = srv.post("entities/insert", {"collectionName": COLL, "data": rows},
                                     timeout=30)
                except OSError:
                    return  # the server died under this request: not acknowledged
                if st == 200 and r.get("code") == 0 and r["data"]["insertCount"] == BATCH:
                    with lock:
                        acked.append(b)
                b += WRITERS

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        time.sleep(load_secs)
        srv.kill()  # SIGKILL, mid-load
        stop.set()
        for t in threads:
            t.join()
        print("acknowledged %d batches of %d rows (%d sent) before SIGKILL"
              % (len(acked), BATCH, len(sent)))
        if len(acked) < 5:
            print("FAIL: too few batches acknowledged to test anything")
            return 1

        again = Server(binary, "--log-level", "warn", data=data).start()
        try:
            total = again.call("entities/query", {"collectionName": COLL, "filter": "",
                                                  "outputFields": ["count(*)"]})[0]["count(*)"]
            bad = []
            for b in sorted(sent):
                n = again.call("entities/query", {
                    "collectionName": COLL, "filter": "batch == %d" % b,
                    "outputFields": ["count(*)"]})[0]["count(*)"]
                if b in acked and n != BATCH:
                    bad.append("acknowledged batch %d has %d of %d rows" % (b, n, BATCH))
                elif n not in (0, BATCH):
                    bad.append("batch %d is there in part: %d of %d rows" % (b, n, BATCH))
            # spot-check the rows themselves
            some = sorted(acked)[:: max(1, len(acked) // 10)]
            ids = [b * BATCH + i for b in some for i in (0, BATCH - 1)]
            got = again.call("entities/get", {"collectionName": COLL, "id": ids,
                                              "outputFields": ["batch"]})
            if sorted(r["id"] for r in got) != sorted(ids):
                bad.append("get of acknowledged ids returned %d of %d rows" % (len(got), len(ids)))
            print("after restart: %d rows; %d acknowledged batches checked" % (total, len(acked)))
            rc = again.stop()
            if rc != 0:
                bad.append("restarted server exited with %s" % rc)
        finally:
            again.cleanup()
        for m in bad:
            print("FAIL:", m)
        if not bad:
            print("PASS: every acknowledged batch survived SIGKILL, none is there in part")
        return 1 if bad else 0
    finally:
        srv.cleanup()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_kill.py path/to/vdb-server [seconds]")
    sys.exit(main())
