#!/usr/bin/env python3
"""permessage-deflate interop with Python `websockets` (Debian
python3-websockets 10.4, compression on by default):

1. its client against `wsx echo --deflate`, with the default offer and with
   explicit ClientPerMessageDeflateFactory parameters;
2. its server (default compression: windows 12/12, memLevel 5) against the
   wsx CLIENT: `wsx autobahn-client URL AGENT --deflate` (the Autobahn
   fuzzingserver protocol, served here), since `wsx connect` has no
   --deflate.

Env: WSX_BIN (path to build/wsx). Prints "ok <name>" / "FAIL <name>: why".
Every wait is bounded; every process started here is killed at the end.
"""
import asyncio
import os
import random
import sys

import websockets
from websockets.extensions import permessage_deflate as pmd

P = "deflate_python_"
WSX_BIN = os.environ.get(
    "WSX_BIN",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                 "build", "wsx"))
failures = 0


def ok(name):
    print(f"ok {P}{name}", flush=True)


def fail(name, why):
    global failures
    failures += 1
    print(f"FAIL {P}{name}: {why}", flush=True)


def json_text(n):
    parts, size, i = [], 0, 0
    while size < n:
        s = '{"id":%d,"name":"wsx","ok":%s,"v":[%d,%d]},' % (
            i, "true" if i % 3 == 0 else "false", i, i * 2)
        parts.append(s)
        size += len(s)
        i += 1
    return "".join(parts)[:n]


async def start_echo():
    """Starts `wsx echo --deflate`; returns (process, url)."""
    proc = await asyncio.create_subprocess_exec(
        WSX_BIN, "echo", "--port", "0", "--host", "127.0.0.1", "--deflate",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    line = await asyncio.wait_for(proc.stdout.readline(), 10)
    text = line.decode("utf-8", "replace").strip()
    if not text.startswith("listening on "):
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"wsx echo --deflate did not start: {text!r}")

    async def drain():
        async for _ in proc.stdout:
            pass
    asyncio.get_running_loop().create_task(drain())
    return proc, text[len("listening on "):]


async def echo_case(ws, payload):
    await ws.send(payload)
    got = await asyncio.wait_for(ws.recv(), 20)
    if type(got) is not type(payload):
        raise AssertionError(f"echo came back as {type(got).__name__}")
    if got != payload:
        raise AssertionError(f"echo differs ({len(got)} bytes, want {len(payload)})")


CLIENT_CASES = [
    # name, extensions (None = websockets' default offer), expected response
    ("default", None, "permessage-deflate"),
    ("no_context_takeover", [pmd.ClientPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True)],
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    ("windows_10_9", [pmd.ClientPerMessageDeflateFactory(
        server_max_window_bits=10, client_max_window_bits=9)],
     "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"),
    ("server_window_15", [pmd.ClientPerMessageDeflateFactory(
        server_max_window_bits=15, client_max_window_bits=True)],
     "permessage-deflate; server_max_window_bits=15"),
]


async def client_against_echo():
    try:
        proc, url = await start_echo()
    except Exception as e:  # noqa: BLE001
        fail("client", str(e))
        return
    rnd = random.Random(7)
    try:
        for name, exts, want in CLIENT_CASES:
            try:
                kw = {"max_size": 64 << 20, "open_timeout": 10,
                      "close_timeout": 5}
                if exts is not None:
                    kw.update(compression=None, extensions=exts)
                async with websockets.connect(url + name, **kw) as ws:
                    got = ws.response_headers.get("Sec-WebSocket-Extensions")
                    if got != want:
                        raise AssertionError(f"response {got!r}, want {want!r}")
                    if not ws.extensions or ws.extensions[0].name != "permessage-deflate":
                        raise AssertionError(f"extensions {ws.extensions!r}")
                    await echo_case(ws, "hello from python websockets")
                    await echo_case(ws, "")
                    for i in range(20):
                        await echo_case(ws, '{"seq":%d,"msg":"small"}' % i)
                    big = json_text(1 << 20)
                    await echo_case(ws, big)
                    await echo_case(ws, big)
                    await echo_case(ws, rnd.randbytes(1 << 20))
                    await echo_case(ws, "h\u00e9llo w\u00f6rld \u20ac \U0001D11E")
                ok(f"client_{name}")
            except Exception as e:  # noqa: BLE001
                fail(f"client_{name}", f"{type(e).__name__}: {e}")
    finally:
        proc.kill()
        await proc.wait()


# ---- websockets server <- wsx autobahn-client --deflate ----

SERVER_CASES = [
    ("small_text", ["hello from the websockets server"]),
    ("json_x50", ['{"i":%d,"k":"vvvvv"}' % i for i in range(50)]),
    ("text_1mib_twice", [json_text(1 << 20)] * 2),
    ("binary_1mib_random", [random.Random(3).randbytes(1 << 20)]),
    ("text_128kib", [json_text(128 << 10)]),
    ("empty", ["", b""]),
]


async def server_against_wsx_client():
    results = {}
    offers = []

    async def handler(ws, path):
        offers.append((ws.request_headers.get("Sec-WebSocket-Extensions"),
                       ws.response_headers.get("Sec-WebSocket-Extensions")))
        if path.startswith("/getCaseCount"):
            await ws.send(str(len(SERVER_CASES)))
        elif path.startswith("/runCase"):
            n = int(path.split("case=")[1].split("&")[0])
            name, msgs = SERVER_CASES[n - 1]
            try:
                if not ws.extensions:
                    raise AssertionError("permessage-deflate not negotiated")
                for m in msgs:
                    await ws.send(m)
                for i, m in enumerate(msgs):
                    got = await asyncio.wait_for(ws.recv(), 20)
                    if got != m or type(got) is not type(m):
                        raise AssertionError(f"echo {i} differs")
                results[name] = None
            except Exception as e:  # noqa: BLE001
                results[name] = f"{type(e).__name__}: {e}"
        await ws.close()

    server = await websockets.serve(handler, "127.0.0.1", 0, max_size=64 << 20)
    port = server.sockets[0].getsockname()[1]
    try:
        proc = await asyncio.create_subprocess_exec(
            WSX_BIN, "autobahn-client", f"ws://127.0.0.1:{port}", "wsx-deflate",
            "--deflate", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 120)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            out = b"(timeout)"
        for name, _ in SERVER_CASES:
            why = results.get(name, "never run")
            if why:
                fail(f"server_{name}", why)
            else:
                ok(f"server_{name}")
        neg = next((o for o in offers if o[1]), None)
        # websockets' server defaults ask for windows of 12 bits both ways.
        if neg and "permessage-deflate" in (neg[0] or "") and \
                "client_max_window_bits=12" in neg[1] and \
                "server_max_window_bits=12" in neg[1]:
            ok("server_negotiated")
        else:
            fail("server_negotiated", f"offer/response {neg!r}")
        if proc.returncode == 0:
            ok("server_client_exit")
        else:
            fail("server_client_exit",
                 f"status {proc.returncode}: {out.decode(errors='replace')[-200:]}")
    finally:
        server.close()
        await server.wait_closed()


async def main():
    if not os.access(WSX_BIN, os.X_OK):
        fail("run", f"{WSX_BIN} not built")
        return
    await asyncio.wait_for(client_against_echo(), 240)
    await asyncio.wait_for(server_against_wsx_client(), 180)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001
        fail("run", f"{type(e).__name__}: {e}")
    sys.exit(1 if failures else 0)
