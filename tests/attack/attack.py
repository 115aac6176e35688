#!/usr/bin/env python3
"""tests/attack/attack.py: floods against `wsx echo` (issue 16).

    attack.py --wsx build/wsx [--short] [--tls] [--only NAME,...]

Starts `wsx echo` on 127.0.0.1 (permessage-deflate, max-length 16 MiB,
send-timeout 2000 ms; with --tls a throwaway certificate), then runs each
attack while a probe client echoes a 16-byte message every 10 ms. For each
case it prints the server's peak RSS, the close codes the server reported
(its `close <id> <code>` lines) and the probe's median / max echo latency,
then one `ok attack_<case>` or `FAIL attack_<case>: why` line (counted by
scripts/run-tests.sh).

Full mode (`make attack`) runs the issue's sizes and checks its targets:
  ping flood (2,000,000 pings, no reading): RSS <= max_buffered + 16 MiB
    over the pre-attack figure, connection closed;
  50 concurrent 1 GiB bombs: all refused with 1009 (those that do not fit
    in the budget wait for it), peak RSS <= 256 MiB both over the
    pre-attack figure and absolute (both printed), probe max <= 100 ms;
  bomb storm (two threads, 15 s): probe median <= 5 ms, max <= 100 ms;
  after every attack RSS back within 2x the pre-attack figure.
--no-rss-checks (for ASan builds) prints RSS figures without checking them.
--short runs every case with small counts and checks bounds and close
codes only (not timings); it is part of `make test`
(tests/interop/test_attack.py).
"""
import argparse
import base64
import os
import re
import resource
import select
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

MiB = 1 << 20
FAILS = 0
RSS_CHECKS = True  # --no-rss-checks: ASan keeps freed memory (quarantine)


def ok(name):
    print(f"ok attack_{name}", flush=True)


def fail(name, why):
    global FAILS
    FAILS += 1
    print(f"FAIL attack_{name}: {why}", flush=True)


# ---- the server ------------------------------------------------------------

class Server:
    def __init__(self, wsx, tls, tmp):
        self.tls = tls
        args = [wsx, "echo", "--host", "127.0.0.1", "--port", "0", "--deflate",
                "--max-length", str(16 * MiB), "--send-timeout", "2000"]
        if tls:
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                            "-nodes", "-subj", "/CN=localhost", "-days", "1",
                            "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
            args += ["--tls-cert", cert, "--tls-key", key]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True,
                                  bufsize=1)
        line = self.p.stdout.readline()
        m = re.search(r":(\d+)/", line)
        if not m:
            raise RuntimeError(f"wsx echo did not start: {line!r}")
        self.port = int(m.group(1))
        self.codes = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            if line.startswith("close "):
                parts = line.split()
                with self.lock:
                    self.codes.append(int(parts[2]))

    def take_codes(self):
        with self.lock:
            c, self.codes = self.codes, []
        return c

    def rss(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def heap(self):
        """(extent, resident) of the brk heap in bytes: glibc hands freed
        memory in its middle back only to malloc_trim, and later
        allocations carved out of that extent bring pages back in."""
        size = rss = 0
        cur = False
        try:
            with open(f"/proc/{self.p.pid}/smaps") as f:
                for line in f:
                    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                        cur = line.rstrip().endswith("[heap]")
                    elif cur and line.startswith("Size:"):
                        size += int(line.split()[1]) * 1024
                    elif cur and line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
        except OSError:
            pass
        return size, rss

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


# ---- client side helpers -----------------------------------------------------

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def raw_conn(srv, timeout=10):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if srv.tls:
        s = CTX.wrap_socket(s, server_hostname="localhost")
    return s


def head(deflate=False, extra=""):
    key = base64.b64encode(os.urandom(16)).decode()
    h = (f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
         f"Sec-WebSocket-Version: 13\r\n")
    if deflate:
        h += "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    return (h + extra + "\r\n").encode()


def ws_conn(srv, deflate=False, rcvbuf=0, timeout=10):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if srv.tls:
        s = CTX.wrap_socket(s, server_hostname="localhost")
    s.sendall(head(deflate))
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise RuntimeError("handshake: connection closed")
        buf += d
    if not buf.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake: {buf[:40]!r}")
    return s, buf.split(b"\r\n\r\n", 1)[1]


def frame(op, payload=b"", fin=True, rsv1=False, mask=True):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        h = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, m | 126, n)
    else:
        h = struct.pack("!BBQ", b0, m | 127, n)
    return h + (b"\0\0\0\0" if mask else b"") + payload  # mask 0


