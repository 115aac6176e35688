#!/usr/bin/env python3
"""The HTTP/2 client (RFC 8441, `wsx connect --http2`) against a non-wsx
peer: a TLS server written here on Debian's python3-h2 (frames built and
parsed here, no WebSocket library).

Cases:
  h2c_connect   the server enables extended CONNECT: the request carries
                :method CONNECT, :protocol websocket, :scheme https, :path,
                :authority, sec-websocket-version 13 and no HTTP/1.1-only
                header (host, upgrade, connection, sec-websocket-key); a
                line echoes; stdin EOF closes with 1000; one TCP
                connection.
  h2c_fallback  the server picks h2 but does not enable extended CONNECT:
                the client dials again offering only http/1.1 (ALPN), does
                the HTTP/1.1 upgrade there, and the echo works.

Env: WSX_BIN (path to build/wsx). Prints "ok <name>" / "FAIL <name>: why".
Every wait is bounded; the server threads stop at the end.
"""
import base64
import hashlib
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading

P = "h2c_"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
WSX_BIN = os.environ.get("WSX_BIN", os.path.join(ROOT, "build", "wsx"))
failures = 0


def ok(name):
    print(f"ok {P}{name}", flush=True)


def fail(name, why):
    global failures
    failures += 1
    print(f"FAIL {P}{name}: {why}", flush=True)


try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
except ImportError as e:  # Debian: python3-h2 (scripts/install-deps.sh)
    print(f"ok {P}python # skip: python3-h2 not installed ({e})")
    sys.exit(0)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---- WebSocket frames (server side: unmasked out, masked in) --------------

def ws_frame(opcode, payload):
    n = len(payload)
    head = struct.pack("!BB", 0x80 | opcode, n) if n < 126 else \
        struct.pack("!BBH", 0x80 | opcode, 126, n)
    return head + payload


def ws_parse(buf):
    """(opcode, payload, rest) of the first complete masked frame, or None."""
    if len(buf) < 2:
        return None
    op, n = buf[0] & 0x0F, buf[1] & 0x7F
    off = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, off = struct.unpack("!H", buf[2:4])[0], 4
    if len(buf) < off + 4 + n:
        return None
    key = buf[off:off + 4]
    data = bytes(b ^ key[i % 4] for i, b in enumerate(buf[off + 4:off + 4 + n]))
    return op, data, buf[off + 4 + n:]


class Echo:
    """WebSocket echo over some byte transport (send(bytes))."""

    def __init__(self, send):
        self.send, self.buf, self.closed = send, b"", False

    def feed(self, data):
        self.buf += data
        while True:
            f = ws_parse(self.buf)
            if not f:
                return
            op, payload, self.buf = f
            if op == 8:
                self.send(ws_frame(8, payload[:2]))
                self.closed = True
                return
            if op in (1, 2):
                self.send(ws_frame(op, payload))


# ---- the server ----------------------------------------------------------

