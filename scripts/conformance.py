#!/usr/bin/env python3
"""scripts/conformance.py: the wire conformance cases on every path.

Runs tests/interop/test_wire_server.py (the fuzzing client against
`wsx echo --deflate`) and tests/interop/test_wire_client.py (the fuzzing
server against `wsx autobahn-client --deflate`) on every cell of

    {plain TCP, TLS} x {release, ASan+UBSan} x {whole writes, split writes}

TLS: `wsx echo --tls-cert/--tls-key` and `wsx autobahn-client wss://...
--ca`, with a CA and a leaf for 127.0.0.1 made by the openssl CLI in a
temporary directory; the Python side verifies the CA too. Split writes:
tests/interop/wire/relay.py between the two, cutting every write into
random 1-7 byte pieces with small random pauses (see its header for the
bulk cases); the seed is printed and SEED=N reruns the same cuts.

Prints one line per cell and role with the OK / NON-STRICT / INFORMATIONAL
/ FAILED counts, the FAIL lines of the cases underneath ("  | FAIL ..."),
an "ok conformance_<cell>_<role>" or "FAIL conformance_<cell>_<role>: ..."
line per cell and role (what scripts/run-tests.sh counts), and last
"N passed, N failed" (cells x roles). Exit status 1 on any FAILED,
NON-STRICT or UNIMPLEMENTED case, any sanitizer report (ASan, LSan, UBSan
in the output of a wsx process) or a wsx that did not exit cleanly.

Environment:
  CONFORMANCE_CASES  case id prefixes (default: all; `make test` passes
                     "1.,2.,3.,4.,5.,6.,7.,8.,10.", the fast subset)
  CONFORMANCE_CELLS  regex over cell names such as "tls/asan/split"
                     (default: every cell)
  SEED               the relay's seed (default: random, printed)
  WSX_BIN            the release CLI (default build/wsx)
  WSX_ASAN_BIN       the ASan+UBSan CLI (default build-asan/wsx)
  CONFORMANCE_BUILDS "release,asan" (default) or one of them
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
INTEROP = os.path.join(ROOT, "tests", "interop")
ROLES = (("server", "test_wire_server.py", "wsx echo --deflate"),
         ("client", "test_wire_client.py", "wsx autobahn-client --deflate"))
VERDICTS = ("OK", "NON-STRICT", "INFORMATIONAL", "FAILED", "UNIMPLEMENTED")


def make_certs(d):
    """A CA and a leaf for 127.0.0.1 / localhost signed by it (srv.*)."""
    k = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes"]

    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run("req", "-x509", *k, "-keyout", "ca.key", "-out", "ca.pem", "-days",
        "2", "-subj", "/CN=wsx conformance CA")
    run("req", "-new", *k, "-keyout", "srv.key", "-out", "srv.csr", "-subj",
        "/CN=127.0.0.1")
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
        "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "srv.ext",
        "-out", "srv.pem")


def run_role(script, env, timeout):
    """Runs one fuzzer; returns (verdict counts, case FAIL lines, other
    FAIL lines, exit status, seconds)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, os.path.join(INTEROP, script)],
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        out, st = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        st = "timeout after %d s" % timeout
    counts = dict.fromkeys(VERDICTS, 0)
    m = re.search(r"^# verdicts: (.*)$", out, re.M)
    if m:
        for kv in m.group(1).split():
            k, v = kv.split("=")
            counts[k] = int(v)
    fails = [ln for ln in out.splitlines() if ln.startswith("FAIL ")]
    case_fails = [ln for ln in fails if re.match(r"FAIL wire_\w+_\d", ln)]
    other = [ln for ln in fails if ln not in case_fails]
    notes = [ln for ln in out.splitlines()
             if ln.startswith(("# path", "# relay", "# slow"))]
    return counts, case_fails, other, st, time.monotonic() - t0, notes, m


