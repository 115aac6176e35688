/*
 * tools/cmd_echo.c: `wsx echo`, the echo server that conformance suites and
 * benchmarks drive.
 *
 * The message path is kept to one send call: no printing, no allocation
 * (a large message is taken from the library and sent back from the same
 * buffer: wsx_socket_take_message + wsx_socket_send_zc).
 * Per-connection state lives inline in the socket (ext_size), so a
 * connection costs the server nothing beyond what the library holds.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <wsx/extension.h>
#include <wsx/uv.h>

#include "args.h"
#include "listen.h"
#include "cmds.h"
#include "threads.h"

/* How long a graceful shutdown may wait for peers to finish their closing
 * handshakes before the process exits anyway. */
#define SHUTDOWN_GRACE_MS 3000

/* Inline per-socket state (wsx_socket_ext). */
typedef struct echo_conn {
  unsigned long long id; /* connection number printed in event lines */
  int raw;               /* hybi framing, no extension: echo with send_frame,
                            skipping a second UTF-8 validation of the payload */
  int paused; /* reading paused until `drain` (peer reads too slowly) */
} echo_conn;

typedef struct echo_server {
  uv_loop_t *loop;
  wsx_server *srv;
  uv_signal_t sigint, sigterm;
  uv_timer_t grace;           /* bounds the graceful shutdown */
  uv_timer_t trim;            /* gives freed heap back after closes */
  atomic_ullong next_id;      /* last connection number given */
  unsigned threads;           /* --threads: loops (wsx/group.h) */
  int quiet;                  /* no per-connection event lines */
  int stopping;               /* a shutdown signal arrived */
  wsx_extension *deflate;     /* --deflate, else NULL */
  wsx_extension *exts[2];     /* NULL-terminated list for the options */
  wsx_tls_server_options tls; /* --tls-cert / --tls-key: serve wss */
  wsx_tls_cert cert;          /* tls.cert */
  wsx_socket_options sock;    /* opts.socket */
  wsx_driver_options driver;  /* sock.driver */
} echo_server;

static echo_server E;
/* The request being accepted: `open` fires inside wsx_request_accept(),
 * after which the request is gone, so its path is copied here first (one
 * per thread: with --threads every loop accepts on its own). */
static _Thread_local char pending_path[512];

static void usage(FILE *f) {
  fprintf(f,
          "usage: wsx echo --port P [--host H] [--max-length N] [--deflate]\n"
          "                [--allow-drafts] [--quiet] [--threads N]\n"
          "                [--send-timeout MS] [--max-buffered N]\n"
          "                [--message-budget N]\n"
          "                [--tls-cert FILE --tls-key FILE [--http2]]\n"
          "Echo server: sends every message back unchanged (text as text,\n"
          "binary as binary) on any path, accepting the first subprotocol\n"
          "a client offers.\n\n"
          "  --port P          TCP port (0 = ephemeral)\n"
          "  --host H          IPv4 or IPv6 address or host name to listen "
          "on\n"
          "                    (default 0.0.0.0; a name listens on every "
          "address\n"
          "                    it resolves to: localhost = 127.0.0.1 and "
          "::1)\n"
          "  --max-length N    largest incoming message in bytes "
          "(default 67108863)\n"
          "  --deflate         offer permessage-deflate\n"
          "  --send-timeout MS drop a peer that does not read our output\n"
          "                    within MS ms (default 0: never)\n"
          "  --max-buffered N  drop a peer with over N bytes unsent "
          "(default 128 MiB)\n"
          "  --message-budget N  bytes of incoming messages all "
          "connections may\n"
          "                    hold at once (default 256 MiB)\n"
          "  --allow-drafts    also accept hixie-75/76 clients\n"
          "  --quiet           no per-connection event lines\n"
          "  --threads N       N event loops, one thread each, on one port\n"
          "                    (SO_REUSEPORT, else one acceptor; default 1)\n"
          "  --tls-cert FILE   serve wss: PEM certificate chain (leaf "
          "first)\n"
          "  --tls-key FILE    PEM private key of --tls-cert\n"
          "  --http2           with TLS: also offer HTTP/2 (ALPN h2): "
          "WebSocket\n"
          "                    over HTTP/2 streams (RFC 8441) and "
          "HTTP/1.1 alike\n\n"
          "Prints 'listening on ws://HOST:PORT/' (wss:// with TLS) once "
          "listening, then one "
          "line per event:\n"
          "  open <id> <address:port> <path> <protocol or ->\n"
          "  close <id> <code> [<reason>]\n"
          "  error <id> <message>\n"
          "SIGINT/SIGTERM close every connection with 1001 and exit 0.\n"
          "Exit status: 0 after a shutdown signal, 1 if it cannot listen, "
          "2 bad arguments.\n");
}

