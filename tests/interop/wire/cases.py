"""Case definitions shared by the fuzzing client (tests wsx as a server) and
the fuzzing server (tests wsx as a client), after the public case list of the
Autobahn|Testsuite: 1.* to 10.* and the permessage-deflate cases 12.* and 13.*.
See docs/conformance.md for the mapping and the verdict rules.

A case is `Case(id, run, ...)`; `run(r)` drives a `Run`: it sends through
`r.conn` and declares what it expects with `r.expect(...)` and
`r.expect_close(...)`, then `judge(r)` gives (verdict, why) the way the
Autobahn|Testsuite does: the events received are compared with each expected
list (OK, NON-STRICT), then the closing behaviour is checked (who closed,
the peer's close code, clean or not). We are stricter than the suite's
summary table in one respect: a case whose events match but whose closing
behaviour is wrong (wrong endpoint, WRONG CODE, UNCLEAN, FAILED BY CLIENT)
is FAILED here.
"""
import hashlib
import os
import random
import time

from .conn import CLOSED, OPEN, frame_bytes

OK = "OK"
NON_STRICT = "NON-STRICT"
FAILED = "FAILED"
INFORMATIONAL = "INFORMATIONAL"
UNIMPLEMENTED = "UNIMPLEMENTED"

# Seconds the peer gets where the suite waits 1 s (fail-fast probes of 6.4.*,
# the pause in 5.19/5.20): long enough for a loopback peer to react, short
# enough to keep both directions under a few minutes.
WAIT = float(os.environ.get("WSX_WIRE_WAIT", "0.5"))
# The suite's killAfter(1): how long a peer has to fail or close the
# connection in the failure and close cases (2.5, 3.*, 4.*, 5.*, 6.*, 7.*).
KILL = 1.0
# Upper bound of any one case (the suite allows up to 100 s for 9.*).
CASE_CAP = float(os.environ.get("WSX_WIRE_CASE_CAP", "30"))
# 12.*/13.* send 1000 messages per case in the suite; by default we send
# min(1000, max(8, 1 MiB / size)) so that the 216 cases fit in seconds.
FULL = os.environ.get("WSX_WIRE_FULL") == "1"
# Bytes of messages per 12.*/13.* case when not FULL (scripts/conformance.py
# lowers it for the split-writes cells, where every byte crosses a relay).
DEFLATE_BYTES = int(os.environ.get("WSX_WIRE_DEFLATE_BYTES", str(1 << 20)))

CLOSE_NORMAL, CLOSE_PROTOCOL, CLOSE_INVALID = 1000, 1002, 1007


class Case:
    def __init__(self, cid, run, desc, offers=None, accept=None,
                 timed=False):
        self.id = cid
        self.run = run
        self.desc = desc
        self.offers = offers    # client side: Sec-WebSocket-Extensions
        self.accept = accept    # server side: offer list -> response or None
        self.timed = timed      # report the duration (9.*, 12.*, 13.*)
        self.deflate = offers is not None


class Run:
    """The state of one case on one connection."""

    def __init__(self, case, conn):
        self.case = case
        self.conn = conn
        self.expected = {}
        self.close = None
        self.suppress_close = False
        self.behavior = None      # set by cases that judge themselves
        self.result = None
        self.informational = False
        self.wrong_code_fatal = False
        self.started = time.monotonic()
        self.deadline = self.started + CASE_CAP

    def expect(self, ok, non_strict=None):
        self.expected = {OK: ok}
        if non_strict is not None:
            self.expected[NON_STRICT] = non_strict

    def expect_close(self, by_me, codes, clean, wrong_fatal=False):
        self.close = dict(by_me=by_me, codes=codes, clean=clean,
                          wrong_fatal=wrong_fatal)

    # Autobahn's finishWhenDone: once what we received equals every
    # expected outcome, the endpoint expected to close does so.
    def _all_match(self):
        return all(self.conn.received == v for v in self.expected.values())

    def _maybe_close(self):
        c = self.conn
        if (self.close and self.close["by_me"] and not self.suppress_close
                and not c.sent_close and c.state == OPEN and c.received
                and self._all_match()):
            c.send_close(self.close["codes"][0])

    def wait(self, seconds):
        """Handles input for `seconds` (closing when done); True if the
        connection is still open afterwards."""
        end = min(time.monotonic() + seconds, self.deadline)
        c = self.conn
        while c.state != CLOSED:
            self._maybe_close()
            left = end - time.monotonic()
            if left <= 0:
                break
            n = len(c.received)
            c.pump(left, until=lambda: len(c.received) != n)
        return c.state == OPEN

    def kill_after(self, seconds):
        """Waits for the end of the case; drops TCP at the deadline."""
        self.wait(seconds)
        if self.conn.state != CLOSED:
            self.conn.drop()

    def close_after(self, seconds):
        self.wait(seconds)
        c = self.conn
        if c.state == OPEN:
            c.send_close(CLOSE_NORMAL)
        self.kill_after(2)

    def later(self, seconds, marker=None):
        """Autobahn's continueLater: waits, then returns True (recording
        `marker`) if the connection is still OPEN."""
        self.wait(seconds)
        if self.conn.state != OPEN:
            return False
        if marker:
            self.conn.received.append(("timeout", marker))
        return True


