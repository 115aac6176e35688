#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_h2c.c into fuzz/corpus/h2c/: byte 0
(bits 0-5: the piece size, 0 = whole; bit 6: the target first feeds a
SETTINGS frame enabling extended CONNECT on its own) followed by what an HTTP/2 server sends to
the client's two streams (ids 1 and 3). Run from the repository root with
Debian's python3 (python3-hpack, a dependency of python3-h2); the seeds are
checked in, so this is only needed to change them."""
import os
import struct

import hpack

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "h2c")
DATA, HEADERS, RST, SETTINGS, GOAWAY, WINDOW = 0, 1, 3, 4, 7, 8
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(typ, flags, sid, payload=b""):
    return struct.pack("!I", len(payload))[1:] + bytes([typ, flags]) + \
        struct.pack("!I", sid) + payload


def settings(**kv):
    ids = {"window": 4, "connect": 8, "frame": 5}
    return frame(SETTINGS, 0, 0, b"".join(
        struct.pack("!HI", ids[k], v) for k, v in kv.items()))


def headers(enc, sid, status, extra=(), end=False):
    block = enc.encode([(":status", str(status))] + list(extra))
    return frame(HEADERS, END_HEADERS | (END_STREAM if end else 0), sid, block)


def ws(op, payload, rsv1=False):
    b0 = 0x80 | (0x40 if rsv1 else 0) | op
    n = len(payload)
    head = struct.pack("!BB", b0, n) if n < 126 else \
        struct.pack("!BBH", b0, 126, n)
    return head + payload


def seeds():
    e = hpack.Encoder()
    yield "echo_close", 0x40, headers(e, 1, 200) + headers(e, 3, 200) + \
        frame(DATA, 0, 1, ws(1, b"hello")) + frame(DATA, 0, 3, ws(1, b"bye")) + \
        frame(DATA, END_STREAM, 1, ws(8, b"\x03\xe8done"))

    e = hpack.Encoder()
    yield "deflate", 0x40, headers(
        e, 1, 200, [("sec-websocket-extensions", "permessage-deflate")]) + \
        frame(DATA, 0, 1, ws(1, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv1=True))

    e = hpack.Encoder()
    yield "reject_reset", 0x40, headers(
        e, 1, 403, [("content-length", "3")]) + frame(DATA, END_STREAM, 1,
                                                     b"no!") + \
        headers(e, 3, 200) + frame(RST, 0, 3, struct.pack("!I", 8))

    yield "no_connect", 0, settings(window=65535)

    e = hpack.Encoder()
    yield "goaway", 0x40, \
        frame(GOAWAY, 0, 0, struct.pack("!II", 1, 0)) + headers(e, 1, 200) + \
        frame(DATA, 0, 1, ws(1, b"drop"))

    e = hpack.Encoder()
    yield "window_pause", 0x40, settings(window=10) + \
        headers(e, 1, 200) + headers(e, 3, 200) + \
        frame(DATA, 0, 1, ws(1, b"pause now")) + \
        frame(DATA, 0, 3, ws(2, bytes(range(100)))) + \
        frame(WINDOW, 0, 3, struct.pack("!I", 1000)) + \
        frame(DATA, 0, 1, ws(1, b"after pause"))

    e = hpack.Encoder()
    yield "informational", 0x40, headers(e, 1, 100) + headers(e, 1, 200) + \
        headers(e, 3, 200, [("sec-websocket-protocol", "nope")]) + \
        frame(DATA, 0, 1, ws(9, b"ping"))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, flags, data in seeds():
        for piece in (0, 7):
            with open(os.path.join(OUT, f"{name}_{piece}"), "wb") as f:
                f.write(bytes([flags | piece]) + data)


if __name__ == "__main__":
    main()