def close_code(s, rest=b"", timeout=10):
    """Reads frames until a close frame (its code) or EOF (None)."""
    buf = rest
    s.settimeout(timeout)
    end = time.time() + timeout
    while time.time() < end:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, off = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < off + n:
                break
            if buf[0] & 0x0F == 8:
                p = buf[off:off + n]
                return struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 1005
            buf = buf[off + n:]
        try:
            d = s.recv(65536)
        except (OSError, ssl.SSLError):
            return None
        if not d:
            return None
        buf += d
    return "timeout"


def _probe_main(port, tls, lat, count, errors, stop):
    """The probe's own process (no GIL shared with the attackers)."""
    srv = type("S", (), {"port": port, "tls": tls})()
    try:
        s, _ = ws_conn(srv)
    except (OSError, RuntimeError, ssl.SSLError):
        errors.value += 1
        return
    msg = frame(1, b"0123456789abcdef")
    want = b"\x81\x100123456789abcdef"
    s.settimeout(5)
    while not stop.value:
        t0 = time.perf_counter()
        try:
            s.sendall(msg)
            got = b""
            while len(got) < len(want):
                d = s.recv(len(want) - len(got))
                if not d:
                    raise OSError("eof")
                got += d
        except (OSError, ssl.SSLError):
            errors.value += 1
            return
        lat[count.value % len(lat)] = time.perf_counter() - t0
        count.value += 1
        time.sleep(0.01)
    s.close()


class Probe:
    """Echoes a 16-byte text message every 10 ms in a separate process,
    recording latencies."""

    def __init__(self, srv):
        import multiprocessing as mp
        self.lat = mp.Array("d", 1 << 16, lock=False)
        self.count = mp.Value("l", 0, lock=False)
        self.err = mp.Value("i", 0, lock=False)
        self.stop_v = mp.Value("i", 0, lock=False)
        self.p = mp.Process(target=_probe_main, daemon=True,
                            args=(srv.port, srv.tls, self.lat, self.count,
                                  self.err, self.stop_v))
        self.p.start()
        self.start = 0
        end = time.time() + 10
        while self.count.value < 3 and time.time() < end and not self.err.value:
            time.sleep(0.01)

    @property
    def errors(self):
        return self.err.value

    def reset(self):
        self.start = self.count.value

    def stats(self):
        n = self.count.value
        lat = [self.lat[i % len(self.lat)] for i in range(max(self.start, n - len(self.lat)), n)]
        if not lat:
            return None, None
        return statistics.median(lat) * 1000, max(lat) * 1000

    def close(self):
        self.stop_v.value = 1
        self.p.join(10)


