"""Shared fixtures. Run through python/tests/run_pytest.sh (sets LIBVDB_PATH, PYTHONPATH and
VDB_SERVER).

The suite runs twice: every test that takes `client` (or `connect`) runs once embedded (a
temporary folder opened through libvdb.so) and once remote (vdb-server, started once for the
session on a free loopback port with a temporary data folder and a token; each test starts
from an empty server). LIBVDB_TEST_MODES=embedded (or remote) runs one mode only.
Tests marked embedded_only need what only the embedded mode has (time travel, the folder
lock, the library's own statistics); they are skipped in the remote run, saying why."""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import libvdb  # noqa: E402

MODES = [m for m in os.environ.get("LIBVDB_TEST_MODES", "embedded,remote").split(",") if m]
TOKEN = "root:Milvus"


LIBRARY = os.environ.get("LIBVDB_TEST_LIBRARY", "1") != "0"  # 0: libvdb.so is not loadable


def pytest_configure(config):
    config.addinivalue_line("markers", "embedded_only(reason): needs the embedded mode")
    config.addinivalue_line("markers", "needs_library: loads libvdb.so (besides a server)")


def pytest_collection_modifyitems(config, items):
    """Each test belongs to one run: a test with a mode to that mode's; one with the server
    fixture alone to the remote run; any other (the package, the library) to the embedded
    run. The others are deselected; without a loadable libvdb.so (a sanitizer build) so is
    everything that loads it."""
    keep, drop = [], []
    for item in items:
        run = getattr(getattr(item, "callspec", None), "params", {}).get("mode")
        if run is None:
            run = "remote" if "server" in item.fixturenames else "embedded"
        loads = run == "embedded" or item.get_closest_marker("needs_library")
        (keep if run in MODES and (LIBRARY or not loads) else drop).append(item)
        m = item.get_closest_marker("embedded_only")
        if m and run == "remote":
            item.add_marker(pytest.mark.skip(reason="embedded only: " + (m.args[0] if m.args
                                                                          else "")))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class Server:
    """vdb-server on 127.0.0.1 (--port 0: the port is read from its first line of stdout)."""

    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="libvdb-pytest-server.")
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--data", os.path.join(self.dir, "data"), "--token", TOKEN,
             "--sync", "off", "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"vdb-server listening on http://127\.0\.0\.1:(\d+)$", line.strip())
        if not m:
            self.stop()
            raise RuntimeError("vdb-server did not start: %r\n%s" % (line, self.stderr()))
        self.port = int(m.group(1))
        self.uri = "http://127.0.0.1:%d" % self.port

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        rc = self.proc.returncode
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("VDB_SERVER")
    if not binary or not os.access(binary, os.X_OK):
        pytest.skip("remote mode: VDB_SERVER does not name a built vdb-server")
    srv = Server(binary)
    yield srv
    alive = srv.proc.poll() is None
    rc = srv.stop()
    assert alive and rc == 0, "vdb-server died or exited with %s" % rc


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "test.db")


@pytest.fixture
def connect(mode, db_path, request):
    """connect(**options): a new client on this test's database (the same one each call)."""
    if mode == "embedded":
        return lambda **kw: libvdb.MilvusClient(db_path, **kw)
    srv = request.getfixturevalue("server")
    with libvdb.MilvusClient(srv.uri, token=TOKEN) as c:  # every test starts from nothing
        for alias in c.list_aliases()["aliases"]:
            c.drop_alias(alias)
        for name in c.list_collections():
            c.drop_collection(name)
    return lambda **kw: libvdb.MilvusClient(srv.uri, token=TOKEN, **kw)


@pytest.fixture
def client(connect, mode):
    c = connect(sync="off") if mode == "embedded" else connect()
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
