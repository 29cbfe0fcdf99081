"""Shared fixtures. Run through python/tests/run_pytest.sh (sets LIBVDB_PATH and PYTHONPATH)."""

import os
import random
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import libvdb  # noqa: E402


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "test.db")


@pytest.fixture
def client(db_path):
    c = libvdb.Client(db_path, sync="off")
    yield c
    c.close()


def rand_vectors(n, dim, seed=1):
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(dim)] for _ in range(n)]


@pytest.fixture
def docs(client):
    """A collection 'docs': int64 id, 8-dim L2 vector, title, year (default 2024), tags
    (array), meta (json), score (nullable double), dynamic fields on; 100 rows."""
    s = libvdb.Schema(enable_dynamic_field=True)
    s.add_field("id", libvdb.DataType.INT64, is_primary=True)
    s.add_field("vector", libvdb.DataType.FLOAT_VECTOR, dim=8, metric_type="L2")
    s.add_field("title", libvdb.DataType.VARCHAR, max_length=64)
    s.add_field("year", libvdb.DataType.INT32, default_value=2024)
    s.add_field("tags", libvdb.DataType.ARRAY, element_type=libvdb.DataType.INT64,
                max_capacity=8)
    s.add_field("meta", libvdb.DataType.JSON)
    s.add_field("score", libvdb.DataType.DOUBLE, nullable=True)
    client.create_collection("docs", schema=s)
    vecs = rand_vectors(100, 8)
    rows = [{"id": i, "vector": vecs[i], "title": "doc %d" % i, "year": 2000 + i % 10,
             "tags": [i, i + 1], "meta": {"n": i, "even": i % 2 == 0},
             "score": None if i % 3 == 0 else i / 2, "color": ["red", "green"][i % 2]}
            for i in range(100)]
    client.insert("docs", rows)
    client.vecs = vecs
    return client