def bomb_payload(raw):
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    chunk = b"\0" * MiB
    out = []
    for _ in range(raw // MiB):
        out.append(c.compress(chunk))
    out.append(c.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(out)
    return data[:-4]


# ---- the cases ---------------------------------------------------------------

class Ctx:
    def __init__(self, srv, probe, short):
        self.srv, self.probe, self.short = srv, probe, short
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.srv.rss())
            except OSError:
                return
            time.sleep(0.01)

    def run(self, name, fn):
        srv = self.srv
        srv.take_codes()
        self.probe.reset()
        base = srv.rss()
        hsize, hrss = srv.heap()
        self.base = self.peak = base
        self._stop.clear()
        th = threading.Thread(target=self._sample, daemon=True)
        th.start()
        t0 = time.time()
        try:
            why = fn(self)
        except Exception as e:  # an attack that could not run is a failure
            why = f"{type(e).__name__}: {e}"
        time.sleep(0.5)  # late close lines
        self._stop.set()
        th.join()
        after = srv.rss()
        # Memory given back: wait a little for frees to reach the OS.
        for _ in range(50):
            if after <= 2 * base + 4 * MiB:
                break
            time.sleep(0.1)
            after = srv.rss()
        med, mx = self.probe.stats()
        codes = srv.take_codes()
        summary = {}
        for c in codes:
            summary[c] = summary.get(c, 0) + 1
        print(f"# {name}: {time.time() - t0:.1f}s rss {base / MiB:.1f} -> "
              f"peak {self.peak / MiB:.1f} (+{(self.peak - base) / MiB:.1f} "
              f"over the pre-attack figure) -> {after / MiB:.1f} MiB "
              f"(heap before: {hsize / MiB:.1f} MiB extent, "
              f"{hrss / MiB:.1f} resident); "
              f"closes {summary}; probe median "
              f"{med if med is None else round(med, 2)} ms max "
              f"{mx if mx is None else round(mx, 2)} ms", flush=True)
        if not why and not srv.alive():
            why = "the server died"
        if not why and self.probe.errors:
            why = "the probe connection failed"
        if not why and RSS_CHECKS and after > 2 * base + 4 * MiB:
            why = f"RSS {after / MiB:.1f} MiB after, {base / MiB:.1f} before"
        self.last = (base, codes, med, mx)
        if why is None and self.extra_check:
            why = self.extra_check(base, codes, med, mx)
        self.extra_check = None
        if why:
            fail(name, why)
        else:
            ok(name)

    extra_check = None


def a_idle(c):
    n = 300 if c.short else 9000
    conns = []
    for _ in range(n):
        conns.append(ws_conn(c.srv)[0])
    time.sleep(0.5)
    print(f"# idle: {n} connections held, server RSS "
          f"{c.srv.rss() / MiB:.1f} MiB", flush=True)
    for s in conns:
        s.close()
    return None


def a_slowloris(c):
    n = 5 if c.short else 50
    conns = [raw_conn(c.srv) for _ in range(n)]
    h = head()
    closed = 0
    # One byte a second for up to 14 s: the 10 s handshake timeout ends it.
    for i in range(14):
        for s in conns:
            try:
                s.sendall(h[i:i + 1])
            except (OSError, ssl.SSLError):
                pass
        time.sleep(1)
        r, _, _ = select.select(conns, [], [], 0)
        for s in r:
            try:
                if not s.recv(4096):
                    pass
            except (OSError, ssl.SSLError):
                pass
        if all(is_closed(s) for s in conns):
            break
    closed = sum(1 for s in conns if is_closed(s))
    for s in conns:
        s.close()
    return None if closed == n else f"{n - closed} of {n} still open"


def is_closed(s, wait=0.0):
    """True once the server has closed `s` (reads and discards whatever it
    had sent before, for up to `wait` seconds)."""
    end = time.time() + wait
    s.settimeout(0.05)
    try:
        while True:
            try:
                if not s.recv(65536):
                    return True
            except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
                if time.time() >= end:
                    return False
            except (OSError, ssl.SSLError):
                return True
    finally:
        try:
            s.settimeout(10)
        except OSError:
            pass


HOSTILE = [
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 70000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(300))
    + b"\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
    b"\r\nSec-WebSocket-Version: 13\r\n\r\n",  # no key
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
    b"\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 99\r\n\r\n",
    b"\x16\x03\x01\x00\xff" + os.urandom(300),
    b"GET / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\n\r\n",
]


