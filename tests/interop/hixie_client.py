#!/usr/bin/env python3
"""Raw-socket hixie-75 / hixie-76 clients against `wsx echo --allow-drafts`.

usage: hixie_client.py HOST PORT [refused]

Prints "ok <name>" or "FAIL <name>: why" per check. With "refused" it only
checks that both drafts get a 400 (a server without --allow-drafts).
"""
import hashlib
import random
import socket
import struct
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
MODE = sys.argv[3] if len(sys.argv) > 3 else "all"
TIMEOUT = 5.0
failures = 0


def ok(name):
    print("ok " + name, flush=True)


def fail(name, why):
    global failures
    failures += 1
    print("FAIL %s: %s" % (name, why), flush=True)


def connect():
    s = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def read_head(s):
    b = b""
    while not b.endswith(b"\r\n\r\n"):
        c = s.recv(1)
        if not c:
            raise EOFError("connection closed in the response head: %r" % b)
        b += c
    lines = b.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers


def make_key():
    """A -76 key as the draft's client algorithm builds it (section 4.1)."""
    spaces = random.randint(1, 12)
    number = random.randint(0, 4294967295 // spaces)
    chars = list(str(number * spaces))
    junk = [chr(c) for c in list(range(0x21, 0x30)) + list(range(0x3A, 0x7F))]
    for _ in range(random.randint(1, 12)):
        chars.insert(random.randint(0, len(chars)), random.choice(junk))
    for _ in range(spaces):
        chars.insert(random.randint(1, len(chars) - 1), " ")
    return "".join(chars), number


def frame(text):
    return b"\x00" + text.encode("utf-8") + b"\xff"


def read_frame(s):
    t = read_exact(s, 1)
    if t != b"\x00":
        return t  # not a text frame: the caller decides
    b = b""
    while True:
        c = read_exact(s, 1)
        if c == b"\xff":
            return b.decode("utf-8")
        b += c


def handshake76(s, path="/chat", protocol="echo-proto", delay=0.0):
    k1, n1 = make_key()
    k2, n2 = make_key()
    key3 = bytes(random.getrandbits(8) for _ in range(8))
    head = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: Upgrade\r\n"
            "Upgrade: WebSocket\r\nOrigin: http://example.com\r\n"
            "Sec-WebSocket-Protocol: %s\r\n"
            "Sec-WebSocket-Key1: %s\r\nSec-WebSocket-Key2: %s\r\n\r\n"
            % (path, HOST, PORT, protocol, k1, k2)).encode()
    expect = hashlib.md5(struct.pack(">II", n1, n2) + key3).digest()
    if delay:
        s.sendall(head)
        time.sleep(delay)
        # Nothing past the head may have come before key3 was sent.
        status, headers = read_head(s)
        s.settimeout(0.05)
        try:
            early = s.recv(16)
        except socket.timeout:
            early = b""
        s.settimeout(TIMEOUT)
        if early:
            raise AssertionError("challenge answer sent before key3: %r" % early)
        s.sendall(key3)
    else:
        s.sendall(head + key3)
        status, headers = read_head(s)
    answer = read_exact(s, 16)
    want = {
        "upgrade": "WebSocket",
        "connection": "Upgrade",
        "sec-websocket-origin": "http://example.com",
        "sec-websocket-location": "ws://%s:%d%s" % (HOST, PORT, path),
        "sec-websocket-protocol": protocol,
    }
    if status != "HTTP/1.1 101 WebSocket Protocol Handshake":
        raise AssertionError("status line %r" % status)
    for k, v in want.items():
        if headers.get(k) != v:
            raise AssertionError("%s: %r, expected %r" % (k, headers.get(k), v))
    if answer != expect:
        raise AssertionError("challenge answer %r, expected %r" % (answer, expect))


