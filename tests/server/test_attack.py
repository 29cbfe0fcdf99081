#!/usr/bin/env python3
"""vdb-server against hostile clients (issue 19): slowloris (many connections sending their
head a byte a second: the server keeps serving others and closes them at --header-timeout,
or at --timeout while it cannot yet tell their protocol), oversized heads (431 with Milvus's
JSON), and idle connections up to and past --max-connections (past the cap: an immediate 503
with code 2 and a close; the connections under it are served), and over raw HTTP/2: more
calls at once than --max-streams, and a stalled call on a connection kept busy with PINGs.
Raw sockets, python3's standard library. (More HTTP/2: node/grpc_bad.test.mjs.)

    tests/server/test_attack.py path/to/vdb-server [unittest args]
"""

import json
import os
import select
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvtest import Server  # noqa: E402

BINARY = None
LIST = (b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")


def read_answer(s):
    """Reads one HTTP answer with a Content-Length body from s; (status, body bytes) or
    (None, what came) when the connection closed first."""
    data = b""
    while True:
        if b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            if len(rest) >= n:
                return int(head.split(b" ")[1]), rest[:n]
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None, data
        data += chunk


class Base(unittest.TestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(BINARY, "--log-level", "error", *cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.srv.stop()
            assert rc == 0, "vdb-server exited with %s\n%s" % (rc, cls.srv.stderr())
        finally:
            cls.srv.cleanup()

    def connect(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.srv.port), timeout=timeout)

    def served(self):
        """One request on a new connection: True if answered 200 with code 0."""
        s = self.connect()
        try:
            s.sendall(LIST)
            st, body = read_answer(s)
            return st == 200 and json.loads(body).get("code") == 0
        finally:
            s.close()


def closed_by_peer(s):
    """True if the server closed s (EOF or reset), without blocking."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(4096) == b""  # a slowloris gets no answer: EOF is the close
    except (ConnectionResetError, BrokenPipeError):
        return True
    except BlockingIOError:
        return False


class Slowloris(Base):
    # idle after 3 s, a head within 4 s (a whole request: the default 120 s)
    server_args = ("--timeout", "3", "--header-timeout", "4")

    def test_slow_heads_are_closed_and_others_served(self):
        pad = b"a" * 300  # at a byte a second the head would take over 6 minutes
        rest = b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\nX-Pad: " + pad
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # an HTTP/2 client as slow
        slow = []
        for i in range(60):
            s = self.connect()
            slow.append([s, preface if i % 4 == 0 else rest, 0, None])
        t0 = time.time()
        answered = 0
        while time.time() - t0 < 60 and any(c[3] is None for c in slow):
            for c in slow:
                if c[3] is not None:
                    continue
                if closed_by_peer(c[0]):
                    c[3] = time.time() - t0
                    continue
                try:
                    c[0].sendall(c[1][c[2]:c[2] + 1])  # the next byte
                    c[2] += 1
                except OSError:  # the server closed it: EPIPE or ECONNRESET
                    c[3] = time.time() - t0
            # meanwhile others are served, each on a new connection
            self.assertTrue(self.served(), "a normal client was not served during slowloris")
            answered += 1
            time.sleep(1)
        for c in slow:
            c[0].close()
        still = [c for c in slow if c[3] is None]
        self.assertEqual(still, [], "slow connections the server did not close")
        # none got to send its whole head: each was cut, not answered
        self.assertTrue(all(c[2] < len(c[1]) for c in slow))
        self.assertGreater(answered, 3)
        self.assertTrue(self.served())


class BigHeads(Base):
    def expect_431(self, head):
        s = self.connect(30)
        try:
            try:
                s.sendall(head)
            except OSError:  # the server answered and closed before all was sent
                pass
            st, body = read_answer(s)
        finally:
            s.close()
        self.assertEqual(st, 431, body[:200])
        r = json.loads(body)
        self.assertEqual(r["code"], 1102, r)
        self.assertIn("header fields are over", r["message"])

    def test_one_huge_header(self):
        self.expect_431(b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\nX-Big: " +
                        b"a" * 100000 + b"\r\nContent-Length: 2\r\n\r\n{}")
        self.assertTrue(self.served())

    def test_many_small_headers(self):
        many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 30) for i in range(3000))
        self.expect_431(b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\n" + many +
                        b"Content-Length: 2\r\n\r\n{}")
        self.assertTrue(self.served())

    def test_head_that_never_ends(self):
        # header bytes without the blank line, in 8 KiB pieces: refused once past the cap
        # (the answer comes while we still send), not buffered without bound
        s = self.connect(30)
        sent = 0
        try:
            s.sendall(b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\n")
            while sent < 4 << 20 and not select.select([s], [], [], 0)[0]:
                s.sendall(b"X-More: " + b"m" * 8180 + b"\r\n")
                sent += 8190
                time.sleep(0.001)
        except OSError:  # the server answered 431 and closed
            pass
        st, body = read_answer(s)
        s.close()
        self.assertEqual(st, 431, body[:200])
        self.assertLess(sent, 4 << 20, "the server took 4 MiB of head without refusing it")

    def test_big_head_under_the_cap_is_served(self):
        s = self.connect(30)
        try:
            s.sendall(b"POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\nX-Big: " +
                      b"a" * 60000 + b"\r\nContent-Length: 2\r\n\r\n{}")
            st, body = read_answer(s)
        finally:
            s.close()
        self.assertEqual(st, 200, body[:200])


def h2_frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    """A header field as HPACK's literal without indexing, new name, no Huffman (short ones)."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_read_frames(s, buf):
    """Frames complete in buf + what s has now: ([(type, flags, stream, payload)], rest)."""
    try:
        while select.select([s], [], [], 0)[0]:
            chunk = s.recv(65536)
            if not chunk:
                return None, buf
            buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        return None, buf
    frames = []
    while len(buf) >= 9:
        n = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + n:
            break
        frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff,
                       buf[9:9 + n]))
        buf = buf[9 + n:]
    return frames, buf