def a_hostile(c):
    bad = []
    rounds = 3 if c.short else 50
    for _ in range(rounds):
        for i, h in enumerate(HOSTILE):
            s = raw_conn(c.srv)
            try:
                s.sendall(h)
                s.settimeout(5)
                got = s.recv(64)
            except (OSError, ssl.SSLError):
                got = b""
            s.close()
            if got and not re.match(rb"HTTP/1\.1 [45]\d\d", got):
                bad.append((i, got[:20]))
    return f"unexpected answers {bad[:3]}" if bad else None


FRAMING = [
    (frame(2, b"x", mask=False), 1002),  # unmasked
    (bytes([0x83, 0x80, 0, 0, 0, 0]), 1002),  # reserved opcode
    (bytes([0xA2, 0x80, 0, 0, 0, 0]), 1002),  # RSV2
    (frame(9, b"x" * 126), 1002),  # control frame too long
    (frame(9, b"x", fin=False), 1002),  # fragmented control
    (frame(0, b"x"), 1002),  # continuation without a start
    (frame(1, b"\xff\xfe"), 1007),  # invalid UTF-8
    (struct.pack("!BBQ", 0x82, 0xFF, 1 << 40) + b"\0" * 4, 1009),
]


def a_framing(c):
    bad = []
    rounds = 2 if c.short else 50
    for _ in range(rounds):
        for i, (f, want) in enumerate(FRAMING):
            s, rest = ws_conn(c.srv)
            s.sendall(f)
            got = close_code(s, rest)
            s.close()
            if got != want:
                bad.append((i, got, want))
    return f"close codes (case, got, want) {bad[:4]}" if bad else None


def a_fragments(c):
    n = (1 << 20) + 1000 if c.short else 2_000_000
    s, rest = ws_conn(c.srv)
    one = frame(0, b"x", fin=False)
    batch = frame(2, b"x", fin=False) + one * 9999
    sent = 0
    got = None
    try:
        while sent < n:
            s.sendall(batch if sent == 0 else one * 10000)
            sent += 10000
    except (OSError, ssl.SSLError):
        pass
    got = close_code(s, rest)
    s.close()
    time.sleep(0.3)
    if got not in (1009, None) or 1009 not in c.srv.codes:
        return f"close {got}, server reported {c.srv.codes}"
    return None


def a_pings(c):
    n = 300_000 if c.short else 2_000_000
    s, _ = ws_conn(c.srv, rcvbuf=4096)
    ping = frame(9, b"p" * 125)
    batch = ping * 500
    sent = 0
    s.settimeout(10)
    try:
        while sent < n:
            s.sendall(batch)
            sent += 500
    except (OSError, ssl.SSLError):
        pass
    # It stopped reading us: it must drop us within the send timeout.
    closed = is_closed(s, 10)
    s.close()
    time.sleep(0.3)
    codes = c.srv.codes[:]
    if not closed:
        return "the flooder was not dropped"
    if 1008 not in codes:
        return f"close codes {codes}, expected 1008"
    if RSS_CHECKS and c.peak > c.base + (128 + 16) * MiB:
        return (f"peak RSS {c.peak / MiB:.1f} MiB over max_buffered + 16 MiB"
                f" above {c.base / MiB:.1f}")
    return None


def a_slow_readers(c):
    n = 3 if c.short else 20
    conns = [ws_conn(c.srv, rcvbuf=4096)[0] for _ in range(n)]
    msg = frame(2, b"r" * MiB)
    end = time.time() + (3 if c.short else 10)
    for s in conns:
        s.settimeout(1)
    while time.time() < end:
        for s in conns:
            try:
                s.sendall(msg)
            except (OSError, ssl.SSLError):
                pass
    closed = sum(1 for s in conns if is_closed(s, 10))
    for s in conns:
        s.close()
    codes = c.srv.codes[:]
    if closed < n:
        return f"{n - closed} of {n} slow readers still open"
    if codes.count(1008) < n:
        return f"close codes {codes}"
    return None


