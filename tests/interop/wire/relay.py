"""A loopback TCP relay that splits writes, for the "split writes" cells of
the conformance matrix (scripts/conformance.sh, docs/conformance.md).

Each connection accepted on 127.0.0.1:<port> is joined to a new connection
to the target. Everything one side writes is forwarded to the other side in
pieces of random size, each given to the kernel on its own with TCP_NODELAY,
with small random pauses between some of them, so that the receiver's reads
end at arbitrary byte offsets: inside frame headers, masks, TLS records,
UTF-8 sequences, deflate blocks.

Piece sizes: 1-7 bytes for the first `big_after` bytes (default 300 KiB)
each direction of a connection carries, then 1-4096 bytes. So every case
of 1.* to 8.* and 10.* is cut into 1-7 byte pieces from start to end
(7.1.6, the largest, moves 256 KiB + 12 bytes one way); only the bulk
cases go on in larger pieces after their first 300 KiB: 9.1.3-9.1.6,
9.2.3-9.2.6, 9.3.*-9.6.*, 9.7.5, 9.7.6, 9.8.5, 9.8.6 and the 12.*/13.*
cases whose compressed traffic passes 300 KiB one way. Why: at 1-7 bytes
per send() and a wake-up of the receiver per piece, the relay moves on the
order of 100 KiB/s on the shared 2-core machine, and 9.* alone moves about
150 MiB each way per role and cell.

The sizes and pauses come from random.Random("<seed>:<connection>:<dir>"),
so SEED=<seed> cuts every connection of a rerun the same way (the
scheduling of the two ends is not reproducible, the cuts are).
"""
import random
import socket
import threading
import time

# On average one pause per this many pieces: often while a connection is
# young (handshakes, and all of most cases), rarely in bulk transfers.
PAUSE_EVERY_EARLY = 8
PAUSE_EVERY_BULK = 256
EARLY = 1 << 16
PAUSE_MAX = 0.0005      # seconds


class Relay:
    def __init__(self, target_port, seed, target_host="127.0.0.1",
                 big_after=300 << 10):
        self.target = (target_host, target_port)
        self.seed = seed
        self.big_after = big_after
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.count = 0
        self.pieces = 0
        self.record = None      # a list: every piece size, for the tests
        self.errors = []
        self.stopping = False
        self.threads = []
        self.thread = threading.Thread(target=self._accept_loop,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.lsock.close()
        for t in self.threads:
            t.join(5)

    def _accept_loop(self):
        while not self.stopping:
            try:
                a, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            a.settimeout(None)
            try:
                b = socket.create_connection(self.target, timeout=10)
                b.settimeout(None)
            except OSError as e:
                self.errors.append("connect to %s:%d: %s" % (
                    self.target + (e,)))
                a.close()
                continue
            for s in (a, b):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.count += 1
            pair = _Pair(a, b)
            for src, dst, d in ((a, b, "up"), (b, a, "down")):
                rng = random.Random("%s:%d:%s" % (self.seed, self.count, d))
                t = threading.Thread(target=self._pump,
                                     args=(pair, src, dst, rng), daemon=True)
                t.start()
                self.threads.append(t)
            self.threads = [t for t in self.threads if t.is_alive()]

    def _pump(self, pair, src, dst, rng):
        moved = 0
        dst_gone = False
        while True:
            try:
                data = src.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            if dst_gone:
                continue
            view = memoryview(data)
            off = 0
            try:
                while off < len(view):
                    hi = 7 if moved < self.big_after else 4096
                    n = rng.randint(1, hi)
                    dst.sendall(view[off:off + n])
                    if self.record is not None:
                        self.record.append(min(n, len(view) - off))
                    off += n
                    moved += n
                    self.pieces += 1
                    every = (PAUSE_EVERY_EARLY if moved < EARLY
                             else PAUSE_EVERY_BULK)
                    if rng.randrange(every) == 0:
                        time.sleep(rng.uniform(0, PAUSE_MAX))
            except OSError:
                # The receiver is gone (reset): what src sends from now on
                # is lost, as on a real path; the other direction goes on
                # delivering what it has, until its own EOF.
                dst_gone = True
        # EOF (or a reset) from src: pass the half-close on.
        pair.half_closed(dst)


class _Pair:
    """Both sockets of one relayed connection; closed when both directions
    ended."""

    def __init__(self, a, b):
        self.socks = (a, b)
        self.lock = threading.Lock()
        self.ended = 0

    def half_closed(self, dst):
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            self.ended += 1
            done = self.ended == 2
        if done:
            self.kill()

    def kill(self):
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
