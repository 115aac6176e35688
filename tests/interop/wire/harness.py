"""Process and reporting helpers for the two wire fuzzers."""
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time

from .cases import FAILED, INFORMATIONAL, NON_STRICT, OK, UNIMPLEMENTED

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..",
                                    ".."))
WSX_BIN = os.environ.get("WSX_BIN", os.path.join(ROOT, "build", "wsx"))
# Cases slower than this are named in a '#' line (they still pass).
SLOW = 5.0
# The path between the fuzzer and wsx (see docs/conformance.md, "Matrix"):
#   WSX_WIRE_TLS=DIR     TLS; DIR holds ca.pem, srv.pem, srv.key (leaf for
#                        127.0.0.1 signed by ca.pem)
#   WSX_WIRE_SPLIT=SEED  through wire/relay.py, writes cut into 1-7 bytes
#   WSX_WIRE_DEFLATE=all one wsx with --deflate runs every case (default:
#                        a plain one for 1.*-10.*, a --deflate one for
#                        12.*/13.*)
TLS_DIR = os.environ.get("WSX_WIRE_TLS", "")
SPLIT = os.environ.get("WSX_WIRE_SPLIT", "")
DEFLATE_ALL = os.environ.get("WSX_WIRE_DEFLATE", "") == "all"
# What a sanitizer prints when it finds something (ASan, LSan, UBSan).
SANITIZER = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|"
                       r"runtime error: |SUMMARY: \w+Sanitizer")


def tls_client_context():
    """None without WSX_WIRE_TLS, else a context verifying the test CA."""
    if not TLS_DIR:
        return None
    ctx = ssl.create_default_context(cafile=os.path.join(TLS_DIR, "ca.pem"))
    return ctx


def tls_server_context():
    if not TLS_DIR:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(TLS_DIR, "srv.pem"),
                        os.path.join(TLS_DIR, "srv.key"))
    return ctx


def path_note():
    """One '#' line naming the path, so a log says how to rerun it."""
    return "# path: %s, %s, wsx %s%s" % (
        "TLS (CA %s)" % TLS_DIR if TLS_DIR else "plain TCP",
        "split writes SEED=%s" % SPLIT if SPLIT else "whole writes",
        WSX_BIN, ", --deflate on every case" if DEFLATE_ALL else "")


class Report:
    def __init__(self, prefix):
        self.prefix = prefix
        self.failures = 0
        self.passed = 0
        self.slow = []
        self.verdicts = {OK: 0, NON_STRICT: 0, INFORMATIONAL: 0, FAILED: 0,
                         UNIMPLEMENTED: 0}
        self.t0 = time.monotonic()

    def case(self, case, verdict, why, seconds):
        name = self.prefix + case.id
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
        if verdict in (OK, INFORMATIONAL):
            self.passed += 1
            note = " # %s" % why if verdict == INFORMATIONAL else ""
            if case.timed:
                note = note or " # %.2f s" % seconds
            print("ok %s%s" % (name, note), flush=True)
        else:
            self.failures += 1
            print("FAIL %s: %s %s" % (name, verdict, why), flush=True)
        if seconds > SLOW:
            self.slow.append((case.id, seconds))

    def fail(self, name, why):
        self.failures += 1
        print("FAIL %s%s: %s" % (self.prefix, name, why), flush=True)

    def ok(self, name):
        self.passed += 1
        print("ok %s%s" % (self.prefix, name), flush=True)

    def finish(self):
        for cid, s in self.slow:
            print("# slow case %s: %.1f s" % (cid, s), flush=True)
        # Read by scripts/conformance.py: the verdict counts of the cases.
        print("# verdicts: " + " ".join(
            "%s=%d" % (k, v) for k, v in self.verdicts.items()), flush=True)
        print("# %d ok, %d failed in %.1f s" % (
            self.passed, self.failures, time.monotonic() - self.t0),
            flush=True)
        return 1 if self.failures else 0


class Proc:
    """A wsx process whose output goes to a temporary log file."""

    def __init__(self, args):
        self.log = tempfile.NamedTemporaryFile(prefix="wsx-wire-",
                                               suffix=".log", delete=False)
        self.p = subprocess.Popen([WSX_BIN] + args, stdout=self.log,
                                  stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)

    def text(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def wait_for(self, pattern, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.p.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def sanitizer_report(self):
        """The first line of a sanitizer report in the output, or None."""
        m = SANITIZER.search(self.text())
        if not m:
            return None
        text = self.text()
        line = text[text.rfind("\n", 0, m.start()) + 1:]
        return line.split("\n", 1)[0].strip()

    def tail(self, n=5):
        return " | ".join(self.text().strip().splitlines()[-n:])

    def stop(self, timeout=5):
        """SIGTERM, then the exit status (None: had to be killed)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return None
        return self.p.returncode

    def cleanup(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


def require_binary(report):
    if not os.access(WSX_BIN, os.X_OK):
        report.fail("setup", "%s is not built" % WSX_BIN)
        sys.exit(report.finish())