def main():
    cases = os.environ.get("CONFORMANCE_CASES", "")
    cell_re = os.environ.get("CONFORMANCE_CELLS", "")
    seed = os.environ.get("SEED") or str(random.randrange(1, 1 << 31))
    builds = [b for b in os.environ.get("CONFORMANCE_BUILDS",
                                        "release,asan").split(",") if b]
    bins = {
        "release": os.environ.get("WSX_BIN",
                                  os.path.join(ROOT, "build", "wsx")),
        "asan": os.environ.get("WSX_ASAN_BIN",
                               os.path.join(ROOT, "build-asan", "wsx")),
    }
    # A full role takes minutes (9.* moves 200 MiB); the fast subset,
    # seconds.
    timeout = int(os.environ.get("CONFORMANCE_ROLE_TIMEOUT",
                                 "600" if cases else "3600"))
    print("# conformance: cases %s; split writes SEED=%s (rerun with "
          "SEED=%s)" % (cases or "all", seed, seed), flush=True)
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="wsx-conformance.")
    try:
        try:
            make_certs(tmp)
        except (OSError, subprocess.CalledProcessError) as e:
            print("FAIL conformance_certs: openssl: %s" % (
                getattr(e, "stderr", b"") or str(e)), flush=True)
            print("0 passed, 1 failed")
            return 1
        for transport in ("tcp", "tls"):
            for build in ("release", "asan"):
                for writes in ("whole", "split"):
                    cell = "%s/%s/%s" % (transport, build, writes)
                    if cell_re and not re.search(cell_re, cell):
                        continue
                    if build not in builds:
                        print("# cell %s skipped (CONFORMANCE_BUILDS=%s)" % (
                            cell, ",".join(builds)), flush=True)
                        continue
                    for role, script, peer in ROLES:
                        name = "conformance_%s_%s" % (cell.replace("/", "_"),
                                                      role)
                        if not os.access(bins[build], os.X_OK):
                            print("FAIL %s: %s is not built" % (
                                name, bins[build]), flush=True)
                            failed += 1
                            continue
                        env = dict(os.environ)
                        env.update(WSX_BIN=bins[build],
                                   WSX_WIRE_DEFLATE="all",
                                   WSX_WIRE_CASES=cases,
                                   WSX_WIRE_BUDGET=str(timeout - 30))
                        env.pop("WSX_WIRE_TLS", None)
                        env.pop("WSX_WIRE_SPLIT", None)
                        if transport == "tls":
                            env["WSX_WIRE_TLS"] = tmp
                        if writes == "split":
                            env["WSX_WIRE_SPLIT"] = seed
                            # 12.*/13.*: 256 KiB of messages per case
                            # instead of 1 MiB (tests/interop/wire/relay.py
                            # moves 1-7 byte pieces slowly).
                            env.setdefault("WSX_WIRE_DEFLATE_BYTES",
                                           str(256 << 10))
                        c, cfails, other, st, secs, notes, seen = run_role(
                            script, env, timeout)
                        print("%-22s %-6s %4d OK %3d NON-STRICT %3d "
                              "INFORMATIONAL %3d FAILED%s  (%s, %.0f s)" % (
                                  cell, role, c["OK"], c["NON-STRICT"],
                                  c["INFORMATIONAL"],
                                  c["FAILED"] + c["UNIMPLEMENTED"],
                                  " + %d UNIMPLEMENTED" % c["UNIMPLEMENTED"]
                                  if c["UNIMPLEMENTED"] else "", peer, secs),
                              flush=True)
                        for ln in notes:
                            if not ln.startswith("# path"):
                                print("  " + ln, flush=True)
                        for ln in (cfails + other)[:40]:
                            print("  | " + ln, flush=True)
                        bad = []
                        if not seen:
                            bad.append("no verdict line")
                        if c["FAILED"] or c["UNIMPLEMENTED"]:
                            bad.append("%d FAILED" % (c["FAILED"] +
                                                      c["UNIMPLEMENTED"]))
                        if c["NON-STRICT"]:
                            bad.append("%d NON-STRICT" % c["NON-STRICT"])
                        if other:
                            bad.append(other[0][5:])
                        if st != 0 and not bad:
                            bad.append("fuzzer exit status %s" % st)
                        if bad:
                            failed += 1
                            print("FAIL %s: %s (SEED=%s)" % (
                                name, "; ".join(bad), seed), flush=True)
                        else:
                            passed += 1
                            print("ok %s" % name, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if passed + failed == 0:
        print("# no cell selected")
        print("0 passed, 0 failed")
        return 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
