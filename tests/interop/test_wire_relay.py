#!/usr/bin/env python3
"""Checks the write-splitting relay of the conformance matrix
(tests/interop/wire/relay.py) on its own: bytes arrive intact and in order
both ways, every piece is 1-7 bytes below the bulk threshold, the receiver
really sees short reads, the cuts repeat with the same seed, a half-close
passes through, and a reset on one side does not cut off what the other
direction still carries."""
import os
import random
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wire.relay import Relay  # noqa: E402

FAILS = 0


def check(name, cond, why=""):
    global FAILS
    if cond:
        print("ok relay_%s" % name, flush=True)
    else:
        FAILS += 1
        print("FAIL relay_%s: %s" % (name, why), flush=True)


class Sink:
    """Accepts one connection; records every recv() size and the bytes."""

    def __init__(self, reply=b""):
        self.l = socket.socket()
        self.l.bind(("127.0.0.1", 0))
        self.l.listen(1)
        self.port = self.l.getsockname()[1]
        self.data = bytearray()
        self.reads = []
        self.reply = reply
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.l.settimeout(10)
        c, _ = self.l.accept()
        c.settimeout(10)
        if self.reply:
            c.sendall(self.reply)
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                break
            if not d:
                break
            self.reads.append(len(d))
            self.data += d
            time.sleep(0.0002)   # a slow reader, as wsx under ASan
        c.close()
        self.l.close()


def transfer(seed, payload, reply=b""):
    sink = Sink(reply)
    r = Relay(sink.port, seed)
    r.record = []
    c = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    got = bytearray()
    c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += d
    c.close()
    sink.t.join(10)
    r.stop()
    return sink, r, bytes(got)


def main():
    rng = random.Random(7)
    payload = bytes(rng.randrange(256) for _ in range(20000))
    reply = bytes(rng.randrange(256) for _ in range(3000))
    sink, r, got = transfer("42", payload, reply)
    check("intact_up", bytes(sink.data) == payload,
          "%d of %d bytes, equal %s" % (len(sink.data), len(payload),
                                         bytes(sink.data) == payload))
    check("intact_down_and_half_close", got == reply,
          "%d of %d bytes" % (len(got), len(reply)))
    check("pieces_1_to_7", r.record and max(r.record) <= 7 and
          min(r.record) >= 1, "piece sizes %s" % sorted(set(r.record)))
    short = sum(1 for n in sink.reads if n <= 7)
    check("short_reads", short >= 10 and max(sink.reads) < len(payload),
          "reads %s" % sink.reads[:20])
    first = list(r.record)
    _, r2, _ = transfer("42", payload, reply)
    check("same_seed_same_cuts", sorted(r2.record) == sorted(first),
          "the cuts differ")
    _, r3, _ = transfer("43", payload, reply)
    check("other_seed_other_cuts", sorted(r3.record) != sorted(first),
          "seed 43 cut like seed 42")
    # Bulk: past the threshold the pieces grow.
    big = bytes(400 << 10)
    sink, r, _ = transfer("1", big)
    check("bulk_pieces", bytes(sink.data) == big and max(r.record) > 7,
          "largest piece %d" % max(r.record))
    # The far side closes while the near side still sends (a server
    # closing after the close handshake, a client sending on): the far
    # side's last bytes must still arrive although the near side's bytes
    # now meet a reset.
    far = socket.socket()
    far.bind(("127.0.0.1", 0))
    far.listen(1)
    rr = Relay(far.getsockname()[1], "9")
    c = socket.create_connection(("127.0.0.1", rr.port), timeout=10)
    f, _ = far.accept()
    last = bytes(range(256)) * 12
    f.sendall(last)
    f.close()
    got = b""
    c.settimeout(10)
    try:
        for _ in range(200):
            c.send(b"x" * 64)
            time.sleep(0.001)
    except OSError:
        pass
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    c.close()
    rr.stop()
    far.close()
    check("reset_keeps_other_direction", got == last,
          "%d of %d bytes arrived" % (len(got), len(last)))
    print("# %d failed" % FAILS)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
