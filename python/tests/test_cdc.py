"""Change streams (vdb_change_stream_*): MilvusClient.change_stream in embedded mode."""

import pytest

import libvdb


@pytest.mark.embedded_only
def test_change_stream_delivers_writes_in_order_and_resumes(client, mode):
    client.create_collection("c", dimension=2, num_shards=2, metric_type="L2")
    client.create_partition("c", "p")
    t1 = client.insert("c", [{"id": i, "vector": [i, 0.5]} for i in range(6)])["timestamp"]
    client.upsert("c", [{"id": 2, "vector": [9, 9]}], partition_name="p")
    client.delete("c", ids=[0, 1])
    with client.change_stream("c") as cs:
        got = [cs.next(10000) for _ in range(3)]
        assert cs.next(0) is None
    assert [g["kind"] for g in got] == ["insert", "upsert", "delete"]
    assert got[0]["ts"] == t1 and got[0]["ts"] < got[1]["ts"] < got[2]["ts"]
    assert sorted(got[0]["ids"]) == list(range(6))
    assert sorted(r["id"] for r in got[0]["rows"]) == list(range(6))
    assert {r["id"]: r["vector"] for r in got[0]["rows"]}[3] == [3.0, 0.5]
    assert got[1]["partition"] == "p" and got[1]["rows"] == [{"id": 2, "vector": [9.0, 9.0]}]
    assert got[2]["partition"] is None and sorted(got[2]["ids"]) == [0, 1]
    assert got[2]["rows"] == []
    with client.change_stream("c", start_ts=got[0]["ts"] + 1) as cs:  # resume after the first
        assert [cs.next(10000)["kind"] for _ in range(2)] == ["upsert", "delete"]
    with client.change_stream("c", caught_up_marks=True) as cs:
        kinds = [cs.next(10000)["kind"] for _ in range(4)]
        assert kinds[:3] == ["insert", "upsert", "delete"] and kinds[3] == "caught_up"
    client.flush("c")
    with pytest.raises(libvdb.VdbError):  # behind the checkpoint now
        client.change_stream("c", start_ts=t1)
