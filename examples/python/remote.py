#!/usr/bin/env python3
"""remote: the same MilvusClient against vdb-server (its REST API): quick setup, insert,
search with paging and templates, query, an index with a progress bar, drop.

Start a server first, then run this with Debian's python3:
    ./build/server/vdb-server --data ./server.db --token root:Milvus &
    PYTHONPATH=python /usr/bin/python3 examples/python/remote.py [uri] [token]
(defaults http://127.0.0.1:19530 and root:Milvus). The remote mode needs no libvdb.so.
"""

import random
import sys

import libvdb

DIM = 16


def main():
    uri = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:19530"
    token = sys.argv[2] if len(sys.argv) > 2 else "root:Milvus"
    with libvdb.MilvusClient(uri, token=token) as client:
        client.drop_collection("remote_demo")  # no error when it is not there
        client.create_collection("remote_demo", dimension=DIM, metric_type="L2")
        rng = random.Random(7)
        rows = [{"id": i, "vector": [rng.random() for _ in range(DIM)],
                 "city": ["Oslo", "Paris", "Lima"][i % 3], "year": 2000 + i % 25}
                for i in range(2000)]
        client.insert("remote_demo", rows)
        print("rows:", client.get_collection_stats("remote_demo")["row_count"])

        query = [rows[42]["vector"]]
        for page in range(2):  # two pages of five, never the same hit twice
            hits = client.search("remote_demo", query, limit=5, offset=5 * page,
                                 output_fields=["city"], round_decimal=4)[0]
            print("page %d:" % page, [(h["id"], h["distance"], h["entity"]["city"])
                                      for h in hits])

        # a template: the value is quoted and escaped by the client, never pasted as text
        rows = client.query("remote_demo", filter="city == {c} and year >= {y}",
                            filter_params={"c": "Paris", "y": 2020}, limit=3,
                            output_fields=["city", "year"])
        print("query:", rows)

        client.flush("remote_demo")
        client.drop_index("remote_demo", "vector")  # the quick setup's AUTOINDEX
        client.create_index("remote_demo", "vector", index_type="HNSW", params={"M": 16},
                            progress=True)
        print("index:", client.describe_index("remote_demo", "vector"))
        print("load state:", client.get_load_state("remote_demo")["state"])
        client.drop_collection("remote_demo")


if __name__ == "__main__":
    try:
        main()
    except libvdb.ConnectionFailedError as e:
        sys.exit("is vdb-server running? %s" % e)
