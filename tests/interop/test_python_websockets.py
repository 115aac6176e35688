#!/usr/bin/env python3
"""Interop with Python `websockets` (Debian python3-websockets 10.4, asyncio
API): its client against `wsx echo`, and `wsx connect` against its server.

Env: WSX_BIN (path to build/wsx). Prints "ok <name>" / "FAIL <name>: why".
Every wait is bounded; every process started here is killed at the end.
"""
import asyncio
import os
import socket
import sys

P = "python_websockets_"
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_echo():
    """Starts `wsx echo`; returns (process, port, log lines list)."""
    for _ in range(3):
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            WSX_BIN, "echo", "--port", str(port), "--host", "127.0.0.1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        lines = []

        async def pump():
            async for line in proc.stdout:
                lines.append(line.decode("utf-8", "replace").rstrip("\n"))
        asyncio.get_running_loop().create_task(pump())
        for _ in range(100):
            if any("listening on" in l for l in lines):
                return proc, port, lines
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    raise RuntimeError("wsx echo did not start: " + " | ".join(lines[-3:]))


async def echo_case(ws, name, payload):
    try:
        await ws.send(payload)
        got = await asyncio.wait_for(ws.recv(), 10)
        if type(got) is not type(payload):
            raise AssertionError(f"echo came back as {type(got).__name__}")
        if got != payload:
            raise AssertionError(f"echo differs ({len(got)} vs {len(payload)})")
        ok("client_" + name)
    except Exception as e:  # noqa: BLE001 - report every failure as a line
        fail("client_" + name, repr(e))


async def client_against_wsx_echo(websockets):
    try:
        proc, port, log = await start_echo()
    except Exception as e:  # noqa: BLE001
        fail("client", str(e))
        return
    try:
        ws = await asyncio.wait_for(websockets.connect(
            f"ws://127.0.0.1:{port}/py", max_size=None, compression=None), 10)
        ok("client_open")
        await echo_case(ws, "text", "hello from python websockets")
        await echo_case(ws, "binary", bytes(range(256)))
        await echo_case(ws, "binary_1mib", os.urandom(1 << 20))
        await echo_case(ws, "utf8", "h\u00e9llo \u20ac \U0001D11E \u65e5\u672c")
        try:
            waiter = await ws.ping(b"py-ping")
            await asyncio.wait_for(waiter, 5)
            ok("client_ping")
        except Exception as e:  # noqa: BLE001
            fail("client_ping", repr(e))
        try:
            await asyncio.wait_for(ws.close(code=4002, reason="bye-py"), 5)
            if ws.close_code != 4002:
                raise AssertionError(f"close code {ws.close_code}, want 4002")
            ok("client_close")
        except Exception as e:  # noqa: BLE001
            fail("client_close", repr(e))
        for _ in range(50):
            if any("4002" in l and "bye-py" in l for l in log):
                break
            await asyncio.sleep(0.1)
        if any("4002" in l and "bye-py" in l for l in log):
            ok("client_close_seen_by_server")
        else:
            fail("client_close_seen_by_server",
                 "wsx echo printed no 'close 4002 bye-py': " +
                 " | ".join(log[-3:]))
    except Exception as e:  # noqa: BLE001
        fail("client", repr(e))
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def run_connect(url, lines, *args):
    """Runs `wsx connect`, feeding `lines`; returns (status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        WSX_BIN, "connect", url, *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    proc.stdin.write(b"".join(l + b"\n" for l in lines))
    await proc.stdin.drain()
    await asyncio.sleep(1)  # let the echoes come back before EOF
    proc.stdin.close()
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    except asyncio.TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return None, out.decode("utf-8", "replace"), "timed out"
    return (proc.returncode, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"))


async def wsx_connect_against_server(websockets):
    closes = []

    async def handler(ws, path):
        hdr = ws.request_headers.get("X-Wsx-Test", "-")
        await ws.send(f"hello protocol={ws.subprotocol or '-'} "
                      f"x-wsx-test={hdr} path={path}")
        try:
            async for msg in ws:
                if isinstance(msg, bytes):
                    await ws.send(f"binary {len(msg)}: "
                                  + msg.decode("utf-8", "replace"))
                else:
                    await ws.send(msg)
        finally:
            closes.append(ws.close_code)

    server = await websockets.serve(handler, "127.0.0.1", 0,
                                    subprotocols=["chat"], compression=None)
    port = server.sockets[0].getsockname()[1]
    url = f"ws://127.0.0.1:{port}/echo?q=1"
    try:
        st, out, err = await run_connect(
            url, [b"first line", "h\u00e9llo \u20ac".encode()],
            "--protocol", "chat", "--header", "X-Wsx-Test: 42")
        lines = out.splitlines()
        if "hello protocol=chat x-wsx-test=42 path=/echo?q=1" in lines:
            ok("server_protocol_header_path")
        else:
            fail("server_protocol_header_path",
                 f"status {st}: {out[:200]!r} {err[:200]!r}")
        if "first line" in lines and "h\u00e9llo \u20ac" in lines:
            ok("server_text_echo")
        else:
            fail("server_text_echo", f"status {st}: {out[:200]!r} {err[:200]!r}")
        st, out, err = await run_connect(url, [b"abc"], "--binary")
        if "binary 3: abc" in out.splitlines():
            ok("server_binary")
        else:
            fail("server_binary", f"status {st}: {out[:200]!r} {err[:200]!r}")
        for _ in range(50):
            if len(closes) >= 2:
                break
            await asyncio.sleep(0.1)
        if closes and all(c == 1000 for c in closes):
            ok("server_close_1000")
        else:
            fail("server_close_1000", f"close codes seen by server: {closes}")
    finally:
        server.close()
        await server.wait_closed()


async def main():
    try:
        import websockets  # noqa: PLC0415 - missing peer is a FAIL line
    except ImportError:
        fail("peer", "python3-websockets not installed (scripts/install-deps.sh)")
        return
    if not os.access(WSX_BIN, os.X_OK):
        fail("wsx", f"{WSX_BIN} not built")
        return
    await client_against_wsx_echo(websockets)
    await wsx_connect_against_server(websockets)


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(), 120))
    sys.exit(1 if failures else 0)
