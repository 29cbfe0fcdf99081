#!/usr/bin/env python3
"""vdb-server refuses input it must not accept (issue 13): limit + offset past Milvus's
bounds (and past int64), nested params of the wrong type, and HTTP framing a proxy could read
differently (request smuggling). Raw sockets for the HTTP cases; python3 standard library.

    tests/server/test_refuse.py path/to/vdb-server [unittest args]
"""

import json
import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvtest import Server, vec  # noqa: E402

BINARY = None
DIM = 8
BIG = 4611686018427387904  # 2**62: limit + offset overflows int64


class Base(unittest.TestCase):
    # a long idle timeout: an answer that comes is the server's, not the timeout's close
    server_args = ("--timeout", "120")

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(BINARY, "--log-level", "warn", *cls.server_args).start()
        cls.srv.post("collections/drop", {"collectionName": "c"})
        cls.srv.call("collections/create", {"collectionName": "c", "dimension": DIM})
        rows = [{"id": i, "vector": vec(i, DIM)} for i in range(50)]
        cls.srv.call("entities/insert", {"collectionName": "c", "data": rows})

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.srv.stop()
            assert rc == 0, "vdb-server exited with %s\n%s" % (rc, cls.srv.stderr())
        finally:
            cls.srv.cleanup()

    def code(self, endpoint, obj, want, words=()):
        st, r = self.srv.post(endpoint, obj)
        self.assertEqual(st, 200, r)
        self.assertIsInstance(r, dict, r)
        self.assertEqual(r.get("code"), want, (obj, r))
        for w in words:
            self.assertIn(w, r.get("message", ""), r)
        return r


class Windows(Base):
    def search(self, **kw):
        return dict({"collectionName": "c", "data": [vec(3, DIM)]}, **kw)

    def query(self, **kw):
        return dict({"collectionName": "c", "filter": "id >= 0"}, **kw)

    def test_search_limit_and_offset(self):
        self.code("entities/search", self.search(limit=BIG, offset=BIG), 1100, ["16384"])
        self.code("entities/search", self.search(limit=1, offset=2**63 - 1), 1100)
        self.code("entities/search", self.search(limit=2**63 - 1, offset=1), 1100)
        self.code("entities/search", self.search(limit=16384, offset=1), 1100)
        self.code("entities/search", self.search(limit=0), 1100)
        self.code("entities/search", self.search(limit=5, offset=-1), 1100)
        self.code("entities/search", self.search(limit=str(BIG), offset=str(BIG)), 1100)
        # past int64 as text or as a float: the wrong type, not a wrapped number
        self.code("entities/search", self.search(limit="99999999999999999999"), 1801)
        self.code("entities/search", self.search(limit=1e30), 1801)
        r = self.code("entities/search", self.search(limit=16380, offset=4), 0)
        self.assertEqual(r["topks"], [46])
        r = self.code("entities/search", self.search(limit=3, offset=2), 0)
        self.assertEqual(len(r["data"]), 3)

    def test_query_limit_and_offset(self):
        self.code("entities/query", self.query(limit=BIG, offset=BIG), 1100,
                  ["query result window", "16384"])
        self.code("entities/query", self.query(limit=1, offset=2**63 - 1), 1100)
        self.code("entities/query", self.query(limit=16384, offset=1), 1100)
        self.code("entities/query", self.query(limit=0, offset=16385), 1100)
        self.code("entities/query", self.query(limit=-1), 1100)
        r = self.code("entities/query", self.query(limit=16000, offset=40), 0)
        self.assertEqual([x["id"] for x in r["data"]], list(range(40, 50)))
        r = self.code("entities/query", self.query(limit=2, offset=10), 0)
        self.assertEqual([x["id"] for x in r["data"]], [10, 11])