static void print_event_end(void) {
  putchar('\n');
  fflush(stdout);
}

static void on_open(wsx_socket *s, void *ud) {
  (void)ud;
  echo_conn *c = wsx_socket_ext(s);
  c->id = atomic_fetch_add(&E.next_id, 1) + 1;
  const char *ext = wsx_socket_extensions(s);
  const char *ver = wsx_socket_version(s);
  c->raw = ext[0] == '\0' && !strncmp(ver, "hybi", 4);
  if (E.quiet)
    return;
  char addr[64];
  int port = 0;
  if (wsx_socket_remote_address(s, addr, sizeof addr, &port) != WSX_OK)
    strcpy(addr, "?");
  const char *proto = wsx_socket_protocol(s);
  char where[80];
  cli_hostport(where, sizeof where, addr, port);
  flockfile(stdout); /* one line, whichever thread prints */
  printf("open %llu %s ", c->id, where);
  cli_write_escaped(stdout, pending_path[0] ? pending_path : "-",
                    pending_path[0] ? strlen(pending_path) : 1);
  printf(" %s", proto[0] ? proto : "-");
  print_event_end();
  funlockfile(stdout);
}

/* A taken message buffer, written: back to the socket's allocator. */
static void on_echoed(void *data, size_t len, void *ud) {
  (void)len;
  wsx_socket_free_message(ud, data);
}

static void on_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  echo_conn *c = wsx_socket_ext(s);
  size_t len = 0;
  void *own;
  int r;
  /* A message the library assembled in its own buffer (a large one) is
   * taken and echoed from that buffer without a copy; a small one is
   * borrowed from the read buffer and sent as it is. */
  if (c->raw && (own = wsx_socket_take_message(s, &len)) != NULL)
    r = wsx_socket_send_zc(s, m->opcode, own, len, on_echoed, s);
  else if (c->raw)
    r = wsx_socket_send_frame(s, m->opcode, 1, m->data, m->len);
  else if (m->opcode == WSX_OP_TEXT)
    r = wsx_socket_send_text(s, (const char *)m->data, m->len);
  else
    r = wsx_socket_send_binary(s, m->data, m->len);
  /* Stop reading while the peer is not taking our echoes: what we read we
   * would have to buffer. `drain` resumes. */
  if (r == 1 && !c->paused && wsx_socket_pause(s) == WSX_OK)
    c->paused = 1;
}

static void on_drain(wsx_socket *s, void *ud) {
  (void)ud;
  echo_conn *c = wsx_socket_ext(s);
  if (c->paused && wsx_socket_resume(s) == WSX_OK)
    c->paused = 0;
}

static void on_error(wsx_socket *s, const wsx_error_event *e, void *ud) {
  (void)ud;
  if (E.quiet)
    return;
  echo_conn *c = wsx_socket_ext(s);
  flockfile(stdout);
  printf("error %llu ", c->id);
  cli_write_escaped(stdout, e->message, strlen(e->message));
  print_event_end();
  funlockfile(stdout);
}

