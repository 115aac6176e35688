#!/usr/bin/env python3
"""tests/interop/test_units.py: every public duration is in milliseconds and
says so (issue 9, "one unit per kind across the API").

Scans include/wsx/*.h for
  - struct fields and function parameters whose name names a duration
    (timeout, interval, retry, delay, grace, period, linger, age, expires,
    a _ms/_s/_sec suffix) and functions that return one (their name names
    one): each must end in `_ms` or have a doc comment (the comment on its
    line, or the nearest comment above it within its declaration group)
    that says "ms" or "milliseconds";
  - #define constants naming a duration: their name ends in _MS;
  - any doc comment that gives a duration in seconds for a public value
    ("in seconds", "seconds)" ...), unless it only says what an old name
    or a seed project used ("Formerly ..., in seconds", "faye-websocket
    `retry`, there in seconds") or how a value is written on
    the wire (a Max-Age / Expires / retry field with one-second resolution).
Then runs the same scan on planted violations and checks they are reported.
Prints "ok ..." / "FAIL ...: why" lines.
"""
import glob
import os
import re
import sys
import tempfile

ROOT = os.environ.get("WSX_ROOT") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

DUR = re.compile(
    r"(timeout|interval|retry|delay|grace|period|linger|(^|_)age($|_)|"
    r"expires|_ms$|_s$|_secs?$|seconds?$)")
UNIT = re.compile(r"(\bms\b|millisecond|MILLISECOND)")
NUMTYPE = r"(?:u?int(?:8|16|32|64)?_t|unsigned(?: int| long)?|int|long|double|size_t)"
FIELD = re.compile(r"^\s*(?:const\s+)?" + NUMTYPE + r"\s+([a-z_0-9]+)\s*;")
PARAM = re.compile(r"\b" + NUMTYPE + r"\s+([a-z_0-9]+)\s*[,)]")
FUNC = re.compile(r"^(?:WSX_EXTERN\s+)?(?:const\s+)?" + NUMTYPE +
                  r"\s*\n?\s*(wsx_[a-z_0-9]+)\s*\(", re.M)
DEFINE = re.compile(r"^#define\s+(WSX_[A-Z_0-9]+)\s+[1-9][0-9]*u?\b")  # not 0x flags
SECONDS = re.compile(r"\b(in seconds|seconds\)|seconds,|seconds\.|, s\b)")
SECONDS_OK = re.compile(r"(Formerly|formerly|there in seconds|one-second resolution|"
                        r"whole\s+seconds|down to the second|Max-Age|"
                        r"Expires)")


def comments(text):
    """(start, end, body) of every /* ... */ comment."""
    return [(m.start(), m.end(), m.group(0))
            for m in re.finditer(r"/\*.*?\*/", text, re.S)]


def doc_for(text, coms, pos):
    """The comment documenting the declaration at `pos`: one on the same
    line, or the nearest one above it with only declarations (no blank
    line) between them."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    docs = [c for (s, e, c) in coms if line_start <= s < line_end or
            (s < line_start < e)]
    above = [(s, e, c) for (s, e, c) in coms if e <= line_start]
    if above:
        s, e, c = above[-1]
        between = text[e:line_start]
        if "\n\n" not in between and between.count("\n") <= 4:
            docs.append(c)
    return " ".join(docs)


def scan(root):
    """Returns a list of problems (strings)."""
    bad = []
    for path in sorted(glob.glob(os.path.join(root, "include/wsx/*.h"))):
        rel = os.path.relpath(path, root)
        text = open(path, encoding="utf-8").read()
        coms = comments(text)
        # code without comments, same offsets
        code = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)),
                      text, flags=re.S)
        lines = code.split("\n")
        off = 0
        for ln, line in enumerate(lines, 1):
            names = []
            m = FIELD.match(line)
            if m:
                names.append(m.group(1))
            if "(" in line or line.strip().endswith(","):
                names += [p for p in PARAM.findall(line)]
            for name in names:
                if not DUR.search(name) or name.endswith("_ms"):
                    continue
                doc = doc_for(text, coms, off + line.find(name))
                if not UNIT.search(doc):
                    bad.append(f"{rel}:{ln}: duration `{name}` neither ends in "
                               f"_ms nor says ms/milliseconds in its comment")
            m = DEFINE.match(line)
            if m and DUR.search(m.group(1).lower()) and \
                    not m.group(1).endswith("_MS") and "SIZE" not in m.group(1):
                bad.append(f"{rel}:{ln}: constant {m.group(1)} names a "
                           f"duration but does not end in _MS")
            off += len(line) + 1
        for m in FUNC.finditer(code):
            name = m.group(1)
            short = name[len("wsx_"):]
            if not DUR.search(short.split("_")[-1]) and not DUR.search(short):
                continue
            if re.search(r"(is_|has_|set_|parse|format)", short):
                continue
            doc = doc_for(text, coms, m.start())
            if not UNIT.search(doc) and not name.endswith("_ms"):
                bad.append(f"{rel}: {name}() returns a duration; its comment "
                           f"does not say ms/milliseconds")
        for s, e, c in coms:
            for sm in SECONDS.finditer(c):
                ctx = c[max(0, sm.start() - 160):sm.end() + 80]
                if not SECONDS_OK.search(ctx):
                    ln = text.count("\n", 0, s + sm.start()) + 1
                    bad.append(f"{rel}:{ln}: a duration in seconds: "
                               f"...{' '.join(ctx.split())[-120:]}")
    return bad


def main():
    failed = 0
    bad = scan(ROOT)
    if bad:
        for b in bad:
            print(f"FAIL units: {b}")
        failed += 1
    else:
        n = len(glob.glob(os.path.join(ROOT, "include/wsx/*.h")))
        print(f"ok units: every public duration in {n} headers is in "
              f"milliseconds and says so")
    # Self-test: planted violations are reported, correct ones are not.
    with tempfile.TemporaryDirectory() as t:
        os.makedirs(os.path.join(t, "include/wsx"))
        with open(os.path.join(t, "include/wsx/x.h"), "w") as f:
            f.write("typedef struct o {\n"
                    "  /* Close timeout, ms. */\n"
                    "  uint32_t close_timeout;\n"
                    "  /* Ping every this many seconds. */\n"
                    "  uint32_t ping_interval;\n"
                    "  uint32_t retry_ms;\n"
                    "  double delay; /* seconds, as a double */\n"
                    "} o;\n\n"
                    "#define WSX_DEFAULT_LINGER 2000u\n"
                    "#define WSX_DEFAULT_GRACE_MS 10000u\n"
                    "WSX_EXTERN int wsx_x_wait(int fd, unsigned timeout);\n"
                    "/* The current reconnection time in ms. */\n"
                    "WSX_EXTERN uint32_t wsx_x_retry(const o *c);\n"
                    "/* The current reconnection time. */\n"
                    "WSX_EXTERN uint32_t wsx_y_retry(const o *c);\n")
        got = "\n".join(scan(t))
        want = ["`ping_interval`", "`delay`", "WSX_DEFAULT_LINGER",
                "`timeout`", "wsx_y_retry()", "in seconds"]
        unwanted = ["close_timeout", "retry_ms", "GRACE_MS", "wsx_x_retry()"]
        miss = [w for w in want if w not in got]
        extra = [u for u in unwanted if u in got]
        if miss or extra:
            print(f"FAIL units_self_test: not reported {miss}, wrongly "
                  f"reported {extra}; got: {got!r}")
            failed += 1
        else:
            print("ok units_self_test: planted durations in seconds or without "
                  "a unit are reported")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
