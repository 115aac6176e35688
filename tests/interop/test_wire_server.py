#!/usr/bin/env python3
"""The fuzzing client: runs the wire conformance cases (Autobahn|Testsuite
1.* to 10.*, 12.*, 13.*; see docs/conformance.md) against `wsx echo`, a
plain instance for 1.*-10.* and a `--deflate` one for 12.*/13.*.

Env: WSX_BIN (build/wsx), WSX_WIRE_CASES (comma-separated id prefixes, e.g.
"6.4,9.1"; default all), WSX_WIRE_FULL=1 (12.*/13.* with the suite's 1000
messages per case), WSX_WIRE_TLS / WSX_WIRE_SPLIT / WSX_WIRE_DEFLATE (the
path, see wire/harness.py). Prints "ok wire_server_<id>" or
"FAIL wire_server_<id>: <verdict> <why>" per case.
"""
import os
import sys
import time

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wire import cases as C  # noqa: E402
from wire.conn import (Conn, client_handshake,  # noqa: E402
                       deflate_from_response, parse_extensions)
from wire import harness as H  # noqa: E402
from wire.harness import Proc, Report, require_binary  # noqa: E402
from wire.relay import Relay  # noqa: E402

TLS = H.tls_client_context()


def start_echo(report, extra):
    if H.TLS_DIR:
        extra = extra + ["--tls-cert", os.path.join(H.TLS_DIR, "srv.pem"),
                         "--tls-key", os.path.join(H.TLS_DIR, "srv.key")]
    p = Proc(["echo", "--port", "0", "--host", "127.0.0.1"] + extra)
    m = p.wait_for(r"listening on wss?://127\.0\.0\.1:(\d+)/", 10)
    if not m:
        report.fail("setup", "wsx echo %s did not start: %s" % (
            " ".join(extra), p.tail()))
        p.cleanup()
        return None, 0
    return p, int(m.group(1))


def honors_offer(offers, resp):
    """None if the accepted permessage-deflate `resp` answers one of the
    `offers` as RFC 7692 requires (requested server parameters granted,
    no client_max_window_bits value unless offered), else why not."""
    if not resp:
        return None  # declined: the case then judges UNIMPLEMENTED
    (name, rp), = parse_extensions(resp)
    for _, op in parse_extensions(offers):
        if "server_no_context_takeover" in op and \
                "server_no_context_takeover" not in rp:
            continue
        want = op.get("server_max_window_bits")
        got = rp.get("server_max_window_bits")
        if want and (not got or int(got) > int(want)):
            continue
        if "client_max_window_bits" in rp and \
                "client_max_window_bits" not in op:
            continue
        return None
    return "response %r honors no offer of %r" % (resp, offers)


def run_case(case, port):
    t0 = time.monotonic()
    try:
        sock, rest, h = client_handshake(
            "127.0.0.1", port, "/runCase?case=%s" % case.id,
            extensions=case.offers, tls=TLS)
        deflate = None
        if case.deflate:
            resp = h.get("sec-websocket-extensions")
            why = honors_offer(case.offers, resp)
            if why:
                sock.close()
                return C.FAILED, why, time.monotonic() - t0
            deflate = deflate_from_response(resp)
        elif h.get("sec-websocket-extensions"):
            return C.FAILED, "extension accepted that was never offered", 0
        conn = Conn(sock, "client", rest, deflate)
    except (OSError, ValueError, TimeoutError) as e:
        return C.FAILED, "handshake: %s" % e, time.monotonic() - t0
    r = C.Run(case, conn)
    try:
        case.run(r)
    finally:
        if conn.state != "CLOSED":
            conn.drop()
    verdict, why = C.judge(r)
    return verdict, why, time.monotonic() - t0


def main():
    report = Report("wire_server_")
    require_binary(report)
    chosen = C.select_cases(os.environ.get("WSX_WIRE_CASES", ""))
    print(H.path_note(), flush=True)
    plain = [c for c in chosen if not c.deflate]
    comp = [c for c in chosen if c.deflate]
    groups = ((plain, []), (comp, ["--deflate"]))
    if H.DEFLATE_ALL:
        groups = ((chosen, ["--deflate"]),)
    procs = []
    relays = []
    try:
        for group, extra in groups:
            if not group:
                continue
            p, port = start_echo(report, extra + ["--quiet"])
            if not p:
                for c in group:
                    report.fail(c.id, "server did not start")
                continue
            procs.append((p, extra))
            if H.SPLIT:
                relays.append(Relay(port, H.SPLIT))
                port = relays[-1].port
            for c in group:
                if p.p.poll() is not None:
                    report.fail(c.id, "wsx echo exited (status %s): %s" % (
                        p.p.returncode, p.tail()))
                    continue
                verdict, why, secs = run_case(c, port)
                report.case(c, verdict, why, secs)
        for p, extra in procs:
            alive = p.p.poll() is None
            st = p.stop()
            name = "echo%s_exit" % ("_deflate" if extra else "")
            san = p.sanitizer_report()
            if san:
                report.fail(name, "sanitizer report: %s" % san)
            elif alive and st == 0:
                report.ok(name)
            else:
                report.fail(name, "wsx echo %s: %s (%s)" % (
                    "exited early" if not alive else "did not stop cleanly",
                    st, p.tail()))
        for rl in relays:
            rl.stop()
            print("# relay: %d connections, %d pieces%s" % (
                rl.count, rl.pieces, "; " + "; ".join(rl.errors[:3])
                if rl.errors else ""), flush=True)
    finally:
        for p, _ in procs:
            p.cleanup()
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