/* After connections close (a burst of thousands, say), the heap they used
 * is free but glibc keeps most of it mapped; a second later it is handed
 * back to the OS, so the server's RSS returns to what it serves now. */
static void on_trim(uv_timer_t *t) {
  (void)t;
#ifdef __GLIBC__
  (void)malloc_trim(0);
#endif
}

static void on_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)ud;
  /* The trim timer is the main loop's: with --threads, closes on other
   * loops' threads leave it alone. */
  if (E.threads <= 1 && !E.stopping && !uv_is_active((uv_handle_t *)&E.trim))
    (void)uv_timer_start(&E.trim, on_trim, 1000, 0);
  if (E.quiet)
    return;
  echo_conn *c = wsx_socket_ext(s);
  flockfile(stdout);
  printf("close %llu %u", c->id, (unsigned)e->code);
  if (e->reason_len) {
    putchar(' ');
    cli_write_escaped(stdout, e->reason, e->reason_len);
  }
  print_event_end();
  funlockfile(stdout);
}

static const wsx_socket_callbacks socket_cbs = {.struct_size = sizeof(wsx_socket_callbacks),
    .open = on_open,
    .message = on_message,
    .error = on_error,
    .close = on_close,
    .drain = on_drain,
};

static void on_request(wsx_server *srv, wsx_request *req, void *ud) {
  (void)srv;
  (void)ud;
  size_t n = 0, plen = 0;
  const char *const *protos = wsx_request_protocols(req, &n);
  const char *path = wsx_request_path(req, &plen);
  if (plen >= sizeof pending_path)
    plen = sizeof pending_path - 1;
  memcpy(pending_path, path, plen);
  pending_path[plen] = '\0';
  int err = 0;
  wsx_socket *s = wsx_request_accept(req, n ? protos[0] : NULL, NULL,
                                     &socket_cbs, NULL, &err);
  pending_path[0] = '\0';
  if (!s && !E.quiet) {
    printf("error - cannot accept: %s", wsx_uv_strerror(err));
    print_event_end();
  }
}