class NestedParams(Base):
    def test_search_params_of_the_wrong_type(self):
        base = {"collectionName": "c", "data": [vec(3, DIM)], "limit": 3}
        for bad in [-1, "x", [], True]:
            self.code("entities/search", dict(base, searchParams={"params": bad}), 1801,
                      ["searchParams.params"])
            self.code("entities/search", dict(base, searchParams=bad), 1801, ["searchParams"])
        for bad in [{"ef": {"a": 1}}, {"ef": [1]}, {"ef": "1,nprobe=2"}, {"a=b": 1},
                    {"ef": "x" * 200}]:
            self.code("entities/search", dict(base, searchParams={"params": bad}), 1801,
                      ["params"])
        for ok in [None, {}, {"radius": None}]:
            self.code("entities/search", dict(base, searchParams={"params": ok}), 0)
        # search iterators are gRPC's: refused over REST, not ignored
        self.code("entities/search", dict(base, searchParams={"params": {
            "iterator": True, "search_iter_v2": True}}), 3000, ["iterator", "gRPC"])
        self.code("entities/search", dict(base, searchParams={"search_iter_id": "x"}), 3000,
                  ["search_iter_id"])

    def test_index_and_collection_params_of_the_wrong_type(self):
        self.code("indexes/create", {"collectionName": "c", "indexParams": [
            {"fieldName": "vector", "indexType": "HNSW", "metricType": "COSINE",
             "params": -1}]}, 1801, ["indexParams[].params"])
        self.code("indexes/create", {"collectionName": "c", "indexParams": [
            {"fieldName": "vector", "indexType": "HNSW", "metricType": "COSINE",
             "params": {"M": {"x": 1}}}]}, 1801, ["params"])
        self.code("collections/create", {"collectionName": "p1", "dimension": 4,
                                         "params": "x"}, 1801, ["'params'"])
        self.code("collections/create", {"collectionName": "p2", "dimension": 4,
                                         "indexParams": [{"fieldName": "vector",
                                                          "params": -1}]}, 1801)
        self.code("collections/create", {"collectionName": "p3", "schema": {"fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": -1}]}}, 1801,
            ["elementTypeParams"])
        self.code("collections/create", {"collectionName": "p4", "schema": "x"}, 1801)
        for name in ["p1", "p3", "p4"]:
            self.assertFalse(self.srv.call("collections/has", {"collectionName": name})["has"])


