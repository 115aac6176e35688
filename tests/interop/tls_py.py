"""Python `websockets` over TLS, both roles, for tests/interop/test_tls.sh.

  tls_py.py client URL CA_FILE   wss client: sends a text and a binary
                                 message, checks the echoes, closes 1000,
                                 prints "ok" (exit 0)
  tls_py.py server CERT KEY      wss echo server on an ephemeral loopback
                                 port; prints "listening on PORT", then
                                 "close CODE" per connection
"""
import asyncio
import ssl
import sys

import websockets


async def client(url, ca):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    async with websockets.connect(url, ssl=ctx, compression=None) as ws:
        await ws.send("hello from python")
        got = await asyncio.wait_for(ws.recv(), 5)
        assert got == "hello from python", got
        blob = bytes(range(256)) * 300
        await ws.send(blob)
        got = await asyncio.wait_for(ws.recv(), 5)
        assert got == blob, len(got)
        await ws.close(1000, "done")
    print("ok", flush=True)


async def server(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    async def echo(ws, path=None):
        try:
            async for msg in ws:
                await ws.send(msg)
        finally:
            print(f"close {ws.close_code}", flush=True)

    async with websockets.serve(echo, "127.0.0.1", 0, ssl=ctx,
                                compression=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        print(f"listening on {port}", flush=True)
        await asyncio.Future()


def main():
    mode, a, b = sys.argv[1:4]
    try:
        asyncio.run(asyncio.wait_for(client(a, b), 10) if mode == "client"
                    else server(a, b))
    except Exception as e:  # the test prints the reason
        print(f"error: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