def judge(r):
    """(verdict, why) for a finished run."""
    c = r.conn
    dur = time.monotonic() - r.started
    behavior, result = FAILED, "events differ from any expected: got %s" % (
        summarize(c.received),)
    for name in (OK, NON_STRICT):
        if name in r.expected and c.received == r.expected[name]:
            behavior, result = name, "got %s: the %s expectation" % (
                summarize(c.received), name)
            break
    if r.behavior is not None:
        behavior, result = r.behavior, r.result
    ex = r.close or dict(by_me=True, codes=[CLOSE_NORMAL], clean=True,
                         wrong_fatal=False)
    close_ok, close_why = True, ""
    if ex["by_me"] != c.closed_by_me:
        close_ok, close_why = False, (
            "the connection was closed by the wrong endpoint (%s closed)" %
            ("we" if c.closed_by_me else "the peer"))
    elif ex["clean"] and not c.was_clean:
        close_ok, close_why = False, "UNCLEAN: no complete close handshake"
    elif (c.remote_close_code is not None
          and c.remote_close_code not in ex["codes"]):
        close_ok, close_why = False, "WRONG CODE %d (expected %s or none)" % (
            c.remote_close_code, ",".join(map(str, ex["codes"])))
    elif c.role == "client" and c.dropped_by_me:
        close_ok, close_why = False, ("FAILED BY CLIENT: the server did not "
                                      "close TCP after the close handshake")
    if ex["wrong_fatal"] and ex["by_me"] != c.closed_by_me:
        behavior = FAILED
    if r.wrong_code_fatal and close_why.startswith("WRONG CODE"):
        behavior = FAILED
    if r.informational:
        return INFORMATIONAL, "%s; close: %s (%.2f s)" % (
            result, close_why or "ok", dur)
    if behavior in (OK, NON_STRICT) and not close_ok:
        return FAILED, close_why
    if behavior == OK and r.case.timed:
        result += " in %.2f s" % dur
    return behavior, result


def summarize(events):
    out = []
    for e in events[:6]:
        if e[0] == "message":
            out.append("%s(%d bytes)" % ("binary" if e[2] else "text",
                                         len(e[1])))
        else:
            out.append("%s(%r)" % (e[0], e[1][:40]))
    if len(events) > 6:
        out.append("... %d events" % len(events))
    return "[" + ", ".join(out) + "]"


# ---- 1.* framing ----------------------------------------------------------
def c_message(n, binary, chop=0):
    def run(r):
        payload = (b"\xfe" if binary else b"*") * n
        r.expect([("message", payload, binary)])
        r.expect_close(True, [CLOSE_NORMAL], True)
        r.conn.send_frame(2 if binary else 1, payload, chop=chop)
        r.kill_after(10)
    return run


# ---- 2.* pings and pongs --------------------------------------------------
def c_ping(payload, chop=0):
    def run(r):
        r.expect([("pong", payload)])
        r.expect_close(True, [CLOSE_NORMAL], True)
        r.conn.send_frame(9, payload, chop=chop, sync=chop > 0)
        r.kill_after(10)
    return run


def c_fail(frames, ok=None, non_strict=None, code=CLOSE_PROTOCOL,
           sync=False, chop=0):
    """The peer must fail the connection (after `ok` events, if any)."""
    def run(r):
        r.expect(ok or [], non_strict)
        r.expect_close(False, [code], False)
        r.conn.send_frames(frames, chop=chop, sync=sync or chop > 0)
        r.kill_after(KILL)
    return run


def c_pong(payload):
    def run(r):
        r.expect([])
        r.expect_close(True, [CLOSE_NORMAL], True)
        r.conn.send_frame(10, payload)
        r.conn.send_close(CLOSE_NORMAL)
        r.close_after(1)
    return run


def c_2_9(r):
    r.expect([("pong", b"ping payload")])
    r.expect_close(True, [CLOSE_NORMAL], True)
    r.conn.send_frame(10, b"unsolicited pong payload")
    r.conn.send_frame(9, b"ping payload")
    r.close_after(1)


def c_pings(chop):
    def run(r):
        pays = [b"payload-%d" % i for i in range(10)]
        r.expect([("pong", p) for p in pays])
        r.expect_close(True, [CLOSE_NORMAL], True)
        for p in pays:
            r.conn.send_frame(9, p, chop=chop, sync=chop > 0)
        r.close_after(3)
    return run


HELLO = b"Hello, world!"


def c_then_fail(bad, sync=False):
    """A good text message, then `bad`, then a ping: the echo, then the
    failure; no pong."""
    frames = [(1, HELLO, True), bad, (9, b"", True)]
    return c_fail(frames, ok=[("message", HELLO, False)], non_strict=[],
                  sync=sync)


# ---- 5.* fragmentation ----------------------------------------------------
def c_frag(frames, message, sync=False, chop=0, pong=None):
    def run(r):
        ev = ([("pong", pong)] if pong is not None else []) + [
            ("message", message, False)]
        r.expect(ev)
        r.expect_close(True, [CLOSE_NORMAL], True)
        r.conn.send_frames(frames, chop=chop, sync=sync or chop > 0)
        r.close_after(1)
    return run


def c_5_19(sync):
    def run(r):
        f = [b"fragment%d" % i for i in range(1, 6)]
        pings = [b"pongme 1!", b"pongme 2!"]
        r.expect([("pong", pings[0]), ("pong", pings[1]),
                  ("message", b"".join(f), False)])
        r.expect_close(True, [CLOSE_NORMAL], True)
        r.conn.send_frames([(1, f[0], False), (0, f[1], False),
                            (9, pings[0], True)], sync=sync)
        r.wait(WAIT)
        r.conn.send_frames([(0, f[2], False), (0, f[3], False),
                            (9, pings[1], True), (0, f[4], True)], sync=sync)
        r.close_after(1)
    return run


# ---- 6.* UTF-8 ------------------------------------------------------------
KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode()