H2_HEAD = b"".join(hpack_literal(k, v) for k, v in [
    (b":method", b"POST"), (b":scheme", b"http"),
    (b":path", b"/milvus.proto.milvus.MilvusService/Insert"),
    (b":authority", b"127.0.0.1"), (b"content-type", b"application/grpc"),
    (b"te", b"trailers")])


class H2Slow(Base):
    # idle after 3 s, a whole request within 5 s, 8 calls at once per connection
    server_args = ("--timeout", "3", "--request-timeout", "5", "--max-streams", "8")

    def test_more_streams_than_allowed(self):
        # 40 calls opened at once and left unfinished: those past --max-streams are refused
        # (RST_STREAM), the others cut at --request-timeout; the connection and the server go on
        s = self.connect()
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0))
        time.sleep(0.2)  # the server's SETTINGS (its stream limit) first
        s.sendall(b"".join(h2_frame(1, 0x4, 2 * i + 1, H2_HEAD) for i in range(40)))
        t0, buf, reset, ended, pongs = time.time(), b"", set(), set(), 0
        while time.time() - t0 < 60 and len(reset | ended) < 40:
            frames, buf = h2_read_frames(s, buf)
            self.assertIsNotNone(frames, "the connection was closed")
            for ftype, flags, stream, _ in frames:
                if ftype == 4 and not flags & 1:
                    s.sendall(h2_frame(4, 1, 0))  # SETTINGS ACK
                elif ftype == 3:
                    reset.add(stream)
                elif ftype == 1 and flags & 1:
                    ended.add(stream)
                elif ftype == 6 and flags & 1:
                    pongs += 1
            s.sendall(h2_frame(6, 0, 0, b"\x00" * 8))
            self.assertTrue(self.served())
            time.sleep(0.5)
        s.close()
        self.assertEqual(len(reset | ended), 40, (sorted(reset), sorted(ended)))
        self.assertGreaterEqual(len(reset), 32, "streams past --max-streams were not refused")
        self.assertGreater(pongs, 0)

    def test_stalled_call_kept_alive_by_pings_is_cut(self):
        # a gRPC call whose message never finishes arriving, on a connection the client keeps
        # busy with a PING a second (never idle): the call is answered DEADLINE_EXCEEDED at
        # --request-timeout, as a trickling HTTP/1.1 request is cut, and others are served
        s = self.connect()
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0))
        s.sendall(h2_frame(1, 0x4, 1, H2_HEAD))  # HEADERS, END_HEADERS, not END_STREAM
        s.sendall(h2_frame(0, 0, 1, b"\x00\x00\x00\x01\x00" + b"\x0a" * 100))  # 100 of 256
        t0, buf, answered, served = time.time(), b"", False, 0
        while time.time() - t0 < 60 and not answered:
            frames, buf = h2_read_frames(s, buf)
            self.assertIsNotNone(frames, "the connection was closed, the call not answered")
            for ftype, flags, stream, _ in frames:
                if ftype == 4 and not flags & 1:
                    s.sendall(h2_frame(4, 1, 0))  # SETTINGS ACK
                if stream == 1 and (ftype == 3 or (ftype == 1 and flags & 1)):
                    answered = True  # RST_STREAM, or the trailers (END_STREAM)
            s.sendall(h2_frame(6, 0, 0, b"\x00" * 8))  # PING: the connection is not idle
            self.assertTrue(self.served())
            served += 1
            time.sleep(1)
        s.close()
        self.assertTrue(answered, "a stalled call on a busy connection was never cut")
        self.assertGreater(served, 2)


