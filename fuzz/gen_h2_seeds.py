#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_h2.c into fuzz/corpus/h2/: byte 0
(the piece size: 0 = whole) followed by what a python3-h2 client sends after
its connection preface. Run from the repository root with Debian's python3
(python3-h2); the seeds are checked in, so this is only needed to change
them."""
import os
import struct

import h2.config
import h2.connection
import h2.settings

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "h2")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(op, payload, rsv1=False):
    key = b"\x01\x02\x03\x04"
    b0 = 0x80 | (0x40 if rsv1 else 0) | op
    n = len(payload)
    head = struct.pack("!BB", b0, 0x80 | n) if n < 126 else \
        struct.pack("!BBH", b0, 0x80 | 126, n)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def client(validate=True):
    c = h2.connection.H2Connection(config=h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8",
        validate_outbound_headers=validate,
        normalize_outbound_headers=validate))
    c.initiate_connection()
    return c


def ws_headers(path="/", extra=()):
    return [(":method", "CONNECT"), (":protocol", "websocket"),
            (":scheme", "https"), (":path", path), (":authority", "localhost"),
            ("sec-websocket-version", "13")] + list(extra)


def out(c):
    d = c.data_to_send()
    assert d.startswith(PREFACE)
    return d[len(PREFACE):]


def seeds():
    c = client()
    c.send_headers(1, ws_headers())
    c.send_data(1, frame(1, b"hello"))
    c.send_data(1, frame(8, b"\x03\xe8bye"), end_stream=True)
    yield "echo_close", out(c)

    c = client()
    c.send_headers(1, ws_headers("/", [("sec-websocket-extensions",
                                        "permessage-deflate")]))
    c.send_data(1, frame(1, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv1=True))
    yield "deflate", out(c)

    c = client()
    for i in range(5):
        sid = 1 + 2 * i
        c.send_headers(sid, ws_headers(f"/s{i}"))
        c.send_data(sid, frame(2, bytes(range(i * 10))))
    c.reset_stream(3)
    c.send_data(5, frame(1, b"drop it"))
    c.send_data(7, frame(1, b"pause now"))
    c.send_data(9, frame(1, b"bye now"))
    yield "many_reset", out(c)

    c = client()
    c.send_headers(1, ws_headers("/reject"))
    c.send_headers(3, [(":method", "GET"), (":scheme", "https"),
                       (":path", "/x?y"), (":authority", "localhost")],
                   end_stream=True)
    c.send_headers(5, [(":method", "POST"), (":scheme", "https"),
                       (":path", "/p"), (":authority", "localhost"),
                       ("content-type", "text/plain")])
    c.send_data(5, b"a body", end_stream=True)
    yield "reject_http", out(c)

    c = client()
    c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 10})
    c.send_headers(1, ws_headers())
    c.send_data(1, frame(2, b"x" * 200))
    c.increment_flow_control_window(1000, stream_id=1)
    c.ping(b"12345678")
    yield "window", out(c)

    c = client(validate=False)
    c.send_headers(1, [(":method", "CONNECT"), (":protocol", "websocket"),
                       (":scheme", "https"), (":authority", "localhost")])
    c.send_headers(3, [(":method", "CONNECT"), (":protocol", "chat"),
                       (":scheme", "https"), (":path", "/"),
                       (":authority", "localhost")])
    c.send_headers(5, [(":method", "CONNECT"), (":authority", "h:1")])
    c.send_headers(7, ws_headers("/", [("sec-websocket-version", "8")]))
    yield "bad", out(c)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds():
        for piece in (0, 7):
            with open(os.path.join(OUT, f"{name}_{piece}"), "wb") as f:
                f.write(bytes([piece]) + data)


if __name__ == "__main__":
    main()
