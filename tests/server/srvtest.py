"""Helpers for the vdb-server tests: start a server on a free loopback port, talk to it."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time


class Server:
    """A vdb-server process on 127.0.0.1 (--port 0: the port is read from its stdout)."""

    def __init__(self, binary, *args, data=None, tls_ctx=None):
        self.binary = binary
        self.args = list(args)
        self.own_dir = data is None
        self.dir = data or tempfile.mkdtemp(prefix="vdb-server-test.")
        self.data = os.path.join(self.dir, "data") if self.own_dir else self.dir
        self.tls_ctx = tls_ctx
        self.proc = None
        self.port = None
        self.log = None

    def start(self):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [self.binary, "--port", "0", "--data", self.data, *self.args],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"vdb-server listening on https?://127\.0\.0\.1:(\d+)$", line.strip())
        if not m:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("vdb-server did not start: %r\n%s" % (line, self.stderr()))
        self.port = int(m.group(1))  # bound and listening once the line is printed
        return self

    def stderr(self):
        if not self.log or self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Sends sig and waits; returns the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.proc.stdout.close()
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        if self.proc is not None:
            self.kill()
        if self.log:
            self.log.close()
            self.log = None
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def conn(self, timeout=30):
        if self.tls_ctx is not None:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.tls_ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def post_raw(self, path, body, headers=None, timeout=60):
        """POSTs body (bytes/str) to path; returns (HTTP status, parsed JSON or raw text)."""
        c = self.conn(timeout)
        try:
            h = {"Content-Type": "application/json"}
            h.update(headers or {})
            c.request("POST", path, body=body, headers=h)
            r = c.getresponse()
            text = r.read()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text
        finally:
            c.close()

    def post(self, endpoint, obj, token=None, timeout=60):
        """POSTs obj as JSON to /v2/vectordb/<endpoint>; returns (HTTP status, response)."""
        headers = {"Authorization": "Bearer " + token} if token else {}
        return self.post_raw("/v2/vectordb/" + endpoint, json.dumps(obj), headers, timeout)

    def post_big(self, path, body, headers=None):
        """Sends a body the server may refuse before reading it: sends what it can, then reads
        the answer; returns (HTTP status, response JSON) or (None, b"") when none came."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % (
            path, len(body))
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        if isinstance(body, str):
            body = body.encode()
        try:
            s.sendall(head.encode() + b"\r\n")
            for i in range(0, len(body), 1 << 20):
                s.sendall(body[i:i + (1 << 20)])
        except OSError:  # the server closed first: any of EPIPE, ECONNRESET, ENOTCONN
            pass
        reply = b""
        try:
            while b"\r\n\r\n" not in reply or len(reply) < reply.index(b"\r\n\r\n") + 4 + \
                    int(re.search(rb"Content-Length: (\d+)", reply).group(1)):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except (OSError, AttributeError):
            pass
        s.close()
        m = re.match(rb"HTTP/1\.1 (\d+)", reply)
        if not m:
            return None, reply
        return int(m.group(1)), json.loads(reply.split(b"\r\n\r\n", 1)[1])

    def call(self, endpoint, obj, token=None):
        """Like post, but expects HTTP 200 and code 0; returns "data"."""
        status, r = self.post(endpoint, obj, token)
        if status != 200 or not isinstance(r, dict) or r.get("code") != 0:
            raise AssertionError("%s: HTTP %s %r" % (endpoint, status, r))
        return r.get("data")


def vec(i, dim):
    import math
    return [math.sin(i * 7.3 + j * 1.7) for j in range(dim)]


def make_cert(folder):
    """A self-signed certificate for 127.0.0.1 made with openssl; (cert, key) paths or None."""
    if not shutil.which("openssl"):
        return None
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (cert, key) if r.returncode == 0 else None


def tls_context(cert):
    ctx = ssl.create_default_context(cafile=cert)
    return ctx
