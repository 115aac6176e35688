"""Process and reporting helpers for the two wire fuzzers."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from .cases import FAILED, INFORMATIONAL, OK

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..",
                                    ".."))
WSX_BIN = os.environ.get("WSX_BIN", os.path.join(ROOT, "build", "wsx"))
# Cases slower than this are named in a '#' line (they still pass).
SLOW = 5.0


class Report:
    def __init__(self, prefix):
        self.prefix = prefix
        self.failures = 0
        self.passed = 0
        self.slow = []
        self.t0 = time.monotonic()

    def case(self, case, verdict, why, seconds):
        name = self.prefix + case.id
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
