#!/usr/bin/env python3
"""The fuzzing server: speaks the Autobahn|Testsuite fuzzingserver protocol
(GET /getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A) and runs
the wire conformance cases (see docs/conformance.md) against
`wsx autobahn-client`, judging each case as the server side: once for
1.*-10.* and once, with `--deflate`, for 12.*/13.*.

Env: WSX_BIN, WSX_WIRE_CASES, WSX_WIRE_FULL, WSX_WIRE_TLS (wsx dials
wss:// with --ca), WSX_WIRE_SPLIT, WSX_WIRE_DEFLATE as for
test_wire_server.py.
Prints "ok wire_client_<id>" or "FAIL wire_client_<id>: <verdict> <why>".
"""
import os
import socket
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wire import cases as C  # noqa: E402
from wire.conn import (CLOSED, Conn, Deflate, accept_key,  # noqa: E402
                       parse_extensions, parse_headers, read_head)
from wire import harness as H  # noqa: E402
from wire.harness import Proc, Report, require_binary  # noqa: E402
from wire.relay import Relay  # noqa: E402

AGENT = "wsx-wire"


class FuzzingServer:
    """Accepts the client's connections one after another in a thread."""

    def __init__(self, cases, report):
        self.cases = cases
        self.report = report
        self.results = {}          # case id -> (verdict, why, seconds)
        self.protocol_errors = []
        self.count_asked = False
        self.reports_updated = False
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.tls = H.tls_server_context()
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(60)
        self.lsock.close()

    def loop(self):
        while not self.stopping:
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                sock.settimeout(10)
                if self.tls is not None:
                    sock = self.tls.wrap_socket(sock, server_side=True)
                self.serve(sock)
            except Exception as e:  # noqa: BLE001 - one line per problem
                self.protocol_errors.append("%s: %r" % (
                    type(e).__name__, e))
                try:
                    sock.close()
                except OSError:
                    pass

    def handshake(self, sock, head, ext_response=None):
        lines = head.split("\r\n")
        h = parse_headers(lines[1:])
        key = h.get("sec-websocket-key", "").encode()
        if (h.get("upgrade", "").lower() != "websocket"
                or h.get("sec-websocket-version") != "13" or not key):
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\n"
                         b"Content-Length: 0\r\n\r\n")
            raise ValueError("bad upgrade request: %r" % lines[0])
        resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n" %
                accept_key(key).decode())
        if ext_response:
            resp += "Sec-WebSocket-Extensions: %s\r\n" % ext_response
        sock.sendall((resp + "\r\n").encode())
        return h

    def serve(self, sock):
        head, rest = read_head(sock, time.monotonic() + 10)
        target = head.split("\r\n", 1)[0].split(" ")[1]
        url = urlsplit(target)
        q = parse_qs(url.query)
        if url.path == "/getCaseCount":
            self.handshake(sock, head)
            conn = Conn(sock, "server", rest)
            conn.send_frame(1, str(len(self.cases)).encode())
            conn.send_close(1000)
            conn.finish(5)
            self.count_asked = True
        elif url.path == "/updateReports":
            self.handshake(sock, head)
            conn = Conn(sock, "server", rest)
            if q.get("agent") != [AGENT]:
                self.protocol_errors.append("updateReports agent %r" %
                                            q.get("agent"))
            conn.send_close(1000)
            conn.finish(5)
            self.reports_updated = True
        elif url.path == "/runCase":
            self.run_case(sock, head, rest, q)
        else:
            sock.sendall(b"HTTP/1.1 404 Not Found\r\n"
                         b"Content-Length: 0\r\n\r\n")
            sock.close()
            self.protocol_errors.append("unknown request %r" % target)

    def run_case(self, sock, head, rest, q):
        t0 = time.monotonic()
        n = int(q.get("case", ["0"])[0])
        if not 1 <= n <= len(self.cases):
            raise ValueError("runCase for case %d of %d" % (
                n, len(self.cases)))
        if q.get("agent") != [AGENT]:
            self.protocol_errors.append("runCase agent %r" % q.get("agent"))
        case = self.cases[n - 1]
        h = parse_headers(head.split("\r\n")[1:])
        offered = h.get("sec-websocket-extensions", "")
        deflate, resp = None, None
        if case.accept and offered:
            res = case.accept(parse_extensions(offered))
            if res:
                resp, params = res
                deflate = Deflate(**params)
        self.handshake(sock, head, resp)
        conn = Conn(sock, "server", rest, deflate)
        r = C.Run(case, conn)
        try:
            case.run(r)
        finally:
            if conn.state != CLOSED:
                conn.drop()
        verdict, why = C.judge(r)
        if case.deflate and deflate is None:
            verdict, why = C.UNIMPLEMENTED, "no acceptable offer in %r" % (
                offered,)
        self.results[case.id] = (verdict, why, time.monotonic() - t0)
        self.report.case(case, verdict, why, time.monotonic() - t0)


def run_phase(report, cases, extra, budget):
    if not cases:
        return
    fs = FuzzingServer(cases, report)
    label = "autobahn_client%s" % ("_deflate" if extra else "")
    port = fs.port
    relay = Relay(port, H.SPLIT) if H.SPLIT else None
    if relay:
        port = relay.port
    if H.TLS_DIR:
        url = "wss://127.0.0.1:%d" % port
        extra = extra + ["--ca", os.path.join(H.TLS_DIR, "ca.pem")]
    else:
        url = "ws://127.0.0.1:%d" % port
    p = Proc(["autobahn-client", url, AGENT] + extra)
    try:
        try:
            p.p.wait(budget)
        except Exception:  # noqa: BLE001 - TimeoutExpired
            report.fail(label, "did not finish within %d s: %s" % (
                budget, p.tail()))
            p.p.kill()
            p.p.wait()
        fs.stop()
        if relay:
            relay.stop()
            print("# relay: %d connections, %d pieces%s" % (
                relay.count, relay.pieces, "; " + "; ".join(relay.errors[:3])
                if relay.errors else ""), flush=True)
        for c in cases:
            if c.id not in fs.results:
                report.fail(c.id, "never run by the client")
        st = p.p.returncode
        san = p.sanitizer_report()
        if san:
            report.fail(label, "sanitizer report: %s" % san)
        elif (st == 0 and fs.count_asked and fs.reports_updated
                and not fs.protocol_errors):
            report.ok(label)
        else:
            report.fail(label, "exit %s, count asked %s, reports updated "
                        "%s, errors %s: %s" % (
                            st, fs.count_asked, fs.reports_updated,
                            fs.protocol_errors[:3], p.tail()))
    finally:
        p.cleanup()


def main():
    report = Report("wire_client_")
    require_binary(report)
    chosen = C.select_cases(os.environ.get("WSX_WIRE_CASES", ""))
    print(H.path_note(), flush=True)
    budget = int(os.environ.get("WSX_WIRE_BUDGET", "150"))
    if H.DEFLATE_ALL:
        run_phase(report, chosen, ["--deflate"], budget)
    else:
        run_phase(report, [c for c in chosen if not c.deflate], [], budget)
        run_phase(report, [c for c in chosen if c.deflate], ["--deflate"],
                  budget)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