def handshake75(s, path="/old"):
    s.sendall(("GET %s HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
               "Host: %s:%d\r\nOrigin: http://example.com\r\n"
               "WebSocket-Protocol: old-proto\r\n\r\n" % (path, HOST, PORT)).encode())
    status, headers = read_head(s)
    want = {
        "upgrade": "WebSocket",
        "connection": "Upgrade",
        "websocket-origin": "http://example.com",
        "websocket-location": "ws://%s:%d%s" % (HOST, PORT, path),
        "websocket-protocol": "old-proto",
    }
    if status != "HTTP/1.1 101 Web Socket Protocol Handshake":
        raise AssertionError("status line %r" % status)
    for k, v in want.items():
        if headers.get(k) != v:
            raise AssertionError("%s: %r, expected %r" % (k, headers.get(k), v))


MESSAGES = ["hello", "", "h\u00e9llo \u20ac", "\U0001F600 emoji", "x" * 3000,
            "\u65e5\u672c\u8a9e"]


def echo(s, name):
    # One write holding every frame, split by TCP as it likes.
    s.sendall(b"".join(frame(m) for m in MESSAGES))
    for m in MESSAGES:
        got = read_frame(s)
        if got != m:
            raise AssertionError("echo %r, expected %r" % (got[:40], m[:40]))
    # And one frame split over several writes.
    data = frame("split \u20ac message")
    for i in range(0, len(data), 3):
        s.sendall(data[i:i + 3])
        time.sleep(0.005)
    got = read_frame(s)
    if got != "split \u20ac message":
        raise AssertionError("split echo %r" % got)


def expect_eof(s):
    s.settimeout(TIMEOUT)
    rest = b""
    while True:
        c = s.recv(64)
        if not c:
            return rest
        rest += c


def check(name, fn):
    try:
        fn()
        ok(name)
    except Exception as e:  # every failure becomes one FAIL line
        fail(name, "%s: %s" % (type(e).__name__, e))


def t76_handshake():
    s = connect()
    handshake76(s)
    s.close()


def t76_echo_and_close():
    s = connect()
    handshake76(s)
    echo(s, "hixie76")
    s.sendall(b"\xff\x00")
    rest = expect_eof(s)
    if rest != b"\xff\x00":
        raise AssertionError("closing answer %r, expected ff 00 then EOF" % rest)
    s.close()


def t76_delayed_body():
    s = connect()
    handshake76(s, path="/delayed", delay=0.2)
    echo(s, "delayed")
    s.sendall(b"\xff\x00")
    if expect_eof(s) != b"\xff\x00":
        raise AssertionError("no closing frame")
    s.close()


def t76_invalid_utf8():
    s = connect()
    handshake76(s)
    s.sendall(b"\x00ok\xc0\xaf\xff")
    rest = expect_eof(s)
    if rest != b"\xff\x00":
        raise AssertionError("expected ff 00 then EOF, got %r" % rest)
    s.close()


def t75_echo_and_disconnect():
    s = connect()
    handshake75(s)
    echo(s, "hixie75")
    s.close()  # -75 closes by disconnecting
    # The server must still serve the next client.
    s = connect()
    handshake75(s)
    s.sendall(frame("again"))
    if read_frame(s) != "again":
        raise AssertionError("second -75 connection got no echo")
    s.close()


def refused():
    for name, head in (
        ("refused_hixie76",
         "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n"
         "Origin: http://example.com\r\nSec-WebSocket-Key1: %s\r\n"
         "Sec-WebSocket-Key2: %s\r\n\r\n" % (make_key()[0], make_key()[0])),
        ("refused_hixie75",
         "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n"
         "Origin: http://example.com\r\n\r\n"),
    ):
        def run(head=head):
            s = connect()
            s.sendall(head.encode())
            status, _ = read_head(s)
            if not status.startswith("HTTP/1.1 400"):
                raise AssertionError("status %r, expected 400" % status)
            s.close()
        check(name, run)


if MODE == "refused":
    refused()
else:
    check("hixie76_handshake", t76_handshake)
    check("hixie76_echo_and_close", t76_echo_and_close)
    check("hixie76_delayed_body", t76_delayed_body)
    check("hixie76_invalid_utf8_closes", t76_invalid_utf8)
    check("hixie75_echo_and_disconnect", t75_echo_and_disconnect)
sys.exit(1 if failures else 0)