def exchange(port, data, timeout=60):
    """Sends data, reads until the server closes; returns (status, headers text, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    reply = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except OSError:  # a reset after the answer: what came is what counts
        pass
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.1 (\d+)", reply)
    if not m:
        return None, b"", reply
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(m.group(1)), head, body


HEAD = b"POST /v2/vectordb/collections/has HTTP/1.1\r\nHost: x\r\n"
BODY = b'{"collectionName":"c"}'


class Framing(Base):
    def refused(self, data, status):
        st, head, body = exchange(self.srv.port, data)
        self.assertEqual(st, status, head + body)
        self.assertRegex(head, rb"(?i)\r\nContent-Type: application/json")
        self.assertRegex(head, rb"(?i)\r\nConnection: close")
        r = json.loads(body)
        self.assertNotEqual(r["code"], 0, r)
        self.assertTrue(r["message"], r)
        return r

    def test_content_length_headers_that_disagree(self):
        # what the second length would frame is never run as a request of its own
        smuggled = b"POST /v2/vectordb/collections/drop HTTP/1.1\r\nHost: x\r\n" \
                   b"Content-Length: 22\r\n\r\n" + BODY
        self.refused(HEAD + b"Content-Length: 22\r\nContent-Length: 5\r\n\r\n" + BODY +
                     smuggled, 400)
        self.refused(HEAD + b"Content-Length: 5\r\nContent-Length: 22\r\n\r\n" + BODY, 400)
        self.refused(HEAD + b"Content-Length: 22, 5\r\n\r\n" + BODY, 400)
        self.assertTrue(self.srv.call("collections/has", {"collectionName": "c"})["has"])

    def test_equal_content_length_headers_are_one_length(self):
        st, head, body = exchange(self.srv.port, HEAD + b"Content-Length: 22\r\n"
                                  b"Content-Length: 22\r\nConnection: close\r\n\r\n" + BODY)
        self.assertEqual(st, 200, head + body)
        self.assertEqual(json.loads(body)["data"], {"has": True})

    def test_transfer_encoding_with_content_length(self):
        for order in [b"Content-Length: 22\r\nTransfer-Encoding: chunked\r\n",
                      b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"]:
            self.refused(HEAD + order + b"\r\n16\r\n" + BODY + b"\r\n0\r\n\r\n", 400)

    def test_transfer_encoding_other_than_chunked(self):
        # answered at once: the server does not wait for a body it cannot frame
        for te in [b"gzip, chunked", b"chunked, gzip", b"gzip", b"identity", b"chunked, chunked"]:
            r = self.refused(HEAD + b"Transfer-Encoding: " + te + b"\r\n\r\n", 501)
            self.assertIn("Transfer-Encoding", r["message"])
        self.refused(HEAD + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 501)

    def test_chunk_size_past_the_cap_is_refused_at_once(self):
        # the size line alone: the answer does not wait for the data (or the idle timeout)
        for size in [b"ffffffffffffffff", b"1ffffffffffffffff", b"%x" % (65 << 20)]:
            r = self.refused(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\n", 413)
            self.assertEqual(r["code"], 1102, r)
        # chunks that add up past the cap (64 MiB default): refused at the one that crosses it
        r = self.refused(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" +
                         b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n" +
                         b"%x\r\n" % ((63 << 20) + 1) + b"\r\n", 413)

    def test_bad_chunked_encoding(self):
        for body in [b"zz\r\n", b"-1\r\n", b"\r\n", b"2\r\n{}XX0\r\n\r\n", b"2x\r\n{}\r\n"]:
            self.refused(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body, 400)

    def test_http_it_cannot_read_answers_json(self):
        cases = [
            (b"\x00\x01\x02garbage\r\n\r\n", 400),
            (b"POST /v2/vectordb/collections/has HTTP/9.9\r\n\r\n", 505),
            (b"POST /v2/vectordb/collections/has HTTP/2.0\r\n\r\n", 505),
            (b"POST " + b"/a" * 40000 + b" HTTP/1.1\r\n\r\n", 414),
            (HEAD + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
            (HEAD + b"Bad Header: 1\r\n\r\n", 400),
            (HEAD + b"X-Folded: a\r\n b\r\n\r\n", 400),
            (HEAD + b"Content-Length : 22\r\n\r\n" + BODY, 400),
            (HEAD + b"Content-Length: +22\r\n\r\n" + BODY, 400),
            (HEAD + b"Content-Length: 99999999999999999999999\r\n\r\n", 400),
            (HEAD + b"Expect: something\r\nContent-Length: 22\r\n\r\n" + BODY, 417),
            (b"POST /v2/vectordb/collections/has HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
             400),
        ]
        for data, status in cases:
            self.refused(data, status)

    def test_keep_alive_pipelining_and_100_continue(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=60)
        try:
            # two requests in one write: answered in order on one connection
            s.sendall((HEAD + b"Content-Length: 22\r\n\r\n" + BODY) * 2)
            got = b""
            while got.count(b'"has":true') < 2:
                chunk = s.recv(65536)
                self.assertTrue(chunk, got)
                got += chunk
            self.assertEqual(got.count(b"HTTP/1.1 200 OK"), 2, got)
            # Expect: 100-continue gets 100 before the body is sent
            s.sendall(HEAD + b"Content-Length: 22\r\nExpect: 100-continue\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(65536)
                self.assertTrue(chunk, got)
                got += chunk
            self.assertTrue(got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), got)
            s.sendall(BODY)
            got = got[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
            while b'"has":true' not in got:
                chunk = s.recv(65536)
                self.assertTrue(chunk, got)
                got += chunk
            self.assertTrue(got.startswith(b"HTTP/1.1 200 OK"), got)
        finally:
            s.close()
        # HTTP/1.0 closes after its answer
        st, head, body = exchange(self.srv.port, b"POST /v2/vectordb/collections/has HTTP/1.0\r\n"
                                  b"Content-Length: 22\r\n\r\n" + BODY)
        self.assertEqual(st, 200, head)
        self.assertEqual(json.loads(body)["data"], {"has": True})

    def test_mutated_requests_get_json_or_a_close(self):
        # random damage to valid requests (fixed seed): every answer is HTTP with a JSON body,
        # or the connection closes; the server goes on serving
        import random
        rnd = random.Random(13)
        valid = [HEAD + b"Content-Length: 22\r\n\r\n" + BODY,
                 HEAD + b"Transfer-Encoding: chunked\r\n\r\n16\r\n" + BODY + b"\r\n0\r\n\r\n",
                 HEAD + b"Expect: 100-continue\r\nContent-Length: 22\r\n\r\n" + BODY]
        for i in range(300):
            data = bytearray(rnd.choice(valid))
            for _ in range(rnd.randint(1, 4)):
                if not data:
                    break
                op, at = rnd.randrange(4), rnd.randrange(len(data))
                if op == 0:
                    data[at] = rnd.randrange(256)
                elif op == 1:
                    del data[at:at + rnd.randint(1, 8)]
                elif op == 2:
                    data[at:at] = rnd.choice([b"\r\n", b"\n", b":", b" ", b"\x00", b"ffffffff",
                                              b"Content-Length: 3\r\n", b"\r\n\r\n"])
                else:
                    data = data[:at]
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=60)
            reply = b""
            try:
                s.sendall(bytes(data))
                s.shutdown(socket.SHUT_WR)
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
            except OSError:
                pass
            finally:
                s.close()
            while reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
                reply = reply[25:]
            while reply:  # one or more answers, each with a JSON body of its length
                m = re.match(rb"HTTP/1\.1 (\d{3}) [^\r]*\r\n((?:[^\r]+\r\n)*)\r\n", reply)
                self.assertTrue(m, (bytes(data), reply[:200]))
                n = int(re.search(rb"Content-Length: (\d+)", m.group(2)).group(1))
                body = reply[m.end():m.end() + n]
                self.assertIn(b"application/json", m.group(2), (bytes(data), reply[:300]))
                self.assertIn("code", json.loads(body), (bytes(data), body))
                reply = reply[m.end() + n:]
        self.assertTrue(self.srv.call("collections/has", {"collectionName": "c"})["has"])

    def test_requests_sent_a_byte_at_a_time(self):
        # every state of the parser split at every byte: a head, a body, chunk sizes with an
        # extension, chunk data, the trailer; two requests on one connection
        data = (HEAD + b"Content-Length: 22\r\n\r\n" + BODY +
                HEAD + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b"10;ext=1\r\n" + BODY[:16] + b"\r\n6\r\n" + BODY[16:] + b"\r\n0\r\n"
                b"X-Trailer: y\r\n\r\n")
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reply = b""
        try:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        finally:
            s.close()
        self.assertEqual(reply.count(b"HTTP/1.1 200 OK"), 2, reply)
        self.assertEqual(reply.count(b'"has":true'), 2, reply)

    def test_chunked_alone_still_works(self):
        st, head, body = exchange(self.srv.port, HEAD + b"Transfer-Encoding: Chunked\r\n"
                                  b"Connection: close\r\n\r\n16\r\n" + BODY + b"\r\n0\r\n\r\n")
        self.assertEqual(st, 200, head + body)
        self.assertEqual(json.loads(body)["data"], {"has": True})


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_refuse.py path/to/vdb-server [unittest args]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
