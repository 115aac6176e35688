#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_frames and fuzz_handshake.

Run from the repository root: python3 fuzz/gen_driver_seeds.py
The layout of a seed is described at the top of each fuzz target.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(b0, payload=b"", masked=False, length=None, form=None):
    n = len(payload) if length is None else length
    mbit = 0x80 if masked else 0
    if form is None:
        form = 7 if n <= 125 else 16 if n <= 0xFFFF else 64
    if form == 7:
        head = bytes([b0, mbit | n])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    body = bytes(c ^ MASK[i % 4] for i, c in enumerate(payload))
    return head + MASK + body


def close(code=None, reason=b"", masked=False):
    p = b"" if code is None else struct.pack(">H", code) + reason
    return frame(0x88, p, masked)


def frames_seeds():
    seeds = {}
    for role, m in (("server", True), ("client", False)):
        r = 0 if role == "server" else 1
        def s(name, flags, body, b1=0):
            seeds["%s_%s" % (role, name)] = bytes([flags | r, b1]) + body
        s("text_hello", 0, frame(0x81, b"Hello", m))
        s("fragmented", 0, frame(0x01, b"Hel", m) + frame(0x80, b"lo", m))
        s("ping_inside_fragments", 0x20, frame(0x01, b"Hel", m)
          + frame(0x89, b"mid", m) + frame(0x80, b"lo", m))
        s("ping_pong", 0, frame(0x89, b"Hello", m) + frame(0x8A, b"x", m))
        s("binary_256", 0x40, frame(0x82, bytes(range(256)), m))
        s("binary_70000", 0, frame(0x82, b"\x00" * 70000, m))
        s("close_1000", 0, close(1000, b"bye", m) + frame(0x81, b"late", m))
        s("close_empty", 0, close(None, b"", m))
        s("close_1byte", 0, frame(0x88, b"\x03", m))
        s("close_bad_code", 0, close(1005, b"", m))
        s("close_bad_utf8", 0, close(1000, b"\xed\xa0\x80", m))
        s("rsv1", 0, frame(0xC1, b"Hello", m))
        s("opcode_3", 0, frame(0x83, b"x", m))
        s("opcode_b", 0, frame(0x8B, b"x", m))
        s("wrong_mask", 0, frame(0x81, b"Hello", not m))
        s("utf8_invalid", 0, frame(0x81, b"\xce\xba\xed\xa0\x80edited", m))
        s("utf8_split", 0x60, frame(0x01, b"caf\xc3", m)
          + frame(0x80, b"\xa9", m))
        s("ping_126", 0, frame(0x89, b"p" * 126, m))
        s("ping_fragmented", 0, frame(0x09, b"a", m) + frame(0x80, b"b", m))
        s("len64_msb", 0, frame(0x82, b"", m, length=1 << 63, form=64))
        s("len_nonminimal", 0, frame(0x81, b"Hi", m, form=16)
          + frame(0x81, b"Hi", m, form=64))
        s("orphan_continuation", 0, frame(0x80, b"x", m))
        s("text_while_fragmented", 0, frame(0x01, b"a", m)
          + frame(0x81, b"b", m))
        s("frame_events", 0x02, frame(0x01, b"Hel", m)
          + frame(0x00, b"l", m) + frame(0x80, b"o", m)
          + frame(0x82, b"bin", m))
        s("max_length_64", 0x04, frame(0x82, b"a" * 64, m)
          + frame(0x82, b"a" * 65, m))
        s("max_length_announce", 0x04, frame(0x82, b"", m, length=1 << 40))
        s("max_fragments_3", 0x08, frame(0x01, b"a", m) + frame(0x00, b"b", m)
          + frame(0x00, b"c", m) + frame(0x80, b"d", m))
        s("max_frame_size_16", 0, frame(0x82, b"a" * 17, m), b1=0x80 | 16)
        s("fragment_outgoing", 0x10, frame(0x81, b"echo me in pieces", m))
        s("many_small", 0xA0, b"".join(frame(0x81, b"m%d" % i, m)
                                        for i in range(40)))
        s("truncated", 0, frame(0x81, b"x" * 100, m)[:40])
    return seeds


REQ = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
       b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       b"Sec-WebSocket-Version: 13\r\n")


def handshake_seeds():
    S = 0x10  # server: start() from connect
    seeds = {
        "server_rfc_example": bytes([S]) + REQ + b"\r\n",
        "server_no_start": bytes([0]) + REQ + b"\r\n",
        "server_protocols": bytes([S | 4]) + REQ
        + b"Sec-WebSocket-Protocol: v2, superchat, chat\r\n\r\n",
        "server_version_8": bytes([S]) + REQ.replace(b"Version: 13",
                                                     b"Version: 8") + b"\r\n",
        "server_version_99": bytes([S]) + REQ.replace(b"Version: 13",
                                                      b"Version: 99") + b"\r\n",
        "server_post": bytes([S]) + REQ.replace(b"GET", b"POST") + b"\r\n",
        "server_missing_key": bytes([S]) + REQ.replace(
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b"") + b"\r\n",
        "server_short_key": bytes([S]) + REQ.replace(
            b"dGhlIHNhbXBsZSBub25jZQ==", b"AAAAAAAAAAAAAAAAAAAA") + b"\r\n",
        "server_connection_list": bytes([S]) + REQ.replace(
            b"Connection: Upgrade", b"Connection: keep-alive, Upgrade")
        + b"\r\n",
        "server_plain_http_body": bytes([0])
        + b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "server_frames_after_head": bytes([S]) + REQ + b"\r\n"
        + frame(0x81, b"early", True),
        "server_head_limit": bytes([S | 2]) + REQ + b"X-Pad: " + b"p" * 300
        + b"\r\n\r\n",
        "server_bare_lf": bytes([S]) + REQ.replace(b"\r\n", b"\n") + b"\n",
        "server_extensions": bytes([S]) + REQ
        + b"Sec-WebSocket-Extensions: permessage-deflate; "
          b"client_max_window_bits\r\n\r\n",
        "client_valid_rest": bytes([1 | 8])
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        + frame(0x81, b"welcome"),
        "client_protocol": bytes([1 | 8 | 4])
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Protocol: superchat\r\n\r\n",
        "client_protocol_not_offered": bytes([1 | 8])
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Protocol: chat\r\n\r\n",
        "client_extension_not_offered": bytes([1 | 8])
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        "client_missing_upgrade": bytes([1 | 8])
        + b"Connection: Upgrade\r\n\r\n",
        "client_403": bytes([1])
        + b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        "client_bad_accept": bytes([1])
        + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        "client_head_limit": bytes([1 | 8 | 2])
        + b"Upgrade: websocket\r\n" + b"X-A: 1\r\n" * 12 + b"\r\n",
    }
    return seeds


def write(dirname, seeds):
    d = os.path.join(ROOT, dirname)
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("frames", frames_seeds())
    write("handshake", handshake_seeds())
