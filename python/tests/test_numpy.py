"""numpy inputs (vectors, search data, columns) and the same flow without numpy."""

import os
import subprocess
import sys
import textwrap

import pytest

import libvdb

np = pytest.importorskip("numpy")


def test_numpy_rows_columns_and_search(client):
    client.create_collection("c", dimension=16, metric_type="L2")
    rng = np.random.default_rng(7)
    base = rng.standard_normal((300, 16))  # float64: converted once to float32
    r = client.insert("c", {"id": np.arange(300), "vector": base,
                            "w": np.linspace(0, 1, 300).tolist()})
    assert r["insert_count"] == 300 and r["ids"][:3] == [0, 1, 2]
    rows = [{"id": 300 + i, "vector": base[i].astype(np.float32), "n": np.int64(i)}
            for i in range(5)]  # numpy vectors and scalars inside rows
    client.insert("c", rows)
    assert client.get("c", 302, output_fields=["n"]) == [{"id": 302, "n": 2}]
    got = client.get("c", 7)[0]["vector"]
    assert isinstance(got, list) and np.allclose(got, base[7].astype(np.float32))
    q = base[[5, 17, 250]].astype(np.float32)
    res = client.search("c", q, limit=3)
    for i, hits in enumerate(res):
        assert hits[0]["id"] == [5, 17, 250][i]
        assert hits[0]["distance"] == pytest.approx(0, abs=1e-4)
        d = ((base[[h["id"] for h in hits]] - q[i]) ** 2).sum(-1)
        assert [h["distance"] for h in hits] == pytest.approx(d, rel=1e-4, abs=1e-4)
    one = client.search("c", q[0], limit=1)  # 1-D array: one query
    assert len(one) == 1 and one[0][0]["id"] == 5
    noncontig = np.asfortranarray(base[:2])  # non-contiguous input is fine
    assert [h[0]["id"] for h in client.search("c", noncontig, limit=1)] == [0, 1]
    assert client.get("c", np.array([1, 2]), output_fields=["id"]) == [{"id": 1}, {"id": 2}]
    assert set(client.get("c", 1, output_fields=[])[0]) == {"id", "vector", "w"}  # as pymilvus
    client.delete("c", ids=np.array([1, 2]))
    assert client.get("c", [1, 2]) == []


def test_numpy_scalar_columns(client):
    s = libvdb.Schema(enable_dynamic_field=False)
    s.add_field("id", libvdb.DataType.INT64, is_primary=True)
    s.add_field("v", libvdb.DataType.FLOAT_VECTOR, dim=2, metric_type="IP")
    s.add_field("f", libvdb.DataType.FLOAT)
    s.add_field("b", libvdb.DataType.BOOL)
    s.add_field("i", libvdb.DataType.INT16)
    client.create_collection("c", schema=s)
    client.insert("c", {"id": np.arange(4), "v": np.ones((4, 2), dtype=np.float32),
                        "f": np.array([0.5, 1.5, 2.5, 3.5]), "b": np.array([1, 0, 1, 0],
                                                                            dtype=bool),
                        "i": np.array([-1, 2, -3, 4], dtype=np.int32)})
    assert client.get("c", [0, 1], output_fields=["f", "b", "i"]) == [
        {"id": 0, "f": 0.5, "b": True, "i": -1}, {"id": 1, "f": 1.5, "b": False, "i": 2}]


def test_numpy_nan_and_dims(client):
    client.create_collection("c", dimension=4)
    bad = np.zeros((2, 4), dtype=np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("c", {"id": [1, 2], "vector": bad})
    with pytest.raises(libvdb.InvalidArgumentError):
        client.insert("c", {"id": [1, 2], "vector": np.zeros((2, 3))})
    with pytest.raises(libvdb.InvalidArgumentError):
        client.search("c", np.zeros((1, 5), dtype=np.float32))
    with pytest.raises(libvdb.InvalidArgumentError):
        client.search("c", np.zeros((1, 2, 2), dtype=np.float32))


def test_without_numpy(tmp_path):
    """The whole flow with numpy made unimportable."""
    code = textwrap.dedent("""
        import sys
        sys.modules["numpy"] = None  # import numpy now raises ImportError
        import libvdb, libvdb.client
        assert libvdb.client.np is None
        with libvdb.Client(sys.argv[1]) as c:
            c.create_collection("c", dimension=3, metric_type="L2")
            c.insert("c", [{"id": i, "vector": [i, 0, 0]} for i in range(10)])
            c.insert("c", {"id": [10, 11], "vector": [[10, 0, 0], [11, 0, 0]]})
            hits = c.search("c", [[4.2, 0, 0], [11, 0, 0]], limit=2)
            assert [h["id"] for h in hits[0]] == [4, 5], hits
            assert hits[1][0]["id"] == 11
            assert c.search("c", [1, 0, 0], limit=1)[0][0]["id"] == 1
            try:
                c.insert("c", [{"id": 1, "vector": [1, 2]}, {"id": 2, "vector": [1, 2, 3]}])
            except libvdb.InvalidArgumentError:
                pass
            else:
                raise AssertionError("ragged vectors accepted")
            try:
                c.insert("c", [{"id": 1, "vector": [1, 2]}])
            except libvdb.InvalidArgumentError as e:
                assert "dim" in e.message
            else:
                raise AssertionError("wrong dim accepted")
            assert c.get("c", 3) == [{"id": 3, "vector": [3.0, 0.0, 0.0]}]
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(libvdb.__file__)))
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "db")], env=env,
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"