def c_text(payload, frag=0):
    def run(r):
        r.expect([("message", payload, False)])
        r.expect_close(True, [CLOSE_NORMAL], True)
        r.conn.send_message(payload, False, frag=frag)
        r.kill_after(2)
    return run


def c_bad_text(payload, frag=0):
    def run(r):
        r.expect([])
        r.expect_close(False, [CLOSE_INVALID], False, wrong_fatal=True)
        r.conn.send_message(payload, False, frag=frag)
        r.kill_after(KILL)
    return run


def c_utf8(valid, payload):
    return c_text(payload) if valid else c_bad_text(payload)


def c_failfast(parts, chops):
    """6.4.*: the invalid part must be refused before the third is sent.
    `chops`: the parts are chops of one frame, not frames."""
    def run(r):
        r.expect([("timeout", "A")],
                 non_strict=[("timeout", "A"), ("timeout", "B")])
        r.expect_close(False, [CLOSE_INVALID], False, wrong_fatal=True)
        c = r.conn
        whole = b"".join(parts)
        if chops:
            fr = frame_bytes(1, whole, True, 0, c.mask)
            head = len(fr) - len(whole)
            cut1 = head + len(parts[0])
            cut2 = cut1 + len(parts[1])
            pieces = [fr[:cut1], fr[cut1:cut2], fr[cut2:]]
            send = [lambda p=p: c.write(p) for p in pieces]
        else:
            send = [lambda: c.send_frame(1, parts[0], False),
                    lambda: c.send_frame(0, parts[1], False),
                    lambda: c.send_frame(0, parts[2], True)]
        send[0]()
        if r.later(WAIT, "A"):
            send[1]()
            if r.later(WAIT, "B"):
                send[2]()
        r.kill_after(2)
    return run


def utf8_groups():
    """(title, [(valid, payload)]) after the suite's 6.5.* to 6.23.*."""
    g = []
    g.append(("Some valid UTF-8 sequences", [
        (True, b"hello\x24world"), (True, b"hello\xc2\xa2world"),
        (True, b"hello\xe2\x82\xacworld"),
        (True, b"hello\xf0\xa4\xad\xa2world"), (True, KOSME)]))

    def valid(b):
        try:
            b.decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False
    g.append(("All prefixes of a valid UTF-8 string",
              [(valid(KOSME[:i]), KOSME[:i])
               for i in range(1, len(KOSME) + 1)]))
    g.append(("First possible sequence of a certain length", [
        (True, b"\x00"), (True, b"\xc2\x80"), (True, b"\xe0\xa0\x80"),
        (True, b"\xf0\x90\x80\x80")]))
    g.append(("First possible sequence length 5/6 (invalid codepoints)", [
        (False, b"\xf8\x88\x80\x80\x80"),
        (False, b"\xfc\x84\x80\x80\x80\x80")]))
    g.append(("Last possible sequence of a certain length", [
        (True, b"\x7f"), (True, b"\xdf\xbf"), (True, b"\xef\xbf\xbf"),
        (True, b"\xf4\x8f\xbf\xbf")]))
    g.append(("Last possible sequence length 4/5/6 (invalid codepoints)", [
        (False, b"\xf7\xbf\xbf\xbf"), (False, b"\xfb\xbf\xbf\xbf\xbf"),
        (False, b"\xfd\xbf\xbf\xbf\xbf\xbf")]))
    g.append(("Other boundary conditions", [
        (True, b"\xed\x9f\xbf"), (True, b"\xee\x80\x80"),
        (True, b"\xef\xbf\xbd"), (True, b"\xf4\x8f\xbf\xbf"),
        (False, b"\xf4\x90\x80\x80")]))
    g.append(("Unexpected continuation bytes", [
        (False, b"\x80"), (False, b"\xbf"), (False, b"\x80\xbf"),
        (False, b"\x80\xbf\x80"), (False, b"\x80\xbf\x80\xbf"),
        (False, b"\x80\xbf\x80\xbf\x80"),
        (False, b"\x80\xbf\x80\xbf\x80\xbf"),
        (False, bytes(range(0x80, 0xbf)))]))
    g.append(("Lonely start characters", [
        (False, b"".join(bytes([i, 0x20]) for i in range(a, b)))
        for a, b in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7),
                     (0xf8, 0xfb), (0xfc, 0xfd))]))
    k = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80",
         b"\xfc\x80\x80\x80\x80", b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf",
         b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
    g.append(("Sequences with last continuation byte missing",
              [(False, x) for x in k]))
    g.append(("Concatenation of incomplete sequences",
              [(False, b"".join(k))]))
    g.append(("Impossible bytes", [
        (False, b"\xfe"), (False, b"\xff"), (False, b"\xfe\xfe\xff\xff")]))
    g.append(("Examples of an overlong ASCII character", [
        (False, b"\xc0\xaf"), (False, b"\xe0\x80\xaf"),
        (False, b"\xf0\x80\x80\xaf"), (False, b"\xf8\x80\x80\x80\xaf"),
        (False, b"\xfc\x80\x80\x80\x80\xaf")]))
    g.append(("Maximum overlong sequences", [
        (False, b"\xc1\xbf"), (False, b"\xe0\x9f\xbf"),
        (False, b"\xf0\x8f\xbf\xbf"), (False, b"\xf8\x87\xbf\xbf\xbf"),
        (False, b"\xfc\x83\xbf\xbf\xbf\xbf")]))
    g.append(("Overlong representation of the NUL character", [
        (False, b"\xc0\x80"), (False, b"\xe0\x80\x80"),
        (False, b"\xf0\x80\x80\x80"), (False, b"\xf8\x80\x80\x80\x80"),
        (False, b"\xfc\x80\x80\x80\x80\x80")]))
    g.append(("Single UTF-16 surrogates", [(False, x) for x in (
        b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf",
        b"\xed\xb0\x80", b"\xed\xbe\x80", b"\xed\xbf\xbf")]))
    g.append(("Paired UTF-16 surrogates", [(False, x) for x in (
        b"\xed\xa0\x80\xed\xb0\x80", b"\xed\xa0\x80\xed\xbf\xbf",
        b"\xed\xad\xbf\xed\xb0\x80", b"\xed\xad\xbf\xed\xbf\xbf",
        b"\xed\xae\x80\xed\xb0\x80", b"\xed\xae\x80\xed\xbf\xbf",
        b"\xed\xaf\xbf\xed\xb0\x80", b"\xed\xaf\xbf\xed\xbf\xbf")]))
    nc = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
    for z1 in (0xf0, 0xf1, 0xf2, 0xf3, 0xf4):
        for z2 in (0x8f, 0x9f, 0xaf, 0xbf):
            if z1 == 0xf4 and z2 != 0x8f:
                continue
            for z3 in (0xbe, 0xbf):
                zz = bytes([z1, z2, 0xbf, z3])
                if zz not in (b"\xf0\x8f\xbf\xbe", b"\xf0\x8f\xbf\xbf"):
                    nc.append(zz)
    g.append(("Non-character code points (valid UTF-8)",
              [(True, x) for x in nc]))
    g.append(("Unicode specials", [(True, bytes([0xef, 0xbf, b]))
                                   for b in range(0xb9, 0xc0)]))
    return g


