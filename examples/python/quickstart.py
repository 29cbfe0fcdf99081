#!/usr/bin/env python3
"""quickstart: create a collection, insert vectors with scalar fields, search, delete, travel
back in time, and reopen -- examples/quickstart.c with the Python Client.

Run: python3 examples/python/quickstart.py [folder]   (default ./quickstart.db)
From a build tree: LIBVDB_PATH=build/libvdb.so PYTHONPATH=python python3 examples/python/...
"""

import sys

import libvdb
from libvdb import DataType

DIM = 8
ROWS = 1000


def print_hits(results):
    for q, hits in enumerate(results):
        for i, hit in enumerate(hits):
            print("  query %d hit %d: id=%d distance=%.3f title=%s"
                  % (q, i, hit["id"], hit["distance"], hit["entity"]["title"]))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "./quickstart.db"
    print("libvdb %s, database at %s" % (libvdb.library_version(), path))

    client = libvdb.Client(path)
    if client.has_collection("docs"):
        client.drop_collection("docs")

    # schema: int64 primary key, a varchar, an int with a default, a vector
    schema = libvdb.Schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=64)
    schema.add_field("year", DataType.INT32, default_value=2024)
    schema.add_field("emb", DataType.FLOAT_VECTOR, dim=DIM, metric_type="L2")
    client.create_collection("docs", schema=schema)

    # rows (a dict of columns, or a numpy array for "emb", works too)
    seed = 12345
    rows = []
    for i in range(ROWS):
        vec = []
        for _ in range(DIM):
            seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
            vec.append((seed >> 16) / 65536.0)
        rows.append({"id": i, "title": "doc %d" % i, "emb": vec})
    t_insert = client.insert("docs", rows)["timestamp"]
    print("inserted %d rows at timestamp %d" % (ROWS, t_insert))

    # search for the vector of row 42
    query = [rows[42]["emb"]]
    print("nearest to row 42:")
    print_hits(client.search("docs", query, limit=3, output_fields=["title"]))

    # delete row 42, then search now and as of before the delete
    client.delete("docs", ids=[42])
    print("after deleting 42:")
    print_hits(client.search("docs", query, limit=3, output_fields=["title"]))
    print("as of the insert (time travel):")
    print_hits(client.search("docs", query, limit=3, output_fields=["title"],
                             travel_timestamp=t_insert))

    # seal the growing segment to the object store, then reopen: everything comes back
    client.flush("docs")
    client.close()
    with libvdb.Client(path) as client:
        stats = client.get_collection_stats("docs")
        print("after reopen: %d visible rows in %d sealed segment(s)"
              % (stats["row_count"], stats["sealed_segments"]))


if __name__ == "__main__":
    main()
