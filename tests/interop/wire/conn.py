"""Wire-level WebSocket endpoint for the conformance fuzzers (standard library
only).

One `Conn` is one TCP connection after the opening handshake, in either role:
"client" (masks what it sends, requires unmasked input) or "server" (the
reverse). It sends arbitrary frames -- reserved bits, reserved opcodes, bad
fragmentation, chopped into TCP chunks of any size -- and records what the
peer does, in the terms the Autobahn|Testsuite judges on:

  received          events in order: ("message", payload bytes, is_binary),
                    ("ping", payload), ("pong", payload), and markers that a
                    case appends itself (("timeout", "A"), ...)
  closed_by_me      we sent the first close frame
  failed_by_me      we failed the connection (the peer broke the protocol)
  dropped_by_me     we closed the TCP connection first
  was_clean         both close frames were exchanged before TCP closed
  remote_close_code the code in the peer's close frame (None: none or empty)

Every wait is bounded by a deadline; nothing blocks forever.
"""
import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import time
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OPEN, CLOSING, CLOSED = "OPEN", "CLOSING", "CLOSED"


def readable(sock, timeout):
    """select() for reading that also sees bytes a TLS socket has already
    decrypted and buffered (select cannot)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    r, _, _ = select.select([sock], [], [], max(timeout, 0))
    return bool(r)


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def mask_bytes(data, key):
    """XOR `data` with the 4-byte `key` repeated (one big-integer XOR, so a
    16 MiB payload costs milliseconds, not seconds)."""
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^
            int.from_bytes(k, "little")).to_bytes(n, "little")


def frame_bytes(opcode, payload=b"", fin=True, rsv=0, mask=True,
                payload_len=None):
    """One frame as bytes. `rsv` is the 3-bit RSV field (4 = RSV1).
    `payload_len` repeats `payload` cyclically up to that length (Autobahn's
    sendFrame(payload_len=...))."""
    if payload_len is not None and payload_len != len(payload):
        reps = payload_len // max(len(payload), 1) + 1
        payload = (payload * reps)[:payload_len]
    n = len(payload)
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 15)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = os.urandom(4)
        return head + key + mask_bytes(payload, key)
    return head + payload


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    return struct.pack("!H", code) + reason


class Deflate:
    """permessage-deflate (RFC 7692) state for one connection.

    `tx_bits`/`tx_nct`: window and no_context_takeover for what we send;
    `rx_bits`/`rx_nct`: the same for what the peer sends. What we receive is
    inflated with exactly the negotiated window, and with a fresh inflater
    per message under no_context_takeover, so a peer that exceeds either
    fails to decompress."""

    def __init__(self, tx_bits=15, tx_nct=False, rx_bits=15, rx_nct=False):
        self.tx_bits, self.tx_nct = tx_bits, tx_nct
        self.rx_bits, self.rx_nct = rx_bits, rx_nct
        self._c = None
        self._d = None

    def compress(self, data):
        if self._c is None or self.tx_nct:
            # zlib raises windowBits 8 to 9 for raw deflate; its largest
            # distance at 9 bits is 250, inside a 256-byte window.
            self._c = zlib.compressobj(6, zlib.DEFLATED,
                                       -max(self.tx_bits, 9))
        out = self._c.compress(data) + self._c.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    def decompress(self, data, limit):
        if self._d is None or self.rx_nct:
            self._d = zlib.decompressobj(-self.rx_bits)
        out = self._d.decompress(data + b"\x00\x00\xff\xff", limit + 1)
        if len(out) > limit or self._d.unconsumed_tail:
            raise ValueError("message inflates past %d bytes" % limit)
        return out


class ProtocolViolation(Exception):
    pass


class Conn:
    """One WebSocket connection on a connected socket after the handshake.
    `leftover`: bytes read past the handshake head."""

    MAX_MESSAGE = 1 << 26
    WRITE_STALL = 30.0   # seconds without write progress before we give up

    def __init__(self, sock, role, leftover=b"", deflate=None):
        self.sock = sock
        self.role = role
        self.mask = role == "client"
        self.deflate = deflate
        self.buf = bytearray(leftover)
        self.state = OPEN
        self.received = []
        self.closed_by_me = False
        self.failed_by_me = False
        self.dropped_by_me = False
        self.was_clean = False
        self.remote_close_code = None
        self.remote_close_reason = b""
        self.sent_close = False
        self.got_close = False
        self.violation = None
        self.rx_frames = [0, 0]     # [non-final, final] data frames received
        self.tx_frames = [0, 0]     # [non-final, final] data frames sent
        self.auto_frag = 0          # split outgoing messages (0: never)
        self._msg_op = None
        self._msg_rsv1 = False
        self._msg_parts = []
        self._msg_len = 0
        self.on_event = None        # callback after each recorded event
        self.close_after_handshake_wait = 1.0
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self.tls = isinstance(sock, ssl.SSLSocket)
        self._rx_done = False       # peer closed its side of TCP
        self._pending = []          # control replies queued by the parser
        self._drop_after_flush = False

    # ---- output -----------------------------------------------------------
    def write(self, data, chop=0, sync=False):
        """Writes `data`, in chunks of `chop` bytes each given to the kernel
        separately (0: as one), reading whatever arrives meanwhile so that a
        peer that echoes while we send never deadlocks us. Returns False if
        the connection is gone."""
        view = memoryview(data)
        step = chop if chop > 0 else len(view) or 1
        if self.tls and not chop:
            # One SSL_write per 64 KiB: a retry after SSLWantWriteError
            # repeats the same chunk, as OpenSSL requires.
            step = min(step, 1 << 16)
        for off in range(0, len(view), step):
            chunk = view[off:off + step]
            stalled = time.monotonic() + self.WRITE_STALL
            while len(chunk):
                if self.state == CLOSED:
                    return False
                if time.monotonic() > stalled:
                    # The peer stopped reading: end the case, not the run.
                    self.drop()
                    return False
                r, w, _ = select.select([self.sock], [self.sock], [], 1.0)
                if r or (self.tls and self.sock.pending()):
                    self._read_some()
                if w and self.state != CLOSED:
                    try:
                        n = self.sock.send(chunk)
                    except (BlockingIOError, ssl.SSLWantWriteError,
                            ssl.SSLWantReadError):
                        n = 0
                    except OSError:
                        self._tcp_gone()
                        return False
                    if n:
                        stalled = time.monotonic() + self.WRITE_STALL
                    chunk = chunk[n:]
            if sync:
                time.sleep(0.002)
                self.pump(0)
        return True

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, chop=0,
                   sync=False, payload_len=None):
        if opcode in (0, 1, 2):
            self.tx_frames[1 if fin else 0] += 1
        return self.write(frame_bytes(opcode, payload, fin, rsv, self.mask,
                                      payload_len), chop, sync)

    def send_frames(self, frames, chop=0, sync=False):
        """frames: (opcode, payload, fin[, rsv]) tuples, sent as one write
        (or one write per frame when `sync`)."""
        raws = []
        for f in frames:
            op, payload, fin = f[0], f[1], f[2]
            rsv = f[3] if len(f) > 3 else 0
            if op in (0, 1, 2):
                self.tx_frames[1 if fin else 0] += 1
            raws.append(frame_bytes(op, payload, fin, rsv, self.mask))
        if sync:
            for r in raws:
                if not self.write(r, chop, sync=True):
                    return False
            return True
        return self.write(b"".join(raws), chop)

    def send_message(self, payload, binary=False, frag=0, chop=0,
                     sync=False):
        """A whole message, compressed when deflate was negotiated, split
        into frames of `frag` payload bytes (or self.auto_frag)."""
        rsv = 0
        if self.deflate is not None:
            payload = self.deflate.compress(payload)
            rsv = 4
        frag = frag or self.auto_frag
        op = 2 if binary else 1
        if not frag or len(payload) <= frag:
            return self.send_frame(op, payload, True, rsv, chop, sync)
        frames = []
        for off in range(0, len(payload), frag):
            last = off + frag >= len(payload)
            frames.append((op if off == 0 else 0, payload[off:off + frag],
                           last, rsv if off == 0 else 0))
        return self.send_frames(frames, chop, sync)

    def send_close(self, code=None, reason=b"", raw=None):
        """Sends a close frame (raw: exact payload). The first close sent
        before any received marks closed_by_me."""
        if self.state == CLOSED:
            return False
        if not self.got_close and not self.sent_close:
            self.closed_by_me = True
        self.sent_close = True
        if self.state == OPEN:
            self.state = CLOSING
        payload = raw if raw is not None else close_payload(code, reason)
        return self.write(frame_bytes(8, payload, True, 0, self.mask))

    # ---- input ------------------------------------------------------------
    def _tcp_gone(self):
        if self.state != CLOSED:
            self.state = CLOSED
            self.was_clean = self.sent_close and self.got_close
            try:
                self.sock.close()
            except OSError:
                pass

    def drop(self):
        """Closes TCP from our side (killAfter / dropConnection)."""
        if self.state != CLOSED:
            self.dropped_by_me = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._tcp_gone()

    def fail(self, why):
        """The peer broke the protocol: record it and drop the connection."""
        if self.violation is None:
            self.violation = why
            self.received.append(("violation", why))
        self.failed_by_me = True
        if self.state == OPEN and not self.sent_close:
            try:
                self.sock.send(frame_bytes(8, close_payload(1002), True, 0,
                                           self.mask))
            except OSError:
                pass
            self.sent_close = True
            self.closed_by_me = True
        self.drop()

    def _recv(self):
        """What the socket has now (b"": EOF, None: nothing yet). A TLS
        socket yields one record per recv: read on while it has more."""
        out = []
        while True:
            try:
                d = self.sock.recv(1 << 20)
            except (BlockingIOError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                break
            except OSError:
                d = b""
            if not d:
                if not out:
                    return b""
                self._eof_next = True
                break
            out.append(d)
            if not self.tls or sum(map(len, out)) >= 1 << 20:
                break
        return b"".join(out) if out else None

    _eof_next = False

    def _read_some(self):
        if self._eof_next:
            data = b""
        else:
            data = self._recv()
        if data is None:
            return
        if not data:
            self._rx_done = True
            self._tcp_gone()
            return
        self.buf += data
        try:
            self._parse()
        except ProtocolViolation as e:
            self.fail(str(e))
        if self._eof_next and self.state != CLOSED:
            # EOF came right behind the data (TLS close_notify).
            self._rx_done = True
            self._tcp_gone()
            return
        # Replies queued while parsing leave only now: write() reads, and
        # reading from inside _parse would re-enter it.
        if self._pending and self.state != CLOSED:
            out, self._pending = b"".join(self._pending), []
            self.write(out)
        if self._drop_after_flush:
            self.drop()

    def _record(self, ev):
        self.received.append(ev)
        if self.on_event:
            self.on_event(ev)

    def _parse(self):
        buf = self.buf
        pos = 0
        while self.state != CLOSED:
            if len(buf) - pos < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            hl = 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n = struct.unpack_from("!H", buf, pos + 2)[0]
                hl = 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n = struct.unpack_from("!Q", buf, pos + 2)[0]
                hl = 10
            masked = bool(b1 & 0x80)
            if masked:
                hl += 4
            if len(buf) - pos < hl + n:
                break
            if masked != (self.role == "server"):
                raise ProtocolViolation(
                    "peer sent a %s frame" % ("masked" if masked
                                              else "unmasked"))
            payload = bytes(buf[pos + hl:pos + hl + n])
            if masked:
                payload = mask_bytes(payload, bytes(buf[pos + hl - 4:
                                                        pos + hl]))
            pos += hl + n
            self._frame(b0 & 0x80 != 0, (b0 >> 4) & 7, b0 & 15, payload)
        del buf[:pos]

    def _frame(self, fin, rsv, op, payload):
        if self.got_close:
            raise ProtocolViolation("frame after the peer's close frame")
        deflate_ok = self.deflate is not None and op in (1, 2)
        if rsv & 3 or (rsv & 4 and not deflate_ok):
            raise ProtocolViolation("peer set reserved bits %d" % rsv)
        if op >= 8:
            if not fin or len(payload) > 125:
                raise ProtocolViolation("bad control frame from peer")
            if op == 9:
                self._record(("ping", payload))
                if self.state == OPEN:
                    self._pending.append(frame_bytes(10, payload, True, 0,
                                                     self.mask))
            elif op == 10:
                self._record(("pong", payload))
            elif op == 8:
                self._close_frame(payload)
            else:
                raise ProtocolViolation("reserved opcode %d from peer" % op)
            return
        if op in (1, 2):
            if self._msg_op is not None:
                raise ProtocolViolation("new message inside a fragmented one")
            self._msg_op = op
            self._msg_rsv1 = bool(rsv & 4)
            self._msg_parts = []
            self._msg_len = 0
        elif op == 0:
            if self._msg_op is None:
                raise ProtocolViolation("continuation with nothing to "
                                        "continue")
            if rsv:
                raise ProtocolViolation("RSV1 on a continuation frame")
        else:
            raise ProtocolViolation("reserved opcode %d from peer" % op)
        self.rx_frames[1 if fin else 0] += 1
        self._msg_parts.append(payload)
        self._msg_len += len(payload)
        if self._msg_len > self.MAX_MESSAGE:
            raise ProtocolViolation("message over %d bytes" % self.MAX_MESSAGE)
        if not fin:
            return
        data = b"".join(self._msg_parts)
        self._msg_parts = []
        op, self._msg_op = self._msg_op, None
        if self._msg_rsv1:
            try:
                data = self.deflate.decompress(data, self.MAX_MESSAGE)
            except (zlib.error, ValueError) as e:
                raise ProtocolViolation("cannot inflate: %s" % e)
        elif self.deflate is not None and self._strict_compressed:
            raise ProtocolViolation("uncompressed message under deflate")
        if op == 1:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolViolation("peer sent invalid UTF-8 text")
        self._record(("message", data, op == 2))

    _strict_compressed = False

    def _close_frame(self, payload):
        code = None
        if len(payload) == 1:
            raise ProtocolViolation("1-byte close payload from peer")
        if len(payload) >= 2:
            code = struct.unpack("!H", payload[:2])[0]
            reason = payload[2:]
            try:
                reason.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolViolation("invalid UTF-8 close reason")
            if not (code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                             1011, 1012, 1013, 1014)
                    or 3000 <= code <= 4999):
                raise ProtocolViolation("peer sent close code %d" % code)
            self.remote_close_reason = reason
        self.got_close = True
        self.remote_close_code = code
        if not self.sent_close:
            # Echo the code, as Autobahn does.
            self.sent_close = True
            self._pending.append(frame_bytes(8, close_payload(code), True, 0,
                                             self.mask))
        if self.state == OPEN:
            self.state = CLOSING
        if self.role == "server":
            # The server closes TCP first once both close frames passed.
            self._drop_after_flush = True

    # ---- waiting ----------------------------------------------------------
    def pump(self, timeout, until=None):
        """Reads and handles input for up to `timeout` seconds, returning
        early when TCP closed or `until()` is true."""
        deadline = time.monotonic() + timeout
        while self.state != CLOSED:
            if until is not None and until():
                return
            left = deadline - time.monotonic()
            if readable(self.sock, left):
                self._read_some()
            elif left <= 0:
                return
            if self.state == CLOSING and self.sent_close and self.got_close \
                    and self.role == "client":
                # Give the server its chance to close TCP first.
                self._await_server_drop()

    def _await_server_drop(self):
        deadline = time.monotonic() + self.close_after_handshake_wait
        while self.state != CLOSED:
            left = deadline - time.monotonic()
            if left <= 0:
                self.drop()
                return
            if readable(self.sock, left):
                self._read_some()

    def finish(self, timeout):
        """Waits for the connection to end, dropping it at the deadline."""
        self.pump(timeout)
        if self.state != CLOSED:
            self.drop()


# ---- handshakes -----------------------------------------------------------
def read_head(sock, deadline):
    """Reads an HTTP head; returns (head bytes, leftover)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete HTTP head")
        if not readable(sock, left):
            continue
        d = sock.recv(65536)
        if not d:
            raise ConnectionError("peer closed during the handshake")
        buf += d
        if len(buf) > 65536:
            raise ValueError("HTTP head too large")
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def parse_headers(lines):
    h = {}
    for line in lines:
        if ":" in line:
            k, v = line.split(":", 1)
            k = k.strip().lower()
            h[k] = (h[k] + ", " if k in h else "") + v.strip()
    return h