# ---- 7.* close handling ---------------------------------------------------
def c_7_1_1(r):
    r.expect([("message", b"Hello World!", False)])
    r.expect_close(True, [CLOSE_NORMAL], True)
    r.conn.send_frame(1, b"Hello World!")
    r.conn.send_close(CLOSE_NORMAL)
    r.kill_after(2)


def c_after_close(then):
    """7.1.2-7.1.4: whatever follows our close frame must be ignored."""
    def run(r):
        r.expect([])
        r.expect_close(True, [CLOSE_NORMAL], True)
        r.conn.send_close(CLOSE_NORMAL)
        r.conn.send_frames(then)
        r.kill_after(KILL)
    return run


def c_7_1_5(r):
    r.expect([])
    r.expect_close(True, [CLOSE_NORMAL], True)
    r.conn.send_frame(1, b"fragment1", False)
    r.conn.send_close(CLOSE_NORMAL)
    r.conn.send_frame(0, b"fragment2", True)
    r.kill_after(2)


def c_7_1_6(r):
    r.informational = True
    r.suppress_close = True
    r.expect([("message", b"Hello World!", False)], non_strict=[])
    r.expect_close(True, [CLOSE_NORMAL], True)
    c = r.conn
    c.send_frame(1, b"BAsd7&jh23", payload_len=256 * 1024)
    c.send_frame(1, b"Hello World!")
    c.send_close(CLOSE_NORMAL)
    c.send_frame(9, b"")
    r.kill_after(2)
    msgs = [e for e in c.received if e[0] == "message"]
    r.behavior = INFORMATIONAL
    r.result = ("%d of the 2 messages echoed before the close%s" % (
        len(msgs), ", then a pong" if ("pong", b"") in c.received else ""))


def c_close_raw(raw, codes, clean, wrong_code_fatal=False):
    def run(r):
        r.expect([])
        r.expect_close(True, codes, clean)
        r.wrong_code_fatal = wrong_code_fatal
        r.conn.send_close(raw=raw)
        r.kill_after(KILL)
    return run


def c_7_13(code):
    def run(r):
        r.informational = True
        r.expect([])
        r.expect_close(True, [CLOSE_NORMAL, code, CLOSE_PROTOCOL], False)
        r.conn.send_close(raw=code.to_bytes(2, "big"))
        r.kill_after(KILL)
    return run


# ---- 9.* limits and performance, 10.* -------------------------------------
def c_big(n, binary, frag=0, chop=0):
    def run(r):
        pat = b"\xfe" if binary else b"BAsd7&jh23"
        payload = (pat * (n // len(pat) + 1))[:n]
        r.expect([("message", payload, binary)])
        r.expect_close(True, [CLOSE_NORMAL], True)
        if frag:
            r.conn.send_message(payload, binary, frag=frag)
        else:
            r.conn.send_frame(2 if binary else 1, payload, chop=chop)
        r.kill_after(CASE_CAP)
    return run


def c_rtt(n, binary, count=1000):
    def run(r):
        payload = (b"\xfe" if binary else b"*") * n
        c = r.conn
        got = 0
        r.expect([])
        r.expect_close(True, [CLOSE_NORMAL], True)
        for _ in range(count):
            c.send_frame(2 if binary else 1, payload)
            c.pump(max(r.deadline - time.monotonic(), 0),
                   until=lambda: len(c.received) > 0)
            if not c.received:
                break
            ev = c.received.pop()
            if ev != ("message", payload, binary) or c.received:
                c.received.append(ev)
                break
            got += 1
        if got == count:
            r.behavior, r.result = OK, "%d round trips" % count
        else:
            r.behavior, r.result = FAILED, "round trip %d of %d: got %s" % (
                got + 1, count, summarize(c.received))
        if c.state == OPEN:
            c.send_close(CLOSE_NORMAL)
        r.kill_after(2)
    return run


def c_10_1_1(r):
    payload = b"*" * 65536
    r.expect([("message", payload, False)])
    r.expect_close(True, [CLOSE_NORMAL], True)
    r.conn.send_message(payload, False, frag=1300)
    r.kill_after(10)
    if r.conn.tx_frames != [50, 1]:
        r.behavior, r.result = FAILED, "sent frames %r, expected [50, 1]" % (
            r.conn.tx_frames,)


# ---- 12.* / 13.* permessage-deflate ---------------------------------------
MSG_SIZES = [(16, 0), (64, 0), (256, 0), (1024, 0), (4096, 0), (8192, 0),
             (16384, 0), (32768, 0), (65536, 0), (131072, 0),
             (8192, 256), (16384, 256), (32768, 256), (65536, 256),
             (131072, 256), (131072, 1024), (131072, 4096), (131072, 32768)]

_DATA = {}


def _words(rng, words, n):
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 9)))
        out.append(line.capitalize() + rng.choice([".", ",", "!", "?", ";"]))
        size += len(out[-1]) + 1
    return "\n".join(out).encode()