def send_bomb(srv, payload):
    try:
        s, rest = ws_conn(srv, deflate=True)
        s.settimeout(30)
        s.sendall(frame(2, payload, rsv1=True))
        code = close_code(s, rest, 30)
        s.close()
        return code
    except (OSError, ssl.SSLError) as e:
        return f"error {e}"


def a_bombs(c):
    n = 5 if c.short else 50
    payload = c.bomb
    results = []
    ths = [threading.Thread(target=lambda: results.append(
        send_bomb(c.srv, payload))) for _ in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    # Too many at once for the budget: those that do not fit wait (parked)
    # for the others' memory instead of being refused with 1013.
    bad = [r for r in results if r != 1009]
    if bad:
        return f"close codes {results}"
    if not c.short:
        c.extra_check = lambda base, codes, med, mx: (
            f"peak RSS {c.peak / MiB:.1f} MiB over {base / MiB:.1f} + 256"
            if RSS_CHECKS and c.peak > base + 256 * MiB else
            f"peak RSS {c.peak / MiB:.1f} MiB over 256 (absolute)"
            if RSS_CHECKS and c.peak > 256 * MiB else
            f"probe max {mx:.1f} ms" if mx and mx > 100 else None)
    return None


def a_storm(c):
    secs = 2 if c.short else 15
    end = time.time() + secs
    results = []

    def attacker():
        while time.time() < end:
            results.append(send_bomb(c.srv, c.bomb))

    ths = [threading.Thread(target=attacker) for _ in range(2)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    bad = [r for r in results if r != 1009]
    if bad or not results:
        return f"close codes {results[:10]}"
    print(f"# storm: {len(results)} bombs", flush=True)
    if not c.short:
        c.extra_check = lambda base, codes, med, mx: (
            f"probe median {med:.1f} ms max {mx:.1f} ms"
            if med is None or med > 5 or mx > 100 else None)
    return None


CASES = [("idle", a_idle), ("slowloris", a_slowloris),
         ("hostile_handshakes", a_hostile), ("framing", a_framing),
         ("fragment_flood", a_fragments), ("ping_flood", a_pings),
         ("slow_readers", a_slow_readers), ("bombs", a_bombs),
         ("bomb_storm", a_storm)]


def run_all(wsx, tls, short, only, tmp):
    srv = Server(wsx, tls, tmp)
    tag = "tls_" if tls else ""
    try:
        probe = Probe(srv)
        c = Ctx(srv, probe, short)
        c.bomb = bomb_payload((64 if short else 1024) * MiB)
        print(f"# {'wss' if tls else 'ws'} server pid {srv.p.pid}, bomb "
              f"{len(c.bomb)} bytes", flush=True)
        for name, fn in CASES:
            if only and name not in only:
                continue
            if tls and short and name in ("idle", "slowloris", "hostile_handshakes",
                                          "slow_readers"):
                continue  # the short TLS pass: the per-message cases
            c.run(tag + name, fn)
            if not srv.alive():
                break
        probe.close()
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wsx", required=True)
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--tls", action="store_true", help="also over TLS")
    ap.add_argument("--only", default="")
    ap.add_argument("--no-rss-checks", action="store_true",
                    help="print RSS but check no RSS bound (an ASan build: "
                    "its allocator quarantines freed memory)")
    a = ap.parse_args()
    global RSS_CHECKS
    RSS_CHECKS = not a.no_rss_checks
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 20000)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    only = set(x for x in a.only.split(",") if x)
    tmp = tempfile.mkdtemp(prefix="wsx-attack-")
    try:
        run_all(a.wsx, False, a.short, only, tmp)
        if a.tls and shutil.which("openssl"):
            run_all(a.wsx, True, a.short, only, tmp)
        elif a.tls:
            print("skip attack_tls: no openssl command", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
