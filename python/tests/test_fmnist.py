"""Recall against brute force on Fashion-MNIST (Debian's dataset-fashion-mnist): 2,000 base
vectors from the training images, 20 queries from t10k. Search is exact, so recall@10 is 1.0
(ties in distance are allowed to come in either order)."""

import gzip
import os
import struct

import pytest


np = pytest.importorskip("numpy")

DATA = "/usr/share/datasets/fashion-mnist"


def read_images(name, count):
    path = os.path.join(DATA, name)
    if not os.path.exists(path):
        pytest.skip("%s not installed (apt-get install dataset-fashion-mnist)" % path)
    with gzip.open(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">iiii", f.read(16))
        assert magic == 0x803 and rows == 28 and cols == 28
        count = min(count, n)
        raw = f.read(count * rows * cols)
    return np.frombuffer(raw, dtype=np.uint8).reshape(count, rows * cols).astype(np.float32)


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_recall_at_10(client, metric):
    base = read_images("train-images-idx3-ubyte.gz", 2000) / 255.0
    queries = read_images("t10k-images-idx3-ubyte.gz", 20) / 255.0
    client.create_collection("fm", dimension=784, metric_type=metric)
    client.insert("fm", {"id": list(range(1000)), "vector": base[:1000]})
    client.flush("fm")  # half sealed, half growing
    client.insert("fm", {"id": list(range(1000, 2000)), "vector": base[1000:]})

    b, q = base.astype(np.float64), queries.astype(np.float64)
    if metric == "L2":
        score = (q * q).sum(1)[:, None] - 2 * (q @ b.T) + (b * b).sum(1)[None, :]  # nearer: less
    elif metric == "IP":
        score = -(q @ b.T)
    else:
        score = -(q @ b.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(b, axis=1))

    res = client.search("fm", queries, limit=10)
    assert len(res) == 20
    hit = 0
    for i, hits in enumerate(res):
        assert len(hits) == 10
        kth = np.sort(score[i])[9]
        tol = 1e-4 * max(1.0, abs(kth))
        got = [h["id"] for h in hits]
        assert len(set(got)) == 10
        hit += sum(score[i][j] <= kth + tol for j in got)
        # the returned distances are the true ones (L2 squared; similarities for IP/COSINE)
        want = score[i][got] if metric == "L2" else -score[i][got]
        assert [h["distance"] for h in hits] == pytest.approx(want, rel=1e-3, abs=1e-3)
    assert hit / 200 == 1.0
