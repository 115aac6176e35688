#!/usr/bin/env python3
"""A TLS EventSource server (Python ssl, test CA made with the openssl CLI)
for examples/eventsource_client: two events, then it waits for the client
to close after them, and reports whether the close came with TLS
close_notify (a clean TLS EOF) or as a bare TCP FIN (a truncation).
argv: CLIENT_BINARY TMPDIR [PROXY_URL]: with a proxy, the client reaches
the server through it (https_proxy: a CONNECT tunnel, TLS inside it) and
the names of the results end in _via_proxy. Prints ok/FAIL lines."""
import os
import socket
import ssl
import subprocess
import sys
import threading

client, tmp = sys.argv[1], sys.argv[2]
proxy = sys.argv[3] if len(sys.argv) > 3 else None
sfx = "_via_proxy" if proxy else ""


def sh(*args):
    subprocess.run(args, cwd=tmp, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


K = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
sh("openssl", "req", "-x509", *K, "-keyout", "ca.key", "-out", "ca.pem",
   "-days", "2", "-subj", "/CN=wsx close_notify CA")
sh("openssl", "req", "-new", *K, "-keyout", "srv.key", "-out", "srv.csr",
   "-subj", "/CN=127.0.0.1")
with open(os.path.join(tmp, "srv.ext"), "w") as f:
    f.write("subjectAltName=IP:127.0.0.1\n")
sh("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
   "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "srv.ext", "-out",
   "srv.pem")

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(tmp, "srv.pem"), os.path.join(tmp, "srv.key"))
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
port = ls.getsockname()[1]
verdict = []


def serve():
    ls.settimeout(20)
    raw, _ = ls.accept()
    raw.settimeout(10)
    # No ragged-EOF suppression: a FIN without close_notify raises.
    c = ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
    req = b""
    while b"\r\n\r\n" not in req:
        req += c.recv(4096)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
              b"id: 1\ndata: one\n\nid: 2\ndata: two\n\n")
    try:
        while True:
            if not c.recv(4096):
                verdict.append("close_notify")
                break
    except ssl.SSLEOFError:
        verdict.append("truncated (FIN without close_notify)")
    except Exception as e:  # timeout, reset ...
        verdict.append("error: %r" % e)
    raw.close()


t = threading.Thread(target=serve)
t.start()
env = dict(os.environ, SSL_CERT_FILE=os.path.join(tmp, "ca.pem"))
for k in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
    env.pop(k, None)
if proxy:
    env["https_proxy"] = proxy
out = subprocess.run([client, "https://127.0.0.1:%d/" % port, "2"], env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     timeout=30).stdout.decode(errors="replace")
t.join(30)
got = "message message 2 two" in out
print(("ok es_tls_client_events%s" % sfx) if got else
      "FAIL es_tls_client_events%s: %r" % (sfx, out[-300:]))
v = verdict[0] if verdict else "no verdict"
print(("ok es_tls_client_sends_close_notify%s" % sfx)
      if v == "close_notify" else
      "FAIL es_tls_client_sends_close_notify%s: %s" % (sfx, v))