def parse_extensions(value):
    """'a; x=1, b' -> [("a", {"x": "1"}), ("b", {})]"""
    out = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        items = [i.strip() for i in part.split(";")]
        params = {}
        for it in items[1:]:
            if "=" in it:
                k, v = it.split("=", 1)
                params[k.strip()] = v.strip().strip('"')
            elif it:
                params[it] = None
        out.append((items[0], params))
    return out


def client_handshake(host, port, path="/", extensions=None, timeout=10.0,
                     tls=None):
    """Connects and performs the client handshake, over TLS when `tls` (an
    ssl.SSLContext verifying the server as `host`) is given. Returns (sock,
    leftover, response headers)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls is not None:
        try:
            sock = tls.wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError):
            sock.close()
            raise
    key = base64.b64encode(os.urandom(16))
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n" % (path, host, port, key.decode()))
    if extensions:
        req += "Sec-WebSocket-Extensions: %s\r\n" % extensions
    sock.sendall((req + "\r\n").encode())
    head, rest = read_head(sock, time.monotonic() + timeout)
    lines = head.split("\r\n")
    if not lines[0].startswith("HTTP/1.1 101"):
        sock.close()
        raise ConnectionError("handshake refused: %s" % lines[0])
    h = parse_headers(lines[1:])
    if h.get("sec-websocket-accept", "").encode() != accept_key(key):
        sock.close()
        raise ConnectionError("bad Sec-WebSocket-Accept")
    return sock, rest, h


def deflate_from_response(value):
    """The client's Deflate state from the server's accepted extension
    (None when the server declined)."""
    exts = parse_extensions(value or "")
    if not exts:
        return None
    name, p = exts[0]
    if name != "permessage-deflate" or len(exts) > 1:
        raise ConnectionError("unexpected extensions %r" % value)
    return Deflate(tx_bits=int(p.get("client_max_window_bits") or 15),
                   tx_nct="client_no_context_takeover" in p,
                   rx_bits=int(p.get("server_max_window_bits") or 15),
                   rx_nct="server_no_context_takeover" in p)