static void on_server_error(wsx_server *srv, int err, const char *message,
                            void *ud) {
  (void)srv;
  (void)ud;
  fprintf(stderr, "wsx echo: %s (%s)\n", message, wsx_uv_strerror(err));
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void close_handles(void) {
  uv_close((uv_handle_t *)&E.sigint, on_handle_closed);
  uv_close((uv_handle_t *)&E.sigterm, on_handle_closed);
  uv_close((uv_handle_t *)&E.grace, on_handle_closed);
  uv_close((uv_handle_t *)&E.trim, on_handle_closed);
}

static void on_server_closed(wsx_server *srv, void *ud) {
  (void)srv;
  (void)ud;
  E.srv = NULL;
  close_handles();
}

static void on_grace_expired(uv_timer_t *t) {
  (void)t;
  fprintf(stderr,
          "wsx echo: %zu connection(s) still closing after %d ms; "
          "exiting\n",
          E.srv ? wsx_server_connection_count(E.srv) : (size_t)0,
          SHUTDOWN_GRACE_MS);
  fflush(stdout);
  exit(0);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  if (E.stopping) {
    fprintf(stderr, "wsx echo: signal %d during shutdown; exiting now\n",
            signum);
    fflush(stdout);
    exit(1);
  }
  E.stopping = 1;
  /* The timer is unreferenced: it bounds the shutdown without keeping the
   * loop alive once the server has closed. */
  if (uv_timer_start(&E.grace, on_grace_expired, SHUTDOWN_GRACE_MS, 0) == 0)
    uv_unref((uv_handle_t *)&E.grace);
  wsx_server_free(E.srv);
}

/* Parses the options into *opts / *host / *port. Returns 0, 2 (usage error,
 * printed) or -1 (--help printed: exit 0). */
static int parse_args(int argc, char **argv, wsx_server_options *opts,
                      const char **host, int *port) {
  const char *v;
  int have_port = 0, r;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return -1;
    } else if ((r = cli_option("echo", argc, argv, &i, "--port", &v))) {
      if (r == 2 || cli_port("echo", "--port", v, port))
        return 2;
      have_port = 1;
    } else if ((r = cli_option("echo", argc, argv, &i, "--host", &v))) {
      if (r == 2 || cli_host("echo", v))
        return 2;
      *host = v;
    } else if ((r = cli_option("echo", argc, argv, &i, "--max-length", &v))) {
      uint64_t n;
      if (r == 2 || cli_uint("echo", "--max-length", v, UINT64_MAX, &n))
        return 2;
      if (n == 0)
        return cli_usage_error("echo", "--max-length must be at least 1");
      E.driver.max_length = n;
    } else if ((r = cli_option("echo", argc, argv, &i, "--send-timeout",
                               &v))) {
      uint64_t n;
      if (r == 2 || cli_uint("echo", "--send-timeout", v, UINT32_MAX, &n))
        return 2;
      E.sock.send_timeout = (uint32_t)n;
    } else if ((r = cli_option("echo", argc, argv, &i, "--max-buffered",
                               &v))) {
      uint64_t n;
      if (r == 2 || cli_uint("echo", "--max-buffered", v, SIZE_MAX, &n))
        return 2;
      E.sock.max_buffered = (size_t)n;
    } else if ((r = cli_option("echo", argc, argv, &i, "--message-budget",
                               &v))) {
      uint64_t n;
      if (r == 2 || cli_uint("echo", "--message-budget", v, SIZE_MAX, &n))
        return 2;
      E.sock.message_budget = (size_t)n;
    } else if ((r = cli_option("echo", argc, argv, &i, "--deflate", NULL))) {
      if (r == 2)
        return 2;
      if (!E.deflate && !(E.deflate = wsx_deflate_new(NULL))) {
        fprintf(stderr, "wsx echo: out of memory\n");
        return 2;
      }
    } else if ((r = cli_option("echo", argc, argv, &i, "--allow-drafts",
                               NULL))) {
      if (r == 2)
        return 2;
      E.driver.allow_drafts = 1;
    } else if ((r = cli_option("echo", argc, argv, &i, "--quiet", NULL)) ||
               (r = cli_option("echo", argc, argv, &i, "-q", NULL))) {
      if (r == 2)
        return 2;
      E.quiet = 1;
    } else if ((r = cli_option("echo", argc, argv, &i, "--threads", &v))) {
      uint64_t n;
      if (r == 2 || cli_uint("echo", "--threads", v, 256, &n))
        return 2;
      if (n == 0)
        return cli_usage_error("echo", "--threads must be at least 1");
      E.threads = (unsigned)n;
    } else if ((r = cli_option("echo", argc, argv, &i, "--tls-cert", &v))) {
      if (r == 2)
        return 2;
      E.cert.cert_file = v;
    } else if ((r = cli_option("echo", argc, argv, &i, "--tls-key", &v))) {
      if (r == 2)
        return 2;
      E.cert.key_file = v;
    } else if ((r = cli_option("echo", argc, argv, &i, "--http2", NULL))) {
      if (r == 2)
        return 2;
      E.tls.http2 = 1;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("echo", "unknown option '%s'", argv[i]);
    } else {
      return cli_usage_error("echo", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!have_port)
    return cli_usage_error("echo", "missing --port");
  if (!E.cert.cert_file != !E.cert.key_file)
    return cli_usage_error("echo", "--tls-cert and --tls-key go together");
  if (E.tls.http2 && !E.cert.cert_file)
    return cli_usage_error("echo", "--http2 needs --tls-cert and --tls-key");
  if (E.tls.http2 && !wsx_http2_available())
    return cli_usage_error("echo", "--http2: this wsx was built without "
                                   "HTTP/2 (WSX_HTTP2=OFF)");
  if (E.cert.cert_file)
    opts->tls = &E.tls;
  return 0;
}

static int start(const char *host, int port, const wsx_server_options *opts) {
  static const wsx_server_callbacks server_cbs = {.struct_size = sizeof(wsx_server_callbacks),
      .request = on_request,
      .error = on_server_error,
      .closed = on_server_closed,
  };
  int err = 0;
  E.srv = wsx_server_new(E.loop, opts, &server_cbs, NULL, &err);
  if (!E.srv) {
    fprintf(stderr, "wsx echo: cannot create the server: %s\n",
            wsx_uv_strerror(err));
    return 1;
  }
  char where[300];
  if (cli_listen(E.srv, "echo", host, port))
    return 1;
  port = wsx_server_port(E.srv);
  cli_hostport(where, sizeof where, host, port);
  printf("listening on %s://%s/\n", opts->tls ? "wss" : "ws", where);
  fflush(stdout);
  return 0;
}

int wsx_cmd_echo(int argc, char **argv) {
  wsx_server_options opts = WSX_SERVER_OPTIONS_INIT;
  const char *host = "0.0.0.0";
  int port = 0;
  memset(&E, 0, sizeof E);
  E.tls = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  E.tls.cert = &E.cert;
  E.cert = (wsx_tls_cert)WSX_TLS_CERT_INIT;
  E.sock = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  E.sock.driver = &E.driver;
  E.driver = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
  opts.socket = &E.sock;
  int r = parse_args(argc, argv, &opts, &host, &port);
  if (r) {
    wsx_deflate_free(E.deflate);
    return r < 0 ? 0 : r;
  }
  if (E.deflate) {
    E.exts[0] = E.deflate;
    E.sock.extensions = E.exts;
  }
  E.sock.ext_size = sizeof(echo_conn);
  if (E.threads > 1) {
    static const wsx_server_callbacks group_cbs = {
        .struct_size = sizeof(wsx_server_callbacks),
        .request = on_request,
        .error = on_server_error,
    };
    cli_group_spec sp = {.cmd = "echo", .threads = E.threads, .opts = &opts,
                         .cbs = &group_cbs, .scheme = opts.tls ? "wss" : "ws",
                         .host = host, .port = port,
                         .grace_ms = SHUTDOWN_GRACE_MS};
    r = cli_run_group(&sp);
    wsx_deflate_free(E.deflate);
    return r;
  }
  /* A peer that vanishes mid-write must cost a connection, not the
   * process. */
  signal(SIGPIPE, SIG_IGN);
  /* No mallopt: message buffers over 64 KiB are the library's own
   * mappings (wsx/uv.h, "Message memory"), returned to the OS when a
   * message ends, whatever glibc's thresholds (issue 16). */
  E.loop = uv_default_loop();
  if (uv_signal_init(E.loop, &E.sigint) || uv_signal_init(E.loop, &E.sigterm) ||
      uv_timer_init(E.loop, &E.grace) || uv_timer_init(E.loop, &E.trim) ||
      uv_signal_start(&E.sigint, on_signal, SIGINT) ||
      uv_signal_start(&E.sigterm, on_signal, SIGTERM)) {
    fprintf(stderr, "wsx echo: cannot set up signal handling\n");
    return 1;
  }
  /* Only the server keeps the loop alive. */
  uv_unref((uv_handle_t *)&E.sigint);
  uv_unref((uv_handle_t *)&E.sigterm);
  uv_unref((uv_handle_t *)&E.trim);
  r = start(host, port, &opts);
  if (r) {
    if (E.srv)
      wsx_server_free(E.srv);
    else
      close_handles();
    uv_run(E.loop, UV_RUN_DEFAULT);
  } else {
    uv_run(E.loop, UV_RUN_DEFAULT);
  }
  int cr = uv_loop_close(E.loop);
  if (cr)
    fprintf(stderr, "wsx echo: loop closed with handles open: %s\n",
            uv_strerror(cr));
  wsx_deflate_free(E.deflate);
  return r;
}