class Server:
    def __init__(self, cert, key, connect_protocol):
        self.connect_protocol = connect_protocol
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.set_alpn_protocols(["h2", "http/1.1"])
        self.lsn = socket.socket()
        self.lsn.bind(("127.0.0.1", 0))
        self.lsn.listen(8)
        self.lsn.settimeout(10)
        self.port = self.lsn.getsockname()[1]
        self.conns = []       # ALPN of each accepted connection
        self.requests = []    # header dicts of CONNECT requests
        self.upgrades = 0     # HTTP/1.1 upgrades answered
        self.errors = []
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        try:
            while True:
                try:
                    raw, _ = self.lsn.accept()
                except (socket.timeout, OSError):
                    return
                raw.settimeout(10)
                try:
                    s = self.ctx.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    self.errors.append(f"TLS: {e}")
                    continue
                alpn = s.selected_alpn_protocol()
                self.conns.append(alpn)
                t = threading.Thread(
                    target=self.h2 if alpn == "h2" else self.h1, args=(s,),
                    daemon=True)
                t.start()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def h1(self, s):
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                d = s.recv(4096)
                if not d:
                    return
                head += d
            head, rest = head.split(b"\r\n\r\n", 1)
            hdrs = {}
            for line in head.split(b"\r\n")[1:]:
                k, v = line.split(b":", 1)
                hdrs[k.strip().lower()] = v.strip()
            acc = base64.b64encode(hashlib.sha1(
                hdrs[b"sec-websocket-key"] + GUID).digest())
            s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"
                      b"\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                      acc + b"\r\n\r\n")
            self.upgrades += 1
            e = Echo(s.sendall)
            e.feed(rest)
            while not e.closed:
                d = s.recv(4096)
                if not d:
                    return
                e.feed(d)
        except (OSError, KeyError, ValueError) as e:
            self.errors.append(f"h1: {e!r}")
        finally:
            s.close()

    def h2(self, s):
        cfg = h2.config.H2Configuration(client_side=False,
                                        header_encoding="utf-8")
        c = h2.connection.H2Connection(config=cfg)
        c.initiate_connection()
        if self.connect_protocol:
            c.update_settings(
                {h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1})
        s.sendall(c.data_to_send())
        echoes = {}
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    return
                for ev in c.receive_data(d):
                    if isinstance(ev, h2.events.RequestReceived):
                        hd = dict(ev.headers)
                        self.requests.append(hd)
                        sid = ev.stream_id
                        c.send_headers(sid, [(":status", "200")])

                        def send(b, sid=sid):
                            c.send_data(sid, b)
                        echoes[sid] = Echo(send)
                    elif isinstance(ev, h2.events.DataReceived):
                        c.acknowledge_received_data(
                            ev.flow_controlled_length, ev.stream_id)
                        e = echoes.get(ev.stream_id)
                        if e:
                            e.feed(ev.data)
                            if e.closed:
                                c.end_stream(ev.stream_id)
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        s.sendall(c.data_to_send())
                        return
                s.sendall(c.data_to_send())
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(f"h2: {e!r}")
        finally:
            s.close()

    def stop(self):
        self.lsn.close()


def connect(port, ca, lines):
    p = subprocess.run(
        [WSX_BIN, "connect", "--http2", "--ca", ca,
         f"wss://127.0.0.1:{port}/room?x=1"],
        input=("\n".join(lines) + "\n").encode(), capture_output=True,
        timeout=20)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def case_connect(cert, key):
    name = "connect"
    srv = Server(cert, key, True)
    try:
        rc, out, err = connect(srv.port, cert, ["hello", "world"])
        if rc != 0 or out.split() != ["hello", "world"]:
            return fail(name, f"rc {rc}, out {out!r}, err {err!r}, "
                              f"server {srv.errors}")
        if srv.conns != ["h2"] or len(srv.requests) != 1:
            return fail(name, f"connections {srv.conns}, requests "
                              f"{srv.requests}")
        r = srv.requests[0]
        want = {":method": "CONNECT", ":protocol": "websocket",
                ":scheme": "https", ":path": "/room?x=1",
                ":authority": f"127.0.0.1:{srv.port}",
                "sec-websocket-version": "13"}
        bad = {k: r.get(k) for k, v in want.items() if r.get(k) != v}
        extra = [k for k in ("host", "upgrade", "connection",
                             "sec-websocket-key") if k in r]
        if bad or extra:
            return fail(name, f"request {r}: wrong {bad}, extra {extra}")
        ok(name)
    finally:
        srv.stop()


def case_fallback(cert, key):
    name = "fallback"
    srv = Server(cert, key, False)
    try:
        rc, out, err = connect(srv.port, cert, ["over h1"])
        if rc != 0 or out.strip() != "over h1":
            return fail(name, f"rc {rc}, out {out!r}, err {err!r}, "
                              f"server {srv.errors}")
        # The h2 attempt, then a connection that offered http/1.1 only.
        if srv.conns != ["h2", "http/1.1"] or srv.upgrades != 1 or \
                srv.requests:
            return fail(name, f"connections {srv.conns}, upgrades "
                              f"{srv.upgrades}, h2 requests {srv.requests}")
        ok(name)
    finally:
        srv.stop()


def main():
    if not os.path.exists(WSX_BIN):
        print(f"FAIL {P}setup: no {WSX_BIN}")
        return 1
    r = subprocess.run([WSX_BIN, "connect", "--help"], capture_output=True)
    if b"--http2" not in r.stdout:
        print(f"ok {P}python # skip: {WSX_BIN} has no --http2")
        return 0
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
             cert, "-days", "30", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True)
        case_connect(cert, key)
        case_fallback(cert, key)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