class ConnectionCap(Base):
    server_args = ("--max-connections", "20", "--timeout", "60")

    def test_idle_connections_up_to_and_past_the_cap(self):
        # 10 that never send a byte, 9 kept alive after one request: 19 of 20 slots
        idle = [self.connect() for _ in range(10)]
        kept = []
        for _ in range(9):
            s = self.connect()
            s.sendall(LIST)
            self.assertEqual(read_answer(s)[0], 200)
            kept.append(s)
        # the 20th slot: served, again and again on its connection
        active = self.connect()
        for _ in range(3):
            active.sendall(LIST)
            self.assertEqual(read_answer(active)[0], 200)
        # past the cap: a clear refusal at once, not a connection left hanging
        for _ in range(10):
            s = self.connect(timeout=10)
            try:
                s.sendall(LIST)
            except OSError:
                pass
            st, body = read_answer(s)
            s.close()
            self.assertEqual(st, 503, body[:200])
            r = json.loads(body)
            self.assertEqual(r["code"], 2, r)
            self.assertIn("--max-connections 20", r["message"])
        # a gRPC client past the cap (its preface first): an HTTP/1.1 503 and a close, which its
        # HTTP/2 stack reports as a failed call rather than waiting
        s = self.connect(timeout=10)
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0))
        st, body = read_answer(s)
        s.close()
        self.assertEqual(st, 503, body[:200])
        # those under the cap are still served
        active.sendall(LIST)
        self.assertEqual(read_answer(active)[0], 200)
        for s in kept:
            s.sendall(LIST)
            self.assertEqual(read_answer(s)[0], 200)
        # slots freed: new connections are served again (once the server saw the closes)
        for s in idle[:5]:
            s.close()
        deadline = time.time() + 30
        ok = False
        while not ok and time.time() < deadline:
            s = self.connect()
            try:
                s.sendall(LIST)
                ok = read_answer(s)[0] == 200
            except OSError:
                pass
            s.close()
            if not ok:
                time.sleep(0.1)
        self.assertTrue(ok, "no slot came back after 5 idle connections closed")
        for s in idle[5:] + kept + [active]:
            s.close()


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main()
