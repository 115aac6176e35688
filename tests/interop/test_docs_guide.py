#!/usr/bin/env python3
"""Keeps docs/migrating-from-node.md true to the headers and its code
runnable:

1. every wsx_* / WSX_* identifier the guide names is declared or defined in
   include/wsx/*.h;
2. every `type.member[.member...]` path the guide writes
   (e.g. wsx_socket_options.driver.max_length, wsx_socket_proxy.origin,
   wsx_socket_callbacks.connect_failed) names members that exist in that
   struct as the headers define it (following member types into nested
   structs, through pointers);
3. every ```c block with a main() in the guide compiles warning-free
   (-Werror) against include/ and links against $WSX_BUILD/libwsx.a; the
   first program (the echo server) is run on a loopback port and a raw
   WebSocket client checks the echo of a text message and the close
   handshake.

A renamed function or option field makes (1) or (2) print FAIL naming it.
Env: WSX_ROOT, WSX_BUILD (set by scripts/run-tests.sh). Prints
"ok <name>" / "FAIL <name>: why". Every wait is bounded; the server
started here is killed at the end.
"""
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

P = "docs_guide_"
ROOT = os.environ.get(
    "WSX_ROOT",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("WSX_BUILD", os.path.join(ROOT, "build"))
GUIDE = os.path.join(ROOT, "docs", "migrating-from-node.md")
INCLUDE = os.path.join(ROOT, "include", "wsx")
failures = 0


def ok(name):
    print(f"ok {P}{name}", flush=True)


def fail(name, why):
    global failures
    failures += 1
    print(f"FAIL {P}{name}: {why}", flush=True)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def split_top(body, sep):
    """Splits at `sep` outside parentheses and braces."""
    out, depth, cur = [], 0, []
    for ch in body:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def parse_structs(text):
    """{struct name: {member: type name or None}} for every struct body."""
    structs = {}
    for m in re.finditer(r"struct\s+(\w+)\s*\{", text):
        name, i, depth = m.group(1), m.end(), 1
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        members = {}
        for decl in split_top(text[m.end():i - 1], ";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            fp = re.match(r"^(.*?)\(\s*\*\s*(\w+)\s*\)\s*\(", decl)
            if fp:  # function pointer member
                members[fp.group(2)] = None
                continue
            words = [w for w in re.findall(r"\w+", decl.split(",")[0])
                     if w not in ("const", "struct", "volatile")]
            base = words[0] if words else None
            for part in split_top(decl, ","):
                ident = re.findall(r"(\w+)\s*(?:\[[^\]]*\])?\s*$",
                                   part.strip())
                if ident:
                    members[ident[-1]] = base
        structs[name] = members
    return structs


def main():
    with open(GUIDE, encoding="utf-8") as f:
        guide = f.read()
    headers = ""
    for h in sorted(os.listdir(INCLUDE)):
        if h.endswith(".h"):
            with open(os.path.join(INCLUDE, h), encoding="utf-8") as f:
                headers += f.read() + "\n"
    code = strip_comments(headers)

    # 1. identifiers
    declared = set(re.findall(r"\b(?:wsx|WSX)_\w+", code))
    named = sorted(set(re.findall(r"\b(?:wsx|WSX)_\w+", guide)))
    # A name ending in '_' is a family written with a '*' (WSX_E_*).
    missing = [n for n in named if n not in declared and not (
        n.endswith("_") and any(d.startswith(n) for d in declared))]
    if not named:
        fail("names", "the guide names no wsx identifier")
    elif missing:
        fail("names", "not in include/wsx: " + ", ".join(missing))
    else:
        ok(f"names ({len(named)} identifiers)")

    # 2. struct.member paths
    structs = parse_structs(code)
    paths = sorted(set(re.findall(r"\b(wsx_\w+(?:\.\w+)+)", guide)))
    bad = []
    for path in paths:
        parts = path.split(".")
        cur = parts[0]
        if cur not in structs:
            bad.append(f"{path} ({cur} is not a struct)")
            continue
        for member in parts[1:]:
            members = structs.get(cur)
            if members is None or member not in members:
                bad.append(f"{path} (no member {member} in {cur})")
                break
            cur = members[member]
    if not paths:
        fail("members", "the guide writes no struct.member path")
    elif bad:
        fail("members", "; ".join(bad))
    else:
        ok(f"members ({len(paths)} paths)")

    # 3. programs
    blocks = re.findall(r"^```c\n(.*?)^```", guide, flags=re.S | re.M)
    programs = [b for b in blocks if re.search(r"\bint main\(", b)]
    if not programs:
        fail("program", "no ```c block with main() in the guide")
        return
    cc = os.environ.get("CC") or shutil.which("cc") or "gcc"
    lib = os.path.join(BUILD, "libwsx.a")
    if not os.path.exists(lib):
        fail("program", f"{lib} not built")
        return
    # libwsx.a needs what the build's wsx.pc lists as Requires.private
    # (libnghttp2 too when built with WSX_HTTP2).
    deps = ["libuv", "libssl", "libcrypto", "zlib"]
    try:
        with open(os.path.join(BUILD, "wsx.pc"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("Requires.private:"):
                    deps = ["libuv"] + line.split(":", 1)[1].split()
    except OSError:
        pass
    libs = subprocess.run(["pkg-config", "--libs", *deps], capture_output=True,
                          text=True, timeout=30).stdout.split()
    tmp = tempfile.mkdtemp(prefix="wsx-docs-guide-")
    try:
        for k, src in enumerate(programs):
            port = free_port()
            # The first program listens on 127.0.0.1:8000; use a free port.
            src = src.replace("8000", str(port))
            cfile = os.path.join(tmp, f"prog{k}.c")
            exe = os.path.join(tmp, f"prog{k}")
            with open(cfile, "w", encoding="utf-8") as f:
                f.write(src)
            r = subprocess.run(
                [cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra",
                 "-Wconversion", "-Wshadow", "-Werror", "-I",
                 os.path.join(ROOT, "include"), cfile, lib, *libs, "-lm",
                 "-o", exe], capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                fail(f"program{k}_compiles", r.stderr.strip()[-800:])
                continue
            ok(f"program{k}_compiles")
            if k == 0:
                run_echo(exe, port)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)}/{n} bytes")
        buf += chunk
    return buf


def read_frame(sock):
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(recv_exact(sock, 2), "big")
    elif n == 127:
        n = int.from_bytes(recv_exact(sock, 8), "big")
    return b0 & 0x0F, recv_exact(sock, n)


def send_frame(sock, opcode, payload):
    mask = os.urandom(4)
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


def run_echo(exe, port):
    proc = subprocess.Popen(["stdbuf", "-oL", exe] if shutil.which("stdbuf")
                            else [exe], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        sock = None
        deadline = time.monotonic() + 10
        while sock is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                fail("program0_echo", f"server exited with {proc.returncode}")
                return
            try:
                sock = socket.create_connection(("127.0.0.1", port), 1)
            except OSError:
                time.sleep(0.05)
        if sock is None:
            fail("program0_echo", "server did not listen within 10 s")
            return
        sock.settimeout(10)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                raise EOFError("closed during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            fail("program0_echo", f"handshake answer {head[:40]!r}")
            return
        send_frame(sock, 0x1, b"Hello from the guide")
        op, data = read_frame(sock)
        if (op, data) != (0x1, b"Hello from the guide"):
            fail("program0_echo", f"echo was opcode {op} {data!r}")
            return
        ok("program0_echo")
        send_frame(sock, 0x8, (1000).to_bytes(2, "big") + b"bye")
        op, data = read_frame(sock)
        if op != 0x8 or data[:2] != (1000).to_bytes(2, "big"):
            fail("program0_close", f"close answer opcode {op} {data!r}")
            return
        sock.close()
        # The program's close callback prints "close 1000 bye".
        out, line_deadline = b"", time.monotonic() + 10
        os.set_blocking(proc.stdout.fileno(), False)
        while b"close 1000 bye" not in out and time.monotonic() < line_deadline:
            chunk = proc.stdout.read()
            if chunk:
                out += chunk
            else:
                time.sleep(0.05)
        if b"close 1000 bye" in out:
            ok("program0_close")
        else:
            fail("program0_close", f"server printed {out[-200:]!r}")
    except (OSError, EOFError) as e:
        fail("program0_echo", str(e))
    finally:
        proc.kill()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
    sys.exit(1 if failures else 0)
