#!/usr/bin/env python3
"""Raw HTTP/1.1 pipelining against examples/cookie_server: three requests in
one write, the answers must come back complete and in order on the same
connection; then a WebSocket upgrade on that connection and an echo.
argv: port. Prints ok/FAIL lines."""
import os
import socket
import struct
import sys

PORT = int(sys.argv[1])
results = []


def check(name, cond, why):
    print(("ok %s" % name) if cond else ("FAIL %s: %s" % (name, why)))
    sys.stdout.flush()
    return cond


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed with %r unread" % self.buf[:80])
        self.buf += chunk

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        return lines[0], hdrs

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def main():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    r = Reader(s)
    paths = ["/one", "/two", "/three"]
    s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode()
                       for p in paths))
    bodies = []
    for _ in paths:
        status, hdrs = r.head()
        if not status.startswith("HTTP/1.1 200"):
            return check("pipeline_three_in_order", False, status)
        if "close" in ",".join(hdrs.get("connection", [])).lower():
            return check("pipeline_three_in_order", False, "Connection: close")
        bodies.append(r.take(int(hdrs["content-length"][0])).decode())
    want = ["hello %s\n" % p for p in paths]
    check("pipeline_three_in_order", bodies == want, "got %r" % bodies)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    s.sendall(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    status, hdrs = r.head()
    if not check("pipeline_then_upgrade_101", status.startswith("HTTP/1.1 101"),
                 status):
        return
    check("pipeline_upgrade_sets_cookies",
          len(hdrs.get("set-cookie", [])) == 2, repr(hdrs.get("set-cookie")))
    payload = b"hello after three requests"
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)
    hdr = r.take(2)
    n = hdr[1] & 0x7F
    echo = r.take(n)
    check("pipeline_upgrade_echo", hdr[0] == 0x81 and echo == payload,
          "got %r %r" % (hdr, echo))
    s.sendall(struct.pack("!BB", 0x88, 0x82) + b"\0\0\0\0" + b"\x03\xe8")
    s.close()


try:
    main()
except Exception as e:  # a hang or a reset is a failure, not a traceback
    print("FAIL pipeline_script: %s" % e)