def testdata(name):
    """Deterministic stand-ins for the suite's test files (which it ships
    and we cannot): of the same kind and size (DATA_SIZES). The text sets are
    ASCII, as the suite's are: messages are cut at any byte offset, and a
    cut through a multi-byte character would make invalid UTF-8."""
    if name in _DATA:
        return _DATA[name]
    rng = random.Random(name)
    if name == "text":      # the suite: Goethe's Faust (sent as binary)
        words = ("und die der nicht ich zu ein mich Herz Welt Geist Natur "
                 "Faust Gretchen Mephistopheles Himmel Erde Liebe Nacht "
                 "schön über wohl Götter Tag Zeit weiß Blut Leben Kraft "
                 "Wissen läßt Teufel Schüler Hexe Küche Straße").split()
        d = _words(rng, words, 300 * 1024)
    elif name == "bitmap":  # the suite: a 512x512 grey bitmap
        head = b"BM" + (512 * 512 + 1078).to_bytes(4, "little") + bytes(48)
        pal = b"".join(bytes([i, i, i, 0]) for i in range(256))
        px = bytearray(512 * 512)
        for y in range(512):
            for x in range(512):
                v = (x * y // 257 + (x ^ y) // 3 + rng.randint(0, 12)) & 255
                px[y * 512 + x] = v
        d = head + pal + bytes(px)
    elif name == "pdf":     # the suite: a PDF (text objects + streams)
        parts = [b"%PDF-1.4\n"]
        size = 0
        i = 1
        while size < DATA_SIZES["pdf"]:
            body = (rng.randbytes(rng.randint(500, 4000)) if i % 3 == 0 else
                    _words(rng, ["BT", "ET", "Tf", "Td", "Tj", "/F1", "12",
                                 "0", "1", "re", "f", "q", "Q", "cm"], 2000))
            obj = b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\n" \
                  b"endobj\n" % (i, len(body), body)
            parts.append(obj)
            size += len(obj)
            i += 1
        d = b"".join(parts)
    elif name == "json":    # the suite: a large JSON file (text)
        recs = []
        size = 0
        while size < 300 * 1024:
            rec = ('{"id": %d, "name": "user%05d", "active": %s, '
                   '"score": %.3f, "tags": ["%s", "%s"], "address": '
                   '{"city": "%s", "zip": "%05d"}}' % (
                       len(recs), rng.randint(0, 99999),
                       rng.choice(["true", "false"]), rng.random() * 100,
                       rng.choice(["red", "green", "blue", "gruen"]),
                       rng.choice(["alpha", "beta", "gamma"]),
                       rng.choice(["Koeln", "Berlin", "Zurich", "Paris"]),
                       rng.randint(0, 99999)))
            recs.append(rec)
            size += len(rec) + 2
        d = ("[" + ",\n".join(recs) + "]").encode()
    else:                   # "html": the suite: a large HTML file (text)
        rows = []
        size = 0
        while size < 300 * 1024:
            row = ('<tr class="r%d"><td><a href="/item/%d">Item %d</a></td>'
                   '<td>%s</td><td>%.2f EUR</td></tr>' % (
                       len(rows) % 2, rng.randint(0, 10 ** 6), len(rows),
                       _words(rng, ["lorem", "ipsum", "dolor", "sit", "amet",
                                    "elan", "naive"], 30).decode(),
                       rng.random() * 1000))
            rows.append(row)
            size += len(row) + 1
        d = ("<!DOCTYPE html>\n<html><head><title>Data</title></head><body>"
             "<table>\n" + "\n".join(rows) + "\n</table></body></html>"
             ).encode()
    d = d[:DATA_SIZES[name]]
    assert len(d) == DATA_SIZES[name], name
    _DATA[name] = d
    return d


def c_deflate(dataset, binary, size, frag):
    count = 1000 if FULL else min(1000, max(8, DEFLATE_BYTES // size))

    def run(r):
        c = r.conn
        r.expect_close(True, [CLOSE_NORMAL], True)
        if c.deflate is None:
            r.behavior, r.result = UNIMPLEMENTED, "deflate not negotiated"
            c.send_close(CLOSE_NORMAL)
            r.kill_after(2)
            return
        c.auto_frag = frag
        data = testdata(dataset)
        ptr = 0
        r.behavior, r.result = FAILED, "timed out"
        for i in range(count):
            end = (ptr + size) % len(data)
            msg = data[ptr:end] if end > ptr else data[ptr:] + data[:end]
            ptr = end
            c.send_message(msg, binary)
            c.pump(max(r.deadline - time.monotonic(), 0),
                   until=lambda: len(c.received) > 0)
            if not c.received:
                r.result = "no echo of message %d (%s)" % (
                    i + 1, c.violation or "connection %s" % c.state)
                break
            ev = c.received.pop(0)
            if ev[0] != "message" or ev[2] != binary or \
                    hashlib.sha1(ev[1]).digest() != \
                    hashlib.sha1(msg).digest():
                r.result = "echo %d differs: %s" % (i + 1, summarize([ev]))
                break
        else:
            r.behavior, r.result = OK, "%d messages of %d bytes" % (count,
                                                                     size)
        if c.state == OPEN:
            c.send_close(CLOSE_NORMAL)
        r.kill_after(2)
    return run


# What each 13.* client offers (Autobahn's PerMessageDeflateOffer strings:
# client_no_context_takeover and client_max_window_bits always -- the
# offer's accept_* defaults -- then what it requests of the server).
OFFER_DEFAULT = ("permessage-deflate; client_no_context_takeover; "
                 "client_max_window_bits")
OFFERS_13 = [
    OFFER_DEFAULT,
    OFFER_DEFAULT + "; server_no_context_takeover",
    OFFER_DEFAULT + "; server_max_window_bits=8",
    OFFER_DEFAULT + "; server_max_window_bits=15",
    OFFER_DEFAULT + "; server_no_context_takeover; server_max_window_bits=8",
    OFFER_DEFAULT + "; server_no_context_takeover; server_max_window_bits=15",
    ", ".join([OFFER_DEFAULT + "; server_no_context_takeover; "
               "server_max_window_bits=8",
               OFFER_DEFAULT + "; server_no_context_takeover",
               OFFER_DEFAULT]),
]


def _response(params, nct=False, bits=0):
    """A server's accept of one client offer (params dict), requesting
    client_no_context_takeover / client_max_window_bits=bits of the client.
    Returns (header value, Deflate params) or None."""
    for k in params:
        if k not in ("client_max_window_bits", "server_max_window_bits",
                     "client_no_context_takeover",
                     "server_no_context_takeover"):
            return None
    s = "permessage-deflate"
    sbits = 15
    snct = "server_no_context_takeover" in params
    if snct:
        s += "; server_no_context_takeover"
    if params.get("server_max_window_bits"):
        sbits = int(params["server_max_window_bits"])
        s += "; server_max_window_bits=%d" % sbits
    cbits = 15
    if nct:
        s += "; client_no_context_takeover"
    if bits:
        if "client_max_window_bits" not in params:
            return None
        cbits = bits
        s += "; client_max_window_bits=%d" % bits
    elif params.get("client_max_window_bits"):
        cbits = int(params["client_max_window_bits"])
        s += "; client_max_window_bits=%d" % cbits
    cnct = nct or "client_no_context_takeover" in params
    return s, dict(tx_bits=sbits, tx_nct=snct, rx_bits=cbits, rx_nct=cnct)


def _accept(nct, bits):
    def accept(offers):
        for name, params in offers:
            if name != "permessage-deflate":
                continue
            if bits and "client_max_window_bits" not in params:
                continue
            res = _response(params, nct, bits)
            if res:
                return res
        return None
    return accept


def _accept7(offers):
    for a in (_accept(True, 8), _accept(True, 0), _accept(False, 0)):
        res = a(offers)
        if res:
            return res
    return None


ACCEPTS_13 = [_accept(False, 0), _accept(True, 0), _accept(False, 8),
              _accept(False, 15), _accept(True, 8), _accept(True, 15),
              _accept7]

# 12.1-12.5 in the suite's order (the iteration order of its Python 2 dict
# of test files) with the sizes of its files: JSON 194237 bytes (text),
# bitmap 263222, Faust 222218 (binary), HTML 167370 (text), PDF 1042328
# (binary).
DATASETS_12 = [("json", False), ("bitmap", True), ("text", True),
               ("html", False), ("pdf", True)]
DATA_SIZES = {"json": 194237, "bitmap": 263222, "text": 222218,
              "html": 167370, "pdf": 1042328}


# ---- the list -------------------------------------------------------------
def build():
    L = []

    def add(cid, run, desc, **kw):
        L.append(Case(cid, run, desc, **kw))

    sizes = [0, 125, 126, 127, 128, 65535, 65536, 65536]
    for kind, binary in (("1.1", False), ("1.2", True)):
        for i, n in enumerate(sizes, 1):
            chop = 997 if i == 8 else 0
            add("%s.%d" % (kind, i), c_message(n, binary, chop),
                "%s message of %d bytes%s" % (
                    "binary" if binary else "text", n,
                    ", in 997-byte chops" if chop else ""))
    add("2.1", c_ping(b""), "ping without payload")
    add("2.2", c_ping(HELLO), "ping with small text payload")
    add("2.3", c_ping(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"),
        "ping with small binary payload")
    add("2.4", c_ping(b"\xfe" * 125), "ping with 125-byte payload")
    add("2.5", c_fail([(9, b"\xfe" * 126, True)]),
        "ping with 126-byte payload: fail")
    add("2.6", c_ping(b"\xfe" * 125, chop=1),
        "ping with 125-byte payload in 1-byte chops")
    add("2.7", c_pong(b""), "unsolicited pong without payload")
    add("2.8", c_pong(b"unsolicited pong payload"),
        "unsolicited pong with payload")
    add("2.9", c_2_9, "unsolicited pong, then ping")
    add("2.10", c_pings(0), "10 pings")
    add("2.11", c_pings(1), "10 pings in 1-byte chops")

    add("3.1", c_fail([(1, HELLO, True, 1)]), "text with RSV=1: fail")
    add("3.2", c_then_fail((1, HELLO, True, 2)), "text, text RSV=2, ping")
    add("3.3", c_then_fail((1, HELLO, True, 3), sync=True),
        "text, text RSV=3, ping, frame by frame")
    add("3.4", c_then_fail((1, HELLO, True, 4), sync=True),
        "text, text RSV=4, ping, frame by frame")
    add("3.5", c_fail([(2, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", True, 5)]),
        "binary with RSV=5: fail")
    add("3.6", c_fail([(9, HELLO, True, 6)]), "ping with RSV=6: fail")
    add("3.7", c_fail([(8, b"", True, 7)]), "close with RSV=7: fail")

    for grp, ops in (("4.1", (3, 4, 5, 6, 7)), ("4.2", (11, 12, 13, 14, 15))):
        for i, op in enumerate(ops, 1):
            pay = b"" if i in (1, 3) else b"reserved opcode payload"
            if i <= 2:
                run = c_fail([(op, pay, True)])
            else:
                run = c_then_fail((op, pay, True))
            add("%s.%d" % (grp, i), run, "reserved opcode %d" % op)

    add("5.1", c_fail([(9, b"fragment1", False), (0, b"fragment2", True)]),
        "fragmented ping: fail")
    add("5.2", c_fail([(10, b"fragment1", False), (0, b"fragment2", True)]),
        "fragmented pong: fail")
    two = [(1, b"fragment1", False), (0, b"fragment2", True)]
    add("5.3", c_frag(two, b"fragment1fragment2"), "text in 2 fragments")
    add("5.4", c_frag(two, b"fragment1fragment2", sync=True),
        "text in 2 fragments, frame by frame")
    add("5.5", c_frag(two, b"fragment1fragment2", chop=1),
        "text in 2 fragments, 1-byte chops")
    withping = [two[0], (9, b"ping payload", True), two[1]]
    add("5.6", c_frag(withping, b"fragment1fragment2", pong=b"ping payload"),
        "text in 2 fragments with a ping between")
    add("5.7", c_frag(withping, b"fragment1fragment2", sync=True,
                      pong=b"ping payload"), "same, frame by frame")
    add("5.8", c_frag(withping, b"fragment1fragment2", chop=1,
                      pong=b"ping payload"), "same, 1-byte chops")
    for base, fin in ((9, True), (12, False)):
        frames = [(0, b"non-continuation payload", fin), (1, HELLO, True)]
        add("5.%d" % base, c_fail(frames),
            "continuation FIN=%d with nothing to continue" % fin)
        add("5.%d" % (base + 1), c_fail(frames, sync=True),
            "same, frame by frame")
        add("5.%d" % (base + 2), c_fail(frames, chop=1), "same, 1-byte chops")
    add("5.15", c_fail([(1, b"fragment1", False), (0, b"fragment2", True),
                        (0, b"fragment3", False), (1, b"fragment4", True)],
                       ok=[("message", b"fragment1fragment2", False)],
                       non_strict=[]),
        "a message, then a continuation with nothing to continue")
    add("5.16", c_fail([(0, b"fragment1", False), (1, b"fragment2", False),
                        (0, b"fragment3", True)] * 2),
        "continuation FIN=0 first, twice: fail")
    add("5.17", c_fail([(0, b"fragment1", True), (1, b"fragment2", False),
                        (0, b"fragment3", True)] * 2),
        "continuation FIN=1 first, twice: fail")
    add("5.18", c_fail([(1, b"fragment1", False), (1, b"fragment2", True)]),
        "text fragment followed by a new text frame: fail")
    add("5.19", c_5_19(False), "5 fragments with 2 pings and a pause")
    add("5.20", c_5_19(True), "same, frame by frame")

    add("6.1.1", c_text(b""), "empty text message")
    add("6.1.2", c_frag([(1, b"", False), (0, b"", False), (0, b"", True)],
                        b""), "3 empty fragments")
    add("6.1.3", c_frag([(1, b"", False), (0, b"middle frame payload",
                                           False), (0, b"", True)],
                        b"middle frame payload"),
        "empty, non-empty, empty fragments")
    add("6.2.1", c_text(HELLO_UTF8), "valid UTF-8 in one frame")
    add("6.2.2", c_frag([(1, HELLO_UTF8[:12], False),
                         (0, HELLO_UTF8[12:], True)], HELLO_UTF8),
        "valid UTF-8 in 2 fragments split on a code point")
    add("6.2.3", c_text(HELLO_UTF8, frag=1), "valid UTF-8 in 1-byte frames")
    add("6.2.4", c_text(KOSME, frag=1), "valid UTF-8 (kosme) in 1-byte frames")
    bad = KOSME + b"\xed\xa0\x80" + b"edited"
    add("6.3.1", c_bad_text(bad), "invalid UTF-8 in one frame")
    add("6.3.2", c_bad_text(bad, frag=1), "invalid UTF-8 in 1-byte frames")
    ff = [KOSME, b"\xf4\x90\x80\x80", b"edited"]
    whole = b"".join(ff)
    ff2 = [whole[:12], whole[12:13], whole[13:]]
    add("6.4.1", c_failfast(ff, False), "fail fast: invalid 2nd of 3 frames")
    add("6.4.2", c_failfast(ff2, False),
        "fail fast: invalid byte alone in the 2nd of 3 frames")
    add("6.4.3", c_failfast(ff, True),
        "fail fast: invalid 2nd of 3 chops of one frame")
    add("6.4.4", c_failfast(ff2, True),
        "fail fast: invalid byte alone in the 2nd of 3 chops of one frame")
    for gi, (title, items) in enumerate(utf8_groups(), 5):
        for j, (valid, payload) in enumerate(items, 1):
            add("6.%d.%d" % (gi, j), c_utf8(valid, payload),
                "%s: %s (%s)" % (title, payload.hex(),
                                 "valid" if valid else "invalid"))

    add("7.1.1", c_7_1_1, "text message, then close")
    add("7.1.2", c_after_close([(8, b"", True)]), "close twice")
    add("7.1.3", c_after_close([(9, b"", True)]), "ping after close")
    add("7.1.4", c_after_close([(1, HELLO, True)]), "text after close")
    add("7.1.5", c_7_1_5, "fragment, close, fragment")
    add("7.1.6", c_7_1_6, "256 KiB message, text, close, ping (informational)")
    add("7.3.1", c_close_raw(b"", [CLOSE_NORMAL], True),
        "close with empty payload")
    add("7.3.2", c_close_raw(b"a", [CLOSE_PROTOCOL], False),
        "close with 1-byte payload: fail")
    add("7.3.3", c_close_raw(b"\x03\xe8", [CLOSE_NORMAL], True),
        "close 1000 without reason")
    add("7.3.4", c_close_raw(b"\x03\xe8Hello World!", [CLOSE_NORMAL], True),
        "close 1000 with a reason")
    add("7.3.5", c_close_raw(b"\x03\xe8" + b"*" * 123, [CLOSE_NORMAL], True),
        "close 1000 with a 123-byte reason")
    add("7.3.6", c_close_raw(b"\x03\xe8" + b"*" * 124, [CLOSE_PROTOCOL],
                             False), "close with a 126-byte payload: fail")
    add("7.5.1", c_close_raw(b"\x03\xe8" + bad,
                             [CLOSE_PROTOCOL, CLOSE_INVALID], False, True),
        "close reason that is invalid UTF-8: 1002 or 1007 or drop")
    valid_codes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                   3000, 3999, 4000, 4999]
    for i, code in enumerate(valid_codes, 1):
        add("7.7.%d" % i, c_close_raw(code.to_bytes(2, "big"),
                                      [CLOSE_NORMAL, code], True, True),
            "close with valid code %d" % code)
    invalid_codes = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]
    for i, code in enumerate(invalid_codes, 1):
        add("7.9.%d" % i, c_close_raw(code.to_bytes(2, "big"),
                                      [CLOSE_PROTOCOL], False, True),
            "close with invalid code %d" % code)
    add("7.13.1", c_7_13(5000), "close code 5000 (informational)")
    add("7.13.2", c_7_13(65535), "close code 65535 (informational)")

    big = [65536, 262144, 1 << 20, 4 << 20, 8 << 20, 16 << 20]
    for grp, binary in (("9.1", False), ("9.2", True)):
        for i, n in enumerate(big, 1):
            add("%s.%d" % (grp, i), c_big(n, binary), "%s message of %d "
                "bytes" % ("binary" if binary else "text", n), timed=True)
    frags = [64, 256, 1024, 4096, 16384, 65536, 262144, 1 << 20, 4 << 20]
    for grp, binary in (("9.3", False), ("9.4", True)):
        for i, f in enumerate(frags, 1):
            add("%s.%d" % (grp, i), c_big(4 << 20, binary, frag=f),
                "4 MiB %s message in %d-byte frames" % (
                    "binary" if binary else "text", f), timed=True)
    chops = [64, 128, 256, 512, 1024, 2048]
    for grp, binary in (("9.5", False), ("9.6", True)):
        for i, ch in enumerate(chops, 1):
            add("%s.%d" % (grp, i), c_big(1 << 20, binary, chop=ch),
                "1 MiB %s message in %d-byte TCP chops" % (
                    "binary" if binary else "text", ch), timed=True)
    for grp, binary in (("9.7", False), ("9.8", True)):
        for i, n in enumerate([0, 16, 64, 256, 1024, 4096], 1):
            add("%s.%d" % (grp, i), c_rtt(n, binary),
                "1000 round trips of %d-byte %s messages" % (
                    n, "binary" if binary else "text"), timed=True)
    add("10.1.1", c_10_1_1, "65536-byte text message in 1300-byte frames")

    for j, (ds, binary) in enumerate(DATASETS_12, 1):
        for i, (size, frag) in enumerate(MSG_SIZES, 1):
            add("12.%d.%d" % (j, i), c_deflate(ds, binary, size, frag),
                "%s messages of %d bytes (%s), frames of %s" % (
                    ds, size, "binary" if binary else "text",
                    frag or "any size"),
                offers=OFFER_DEFAULT, accept=_accept(False, 0), timed=True)
    for j in range(7):
        for i, (size, frag) in enumerate(MSG_SIZES, 1):
            add("13.%d.%d" % (j + 1, i), c_deflate("json", False, size, frag),
                "json messages of %d bytes, frames of %s; offer: %s" % (
                    size, frag or "any size", OFFERS_13[j]),
                offers=OFFERS_13[j], accept=ACCEPTS_13[j], timed=True)
    return L


CASES = build()


def select_cases(pattern):
    """Cases whose id starts with any comma-separated prefix in `pattern`
    ("1.,2.,6.4" ...), all when empty."""
    if not pattern:
        return list(CASES)
    pre = [p.strip() for p in pattern.split(",") if p.strip()]
    return [c for c in CASES
            if any(c.id == p or c.id.startswith(p.rstrip(".") + ".")
                   for p in pre)]
