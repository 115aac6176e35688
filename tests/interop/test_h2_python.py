#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441) against `wsx echo --http2`, driven by
Debian's python3-h2 doing the extended CONNECT by hand (no WebSocket
library: frames are built and parsed here).

Cases: ALPN h2 and SETTINGS_ENABLE_CONNECT_PROTOCOL; echo round trips and
a clean close; bad requests (a malformed CONNECT is reset by nghttp2 with
PROTOCOL_ERROR, an unknown :protocol gets 501, a missing
sec-websocket-version the driver's 4xx, a plain GET the server's 426); a
stream reset in the middle of a message (the server reports 1006 and the
connection goes on); 100 sockets on one connection; a flow-control stall
(a 1 KiB window, then WINDOW_UPDATE); permessage-deflate over h2;
HTTP/1.1 on the same listener.

Env: WSX_BIN (path to build/wsx). Prints "ok <name>" / "FAIL <name>: why".
Every wait is bounded; the server started here is killed at the end.
"""
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

P = "h2_"
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
    import h2.errors
    import h2.settings
except ImportError as e:  # Debian: python3-h2 (scripts/install-deps.sh)
    print(f"ok {P}python # skip: python3-h2 not installed ({e})")
    sys.exit(0)


# ---- WebSocket frames (client side: masked) --------------------------------

def ws_frame(opcode, payload, fin=True, rsv1=False, mask=True):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    body = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return head + key + body


def ws_parse(buf):
    """(frames, rest): complete server frames as (fin, rsv1, opcode, data)."""
    out = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            if len(buf) < 4:
                break
            n = struct.unpack("!H", buf[2:4])[0]
            off = 4
        elif n == 127:
            if len(buf) < 10:
                break
            n = struct.unpack("!Q", buf[2:10])[0]
            off = 10
        if b1 & 0x80:
            raise ValueError("server frame is masked")
        if len(buf) < off + n:
            break
        out.append((bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F,
                    bytes(buf[off:off + n])))
        buf = buf[off + n:]
    return out, buf


# ---- an HTTP/2 client connection -------------------------------------------

class Stream:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.data = bytearray()
        self.ended = False
        self.reset = None  # error code
        self.frames = []


class H2:
    def __init__(self, port, ca, window=None, validate=True, auto_ack=True):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.alpn = self.sock.selected_alpn_protocol()
        cfg = h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8",
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate)
        self.c = h2.connection.H2Connection(config=cfg)
        self.c.initiate_connection()
        if window is not None:
            self.c.update_settings(
                {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        # Room on the connection for everything the tests receive.
        self.c.increment_flow_control_window(1 << 24)
        self.auto_ack = auto_ack
        self.streams = {}
        self.remote_settings = {}
        self.terminated = None
        self.flush()

    def flush(self):
        data = self.c.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, until, timeout=5.0):
        """Reads and handles events until until() is true (or timeout)."""
        end = time.time() + timeout
        while not until():
            left = end - time.time()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return until()
            if not data:
                self.terminated = self.terminated or "eof"
                return until()
            for ev in self.c.receive_data(data):
                self.handle(ev)
            self.flush()
        return True

    def handle(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                self.remote_settings[int(k)] = v.new_value
        elif isinstance(ev, h2.events.ResponseReceived) and st:
            hd = dict(ev.headers)
            st.status = int(hd.get(":status", "0"))
            st.headers = hd
        elif isinstance(ev, h2.events.DataReceived) and st:
            st.data += ev.data
            if self.auto_ack:
                self.c.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
            frames, rest = ws_parse(st.data)
            st.frames += frames
            st.data = bytearray(rest)
        elif isinstance(ev, h2.events.DataReceived):
            self.c.acknowledge_received_data(ev.flow_controlled_length,
                                             ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded) and st:
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset) and st:
            st.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.terminated = ev.error_code

    def request(self, headers, end_stream=False):
        sid = self.c.get_next_available_stream_id()
        self.streams[sid] = Stream()
        self.c.send_headers(sid, headers, end_stream=end_stream)
        self.flush()
        return sid

    def ws(self, path="/", extra=()):
        return self.request([(":method", "CONNECT"), (":protocol", "websocket"),
                             (":scheme", "https"), (":path", path),
                             (":authority", "localhost"),
                             ("sec-websocket-version", "13")] + list(extra))

    def send(self, sid, data, end_stream=False):
        """DATA within the peer's windows and frame size (waits for
        WINDOW_UPDATEs, bounded)."""
        data = bytes(data)
        while True:
            room = min(self.c.local_flow_control_window(sid),
                       self.c.max_outbound_frame_size)
            if room <= 0 and data:
                before = self.c.local_flow_control_window(sid)
                if not self.pump(lambda: self.c.local_flow_control_window(
                        sid) > before, 5):
                    raise TimeoutError("no WINDOW_UPDATE from the server")
                continue
            k = min(room, len(data))
            last = k == len(data)
            self.c.send_data(sid, data[:k], end_stream=end_stream and last)
            data = data[k:]
            self.flush()
            if last:
                return

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- the server ---------------------------------------------------------------

class Server:
    def __init__(self, cert, key):
        self.p = subprocess.Popen(
            [WSX_BIN, "echo", "--port", "0", "--host", "127.0.0.1",
             "--tls-cert", cert, "--tls-key", key, "--http2", "--deflate"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.port = None
        first = self.p.stdout.readline()
        if first.startswith("listening on wss://"):
            self.port = int(first.strip().rstrip("/").rsplit(":", 1)[1])
        else:
            self.first = first + self.p.stderr.read()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.strip())

    def wait_line(self, pred, timeout=5.0):
        end = time.time() + timeout
        while time.time() < end:
            for ln in list(self.lines):
                if pred(ln):
                    return ln
            time.sleep(0.02)
        return None

    def stop(self):
        """SIGTERM: wsx echo closes every socket (1001; GOAWAY on h2
        connections) and exits 0. Returns the exit status."""
        if self.p.poll() is None:
            self.p.terminate()
        try:
            return self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)
            return "hung"


def make_certs(d):
    k = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(a, cwd=d, check=True, capture_output=True)
    run("openssl", "req", "-x509", *k, "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "30", "-subj", "/CN=wsx h2 test CA")
    run("openssl", "req", "-new", *k, "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=localhost")
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem",
        "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-extfile",
        "srv.ext", "-out", "srv.pem")
    return (os.path.join(d, "ca.pem"), os.path.join(d, "srv.pem"),
            os.path.join(d, "srv.key"))


# ---- cases ---------------------------------------------------------------------

def open_ws(c, path="/", extra=()):
    sid = c.ws(path, extra)
    c.pump(lambda: c.streams[sid].status is not None or
           c.streams[sid].reset is not None)
    return sid


def echo_once(c, sid, opcode, payload):
    st = c.streams[sid]
    n = len(st.frames)
    c.send(sid, ws_frame(opcode, payload))
    c.pump(lambda: len(st.frames) > n)
    return st.frames[n] if len(st.frames) > n else None


def case_basics(port, ca):
    c = H2(port, ca)
    try:
        if c.alpn != "h2":
            return fail("alpn", f"ALPN chose {c.alpn!r}")
        ok("alpn")
        code = h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL
        c.pump(lambda: int(code) in c.remote_settings)
        if c.remote_settings.get(int(code)) != 1:
            fail("settings", f"no ENABLE_CONNECT_PROTOCOL=1: {c.remote_settings}")
        else:
            ok("settings")
        sid = open_ws(c, "/chat", [("sec-websocket-protocol", "chat, x")])
        st = c.streams[sid]
        if st.status != 200:
            return fail("echo", f"status {st.status} reset {st.reset}")
        if st.headers.get("sec-websocket-protocol") != "chat":
            fail("echo_protocol", f"headers {st.headers}")
        else:
            ok("echo_protocol")
        if "sec-websocket-accept" in st.headers or "upgrade" in st.headers:
            fail("echo_headers", f"HTTP/1.1 headers leaked: {st.headers}")
        else:
            ok("echo_headers")
        f1 = echo_once(c, sid, 1, "hello över h2".encode())
        blob = os.urandom(300000)
        f2 = echo_once(c, sid, 2, blob)
        if f1 != (True, False, 1, "hello över h2".encode()):
            return fail("echo", f"text echo {f1!r:.80}")
        if not f2 or f2[2] != 2 or f2[3] != blob:
            return fail("echo", "binary echo of 300000 bytes differs")
        ok("echo")
        c.send(sid, ws_frame(8, struct.pack("!H", 1000) + b"bye"))
        c.pump(lambda: st.ended or st.reset is not None)
        close = [f for f in st.frames if f[2] == 8]
        if not close or close[0][3][:2] != struct.pack("!H", 1000):
            return fail("close", f"no close 1000 back: {st.frames[-1:]}")
        if not st.ended:
            return fail("close", f"no END_STREAM (reset {st.reset})")
        ok("close")
    finally:
        c.close()


def case_bad_requests(port, ca):
    c = H2(port, ca, validate=False)
    try:
        base = [(":method", "CONNECT"), (":protocol", "websocket"),
                (":scheme", "https"), (":authority", "localhost")]
        checks = [
            ("bad_no_path", base + [("sec-websocket-version", "13")],
             "reset"),
            ("bad_protocol", [(":method", "CONNECT"), (":protocol", "chat"),
                              (":scheme", "https"), (":path", "/"),
                              (":authority", "localhost"),
                              ("sec-websocket-version", "13")], 501),
            ("bad_no_version", base + [(":path", "/")], "4xx"),
            ("bad_version", base + [(":path", "/"),
                                    ("sec-websocket-version", "99")], "4xx"),
            ("plain_connect", [(":method", "CONNECT"),
                               (":authority", "localhost:443")], 501),
        ]
        for name, hdrs, want in checks:
            sid = c.request(hdrs)
            st = c.streams[sid]
            c.pump(lambda: st.status is not None or st.reset is not None)
            if want == "reset":
                good = st.reset == h2.errors.ErrorCodes.PROTOCOL_ERROR
            elif want == "4xx":
                good = st.status in (400, 426)
            else:
                good = st.status == want
            if good:
                ok(name)
            else:
                fail(name, f"want {want}, got status {st.status} "
                     f"reset {st.reset}")
        sid = c.request([(":method", "GET"), (":scheme", "https"),
                         (":path", "/"), (":authority", "localhost")],
                        end_stream=True)
        st = c.streams[sid]
        c.pump(lambda: st.ended or st.reset is not None)
        if st.status == 426 and st.ended:
            ok("plain_get_426")
        else:
            fail("plain_get_426", f"status {st.status} ended {st.ended}")
        # The connection is still good after all that.
        sid = open_ws(c)
        f = echo_once(c, sid, 1, b"still here") if c.streams[sid].status == 200 else None
        if f and f[3] == b"still here":
            ok("bad_requests_conn_alive")
        else:
            fail("bad_requests_conn_alive", f"status {c.streams[sid].status}")
    finally:
        c.close()


def case_reset(port, ca, srv):
    c = H2(port, ca)
    try:
        sid = open_ws(c, "/reset-me")
        if c.streams[sid].status != 200:
            return fail("reset", f"status {c.streams[sid].status}")
        opened = srv.wait_line(lambda l: l.startswith("open ") and "/reset-me" in l)
        if not opened:
            return fail("reset", f"no open line: {srv.lines[-3:]}")
        conn_id = opened.split()[1]
        frame = ws_frame(2, os.urandom(1000))
        c.send(sid, frame[:500])  # half a message
        time.sleep(0.1)
        c.c.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        c.flush()
        line = srv.wait_line(lambda l: l.startswith(f"close {conn_id} "))
        if not line or line.split()[2] != "1006":
            return fail("reset", f"server saw {line!r}")
        ok("reset")
        sid2 = open_ws(c)
        f = echo_once(c, sid2, 1, b"after reset")
        if f and f[3] == b"after reset":
            ok("reset_conn_alive")
        else:
            fail("reset_conn_alive", f"got {f!r}")
    finally:
        c.close()


def case_many(port, ca, n=100):
    c = H2(port, ca)
    try:
        sids = [c.ws(f"/many/{i}") for i in range(n)]
        c.pump(lambda: all(c.streams[s].status is not None for s in sids), 15)
        bad = [s for s in sids if c.streams[s].status != 200]
        if bad:
            return fail("many", f"{len(bad)} of {n} not opened "
                        f"(e.g. {c.streams[bad[0]].status})")
        for i, s in enumerate(sids):
            c.c.send_data(s, ws_frame(1, f"msg {i}".encode()))
        c.flush()
        c.pump(lambda: all(c.streams[s].frames for s in sids), 15)
        wrong = [i for i, s in enumerate(sids) if not c.streams[s].frames or
                 c.streams[s].frames[0][3] != f"msg {i}".encode()]
        if wrong:
            return fail("many", f"{len(wrong)} of {n} echoes missing/wrong")
        for s in sids:
            c.c.send_data(s, ws_frame(8, struct.pack("!H", 1000)))
        c.flush()
        c.pump(lambda: all(c.streams[s].ended for s in sids), 15)
        if not all(c.streams[s].ended for s in sids):
            return fail("many", "not every stream ended after close")
        ok("many_100")
    finally:
        c.close()


def case_flow(port, ca):
    c = H2(port, ca, window=1024, auto_ack=False)
    try:
        sid = open_ws(c)
        st = c.streams[sid]
        if st.status != 200:
            return fail("flow", f"status {st.status}")
        blob = os.urandom(64 * 1024)
        c.send(sid, ws_frame(2, blob))
        got = lambda: len(st.data) + sum(len(f[3]) + 4 for f in st.frames)
        c.pump(lambda: got() >= 1024, 3)
        time.sleep(0.3)
        c.pump(lambda: False, 0.3)
        if got() > 1024:
            return fail("flow_stall", f"{got()} bytes past a 1024-byte window")
        if got() < 1024:
            return fail("flow_stall", f"only {got()} bytes of the window")
        ok("flow_stall")
        c.c.increment_flow_control_window(1 << 20, stream_id=sid)
        c.flush()
        c.pump(lambda: st.frames, 5)
        if not st.frames or st.frames[0][3] != blob:
            return fail("flow_resume", "message incomplete after WINDOW_UPDATE")
        ok("flow_resume")
    finally:
        c.close()


def case_deflate(port, ca):
    c = H2(port, ca)
    try:
        sid = open_ws(c, "/", [("sec-websocket-extensions",
                                "permessage-deflate; client_max_window_bits")])
        st = c.streams[sid]
        ext = st.headers.get("sec-websocket-extensions", "")
        if st.status != 200 or "permessage-deflate" not in ext:
            return fail("deflate", f"status {st.status} extensions {ext!r}")
        text = ("deflate over h2 " * 200).encode()
        co = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        comp = co.compress(text) + co.flush(zlib.Z_SYNC_FLUSH)
        assert comp.endswith(b"\x00\x00\xff\xff")
        c.send(sid, ws_frame(1, comp[:-4], rsv1=True))
        c.pump(lambda: st.frames, 5)
        if not st.frames:
            return fail("deflate", "no echo")
        fin, rsv1, op, data = st.frames[0]
        out = zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff") \
            if rsv1 else data
        if out != text:
            return fail("deflate", f"echo differs (rsv1={rsv1})")
        if not rsv1:
            return fail("deflate", "echo was not compressed")
        ok("deflate")
    finally:
        c.close()


def case_http11(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["http/1.1"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                      b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                d = s.recv(4096)
                if not d:
                    break
                head += d
            if s.selected_alpn_protocol() == "http/1.1" and \
                    head.startswith(b"HTTP/1.1 101"):
                ok("http11_same_listener")
            else:
                fail("http11_same_listener", f"{head[:40]!r}")


def case_shutdown(srv, ca):
    """SIGTERM with an open h2 socket: it gets close 1001, the connection a
    GOAWAY, and the server exits 0 (under ASan: without leaks)."""
    c = H2(srv.port, ca)
    try:
        sid = open_ws(c)
        st = c.streams[sid]
        if st.status != 200:
            return fail("shutdown", f"status {st.status}")
        srv.p.terminate()
        c.pump(lambda: any(f[2] == 8 for f in st.frames), 5)
        close = [f for f in st.frames if f[2] == 8]
        if not close or close[0][3][:2] != struct.pack("!H", 1001):
            return fail("shutdown", f"no close 1001: {st.frames}")
        c.send(sid, ws_frame(8, struct.pack("!H", 1001)))
        c.pump(lambda: c.terminated is not None, 5)
        try:
            rc = srv.p.wait(10)
        except subprocess.TimeoutExpired:
            rc = "still running 10 s after SIGTERM"
        if c.terminated is None:
            fail("shutdown", "no GOAWAY / end of the connection")
        elif rc != 0:
            fail("shutdown", f"wsx echo exited {rc}: "
                 f"{srv.p.stderr.read()[-500:]!r}")
        else:
            ok("shutdown")
    finally:
        c.close()


def main():
    if not os.path.exists(WSX_BIN):
        fail("setup", f"{WSX_BIN} not built")
        return 1
    probe = subprocess.run([WSX_BIN, "echo", "--port", "0", "--tls-cert",
                            "/nonexistent", "--tls-key", "/nonexistent",
                            "--http2"], capture_output=True, text=True,
                           timeout=10)
    if "without HTTP/2" in probe.stderr:
        print(f"ok {P}python # skip: wsx built without HTTP/2 (WSX_HTTP2=OFF)")
        return 0
    with tempfile.TemporaryDirectory() as d:
        try:
            ca, cert, key = make_certs(d)
        except (OSError, subprocess.CalledProcessError) as e:
            fail("setup", f"openssl: {e}")
            return 1
        srv = Server(cert, key)
        if srv.port is None:
            fail("setup", f"server did not start: {srv.first!r}")
            return 1
        try:
            for case in (lambda: case_basics(srv.port, ca),
                         lambda: case_bad_requests(srv.port, ca),
                         lambda: case_reset(srv.port, ca, srv),
                         lambda: case_many(srv.port, ca),
                         lambda: case_flow(srv.port, ca),
                         lambda: case_deflate(srv.port, ca),
                         lambda: case_http11(srv.port, ca)):
                try:
                    case()
                except Exception as e:  # noqa: BLE001 - report, go on
                    fail("case", f"{type(e).__name__}: {e}")
            if srv.p.poll() is not None:
                fail("server_alive", f"wsx echo exited {srv.p.returncode}")
            else:
                ok("server_alive")
            case_shutdown(srv, ca)
        finally:
            srv.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
