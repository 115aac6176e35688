/*
 * tools/cmd_serve.c: `wsx serve`, the demo server. One process, no files:
 * the page (tools/demo/, embedded by tools/demo_page.c) at /, a chat over
 * WebSocket at /chat (every message to every browser), a server clock over
 * EventSource at /clock and a WebSocket echo at /echo.
 *
 * Chat sockets subscribe to the topic "chat" (wsx/pubsub.h): a chat
 * message is framed once and the same bytes go to every browser. Clock
 * streams are kept in an intrusive list: a tick is a loop of send calls.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uv.h>

#include <wsx/eventsource.h>
#include <wsx/extension.h>
#include <wsx/group.h>
#include <wsx/router.h>
#include <wsx/uv.h>

#include "args.h"
#include "listen.h"
#include "chat_json.h"
#include "cmds.h"
#include "demo_page.h"
#include "serve.h"
#include "threads.h"

serve_state S;
_Thread_local serve_loop L;

static void usage(FILE *f) {
  fprintf(f,
          "usage: wsx serve [--port P] [--host H] [--threads N] [--deflate]\n"
          "                 [--redis redis://[:PASSWORD@]HOST[:PORT][/DB]]\n"
          "                 [--quiet] [--tls-cert FILE --tls-key FILE [--http2]]\n"
          "Demo server with an embedded page: a chat (WebSocket /chat, each\n"
          "message broadcast to every browser), a server clock (EventSource\n"
          "/clock, one event a second) and an echo endpoint (WebSocket "
          "/echo).\n\n"
          "  --port P    TCP port (default 8080; 0 = ephemeral)\n"
          "  --host H    IPv4 or IPv6 address or host name to listen on\n"
          "              (default localhost: every address it resolves to,\n"
          "              127.0.0.1 and ::1; 0.0.0.0 = every IPv4 "
          "interface)\n"
          "  --threads N N event loops, one thread each, on one port\n"
          "              (SO_REUSEPORT or one acceptor); the chat spans\n"
          "              them (default 1)\n"
          "  --deflate   offer permessage-deflate\n"
          "  --redis URL share the chat with every wsx serve on that Redis\n"
          "              (pub/sub; prints 'backplane up' / 'backplane down\n"
          "              WHY'; messages sent while Redis is away are not\n"
          "              shared: at most once)\n"
          "  --quiet     no per-connection event lines\n"
          "  --tls-cert FILE  serve https/wss: PEM certificate chain (leaf "
          "first)\n"
          "  --tls-key FILE   PEM private key of --tls-cert\n"
          "  --http2     with TLS: also offer HTTP/2 (ALPN h2): the page "
          "and its\n"
          "              WebSockets (RFC 8441) share one connection\n\n"
          "Prints 'listening on http://HOST:PORT/' (https:// with TLS) once "
          "listening,\nthen one line per event:\n"
          "  http <address:port> <method> <path> <status>\n"
          "  open <id> <address:port> <path> [h2]   (h2: over HTTP/2)\n"
          "  close <id> <code> [<reason>]      (clock streams: code -)\n"
          "  error <id> <message>\n"
          "Chat messages are JSON {\"name\", \"text\"} of at most %d bytes; "
          "the server\nadds \"time\" (ms since the epoch) and sends them to "
          "everyone.\n"
          "SIGINT/SIGTERM close every connection (1001) and exit 0.\n",
          CHAT_MAX_INPUT);
}

/* ---- chat ----------------------------------------------------------- */

/* Sends msg[0..len) to every chat socket: one publication on the topic.
 * A socket that falls more than MAX_BUFFERED behind is dropped by the
 * transport (a slow browser never holds back the others). */
static void broadcast(const char *msg, size_t len) {
  (void)wsx_server_publish(L.srv, CHAT_TOPIC, CHAT_TOPIC_LEN, msg, len,
                           WSX_OP_TEXT, 0);
}

static void broadcast_online(void) {
  if (S.stopping)
    return;
  size_t online = S.num_chat;
  int n = snprintf(L.out, sizeof L.out, "{\"online\":%zu}", online);
  broadcast(L.out, (size_t)n);
}

static void send_error(wsx_socket *s, const char *why) {
  /* `why` is one of the static ASCII texts of chat_format(). */
  char buf[192];
  size_t n = 10;
  memcpy(buf, "{\"error\":\"", n);
  for (const char *p = why; *p && n + 4 < sizeof buf; p++) {
    if (*p == '"' || *p == '\\')
      buf[n++] = '\\';
    buf[n++] = *p;
  }
  memcpy(buf + n, "\"}", 2);
  (void)wsx_socket_send_text(s, buf, n + 2);
}

static void chat_open(wsx_socket *s, void *ud) {
  (void)ud;
  serve_conn *c = wsx_socket_ext(s);
  c->sock = s;
  c->id = ++S.next_id;
  log_open(c->id, s, L.pending_path);
  if (wsx_socket_subscribe(s, CHAT_TOPIC, CHAT_TOPIC_LEN) < 0) {
    (void)wsx_socket_close(s, 1011, "cannot join the chat");
    return;
  }
  c->listed = 1;
  S.num_chat++;
  broadcast_online();
}

static void chat_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  const char *why = "chat messages are JSON text";
  long n = -1;
  if (m->opcode == WSX_OP_TEXT)
    n = chat_format((const char *)m->data, m->len, now_ms(), L.out,
                    sizeof L.out, &why);
  if (n < 0) {
    send_error(s, why);
    return;
  }
  broadcast(L.out, (size_t)n);
}

static void chat_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)ud;
  serve_conn *c = wsx_socket_ext(s);
  if (!c->listed)
    return; /* the socket left the topic when it started closing */
  c->listed = 0;
  S.num_chat--;
  log_close(c->id, e);
  broadcast_online();
}

/* ---- echo ----------------------------------------------------------- */

static void echo_open(wsx_socket *s, void *ud) {
  (void)ud;
  serve_conn *c = wsx_socket_ext(s);
  c->sock = s;
  c->id = ++S.next_id;
  log_open(c->id, s, L.pending_path);
}

static void echo_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  if (m->opcode == WSX_OP_TEXT)
    (void)wsx_socket_send_text(s, (const char *)m->data, m->len);
  else
    (void)wsx_socket_send_binary(s, m->data, m->len);
}

static void echo_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)ud;
  serve_conn *c = wsx_socket_ext(s);
  log_close(c->id, e);
}

static void conn_error(wsx_socket *s, const wsx_error_event *e, void *ud) {
  (void)ud;
  serve_conn *c = wsx_socket_ext(s);
  log_error(c->id, e->message);
}

static const wsx_socket_callbacks chat_cbs = {.struct_size = sizeof(wsx_socket_callbacks),
    .open = chat_open,
    .message = chat_message,
    .error = conn_error,
    .close = chat_close,
};

static const wsx_socket_callbacks echo_cbs = {.struct_size = sizeof(wsx_socket_callbacks),
    .open = echo_open,
    .message = echo_message,
    .error = conn_error,
    .close = echo_close,
};

/* ---- HTTP ----------------------------------------------------------- */

static const wsx_demo_file *find_file(const char *path, size_t len) {
  if (len == 11 && !memcmp(path, "/index.html", 11))
    path = "/", len = 1;
  for (size_t i = 0; i < wsx_demo_num_files; i++) {
    const wsx_demo_file *f = &wsx_demo_files[i];
    if (strlen(f->path) == len && !memcmp(f->path, path, len))
      return f;
  }
  return NULL;
}

static void respond_text(wsx_http_res *res, int status, const char *text) {
  (void)wsx_http_res_status(res, status, NULL);
  (void)wsx_http_res_header(res, "Content-Type", "text/plain; charset=utf-8");
  (void)wsx_http_res_header(res, "X-Content-Type-Options", "nosniff");
  (void)wsx_http_res_end(res, text, strlen(text));
}

/* The page loads nothing from elsewhere and runs no inline code: a strict
 * policy costs nothing and limits what an injected string could do. */
#define PAGE_CSP                                                               \
  "default-src 'self'; img-src 'self' data:; connect-src 'self'; "             \
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static void serve_file(wsx_http_res *res, const wsx_demo_file *f) {
  (void)wsx_http_res_header(res, "Content-Type", f->content_type);
  (void)wsx_http_res_header(res, "Cache-Control", "no-cache");
  (void)wsx_http_res_header(res, "X-Content-Type-Options", "nosniff");
  if (!strcmp(f->path, "/")) {
    (void)wsx_http_res_header(res, "Content-Security-Policy", PAGE_CSP);
    (void)wsx_http_res_header(res, "Referrer-Policy", "no-referrer");
  }
  (void)wsx_http_res_end(res, f->data, f->len);
}

static void on_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  (void)srv;
  (void)ud;
  size_t plen = 0;
  const char *path = wsx_request_path(req, &plen);
  const char *method = wsx_request_method(req);
  int port = 0;
  const char *ip = wsx_request_remote_address(req, &port);
  char addr[80];
  cli_hostport(addr, sizeof addr, ip && ip[0] ? ip : "?", port);
  int is_get = !strcmp(method, "GET");
  int status;
  const wsx_demo_file *f = NULL;
  if (plen == 6 && !memcmp(path, "/clock", 6))
    status = !is_get ? 405 : wsx_eventsource_is_eventsource(req) ? 200 : 406;
  else if ((f = find_file(path, plen)))
    status = is_get ? 200 : 405;
  else
    status = 404;
  if (!S.quiet) {
    line_start();
    printf("http %s ", addr);
    log_path(method, strlen(method));
    putchar(' ');
    log_path(path, plen);
    printf(" %d", status);
    line_end();
  }
  if (S.stopping) {
    respond_text(res, 503, "shutting down\n");
  } else if (status == 405) {
    (void)wsx_http_res_header(res, "Allow", "GET");
    respond_text(res, 405, "method not allowed\n");
  } else if (status == 406) {
    respond_text(res, 406,
                 "/clock is an event stream: open it with "
                 "EventSource (Accept: text/event-stream)\n");
  } else if (status == 404) {
    respond_text(res, 404, "not found\n");
  } else if (f) {
    serve_file(res, f);
  } else {
    start_clock(req, res, addr);
  }
}

/* ---- WebSocket upgrades -------------------------------------------- */

/* A browser always sends Origin: a page from another site may not talk to
 * the chat in a visitor's name. Clients without Origin (tools) may. */
static int origin_allowed(wsx_request *req) {
  const char *origin = wsx_request_origin(req);
  if (!origin)
    return 1;
  const char *host = wsx_request_host(req);
  const char *authority = strstr(origin, "://");
  return authority && host[0] && !strcasecmp(authority + 3, host);
}

/* The two WebSocket endpoints, mounted on L.router (wsx/router.h) for any
 * subprotocol or none. /echo echoes whatever it is sent, so it accepts the
 * client's first offer; /chat speaks its own JSON and accepts none. */
static void route_accept(wsx_request *req, const wsx_route *route, void *ud) {
  const wsx_socket_callbacks *cbs = ud;
  int chat = cbs == &chat_cbs;
  L.pending_path = chat ? "/chat" : "/echo";
  int err = 0;
  wsx_socket *s = wsx_request_accept(req, chat ? NULL : route->protocol, NULL,
                                     cbs, NULL, &err);
  if (!s && !S.quiet) {
    line_start();
    printf("error - cannot accept: %s", wsx_uv_strerror(err));
    line_end();
  }
}

static void on_request(wsx_server *srv, wsx_request *req, void *ud) {
  (void)srv;
  (void)ud;
  size_t plen = 0;
  const char *path = wsx_request_path(req, &plen);
  /* The request is gone once rejected: keep the path for the log line. */
  char logged[256];
  size_t llen = plen < sizeof logged ? plen : sizeof logged;
  memcpy(logged, path, llen);
  int status = S.stopping ? 503 : !origin_allowed(req) ? 403 : 0;
  if (status) {
    (void)wsx_request_reject(
        req, status, status == 403 ? "cross-origin request" : NULL, NULL, 0);
  } else if (wsx_router_route(L.router, req) == 0) {
    status = 404; /* no mount took it: the router answered 404 */
  }
  if (status && !S.quiet) {
    line_start();
    printf("reject %d ", status);
    log_path(logged, llen);
    line_end();
  }
}

/* ---- lifecycle ------------------------------------------------------ */

static void on_server_error(wsx_server *srv, int err, const char *message,
                            void *ud) {
  (void)srv;
  (void)ud;
  fprintf(stderr, "wsx serve: %s (%s)\n", message, wsx_uv_strerror(err));
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

/* A loop's own state: the router and the clock (on the loop's thread). */
static int loop_setup(uv_loop_t *loop, wsx_server *srv) {
  L.srv = srv;
  L.router = wsx_router_new(NULL);
  if (!L.router ||
      wsx_router_mount(L.router, "/chat", "*", route_accept,
                       (void *)&chat_cbs) < 0 ||
      wsx_router_mount(L.router, "/echo", "*", route_accept,
                       (void *)&echo_cbs) < 0) {
    fprintf(stderr, "wsx serve: cannot set up the router\n");
    return 1;
  }
  (void)loop; /* L.tick is initialized by the caller, once */
  return 0;
}

/* Shutdown of a loop: the clock stops, streams end cleanly (their close
 * callbacks unlink them later). */
static void loop_stopping(void) {
  (void)uv_timer_stop(&L.tick);
  for (clock_client *c = L.clocks; c; c = c->next)
    (void)wsx_eventsource_close(c->es);
}

static void group_loop_start(wsx_server_group *g, unsigned i, uv_loop_t *loop,
                             wsx_server *srv, void *ud) {
  (void)g, (void)i, (void)ud;
  if (uv_timer_init(loop, &L.tick) || loop_setup(loop, srv))
    exit(1);
  uv_unref((uv_handle_t *)&L.tick);
}

static void group_loop_stop(wsx_server_group *g, unsigned i, uv_loop_t *loop,
                            void *ud) {
  (void)g, (void)i, (void)loop, (void)ud;
  S.stopping = 1;
  loop_stopping();
  uv_close((uv_handle_t *)&L.tick, on_handle_closed);
  wsx_router_free(L.router); /* the server closes next: no more requests */
  L.router = NULL;
}

/* ---- Redis backplane (--redis) --------------------------------------- */

static void on_bus_status(wsx_backplane *bp, int up, const char *why,
                          void *ud) {
  (void)bp, (void)ud;
  line_start(); /* even with --quiet: the operator must know */
  if (up)
    printf("backplane up");
  else
    printf("backplane down %s", why);
  line_end();
}

/* Creates the backplane on the main thread's loop. Returns 0 or 1. */
static int bus_start(void) {
  static const wsx_backplane_callbacks cbs = {
      .struct_size = sizeof(wsx_backplane_callbacks),
      .status = on_bus_status};
  wsx_redis_options o = WSX_REDIS_OPTIONS_INIT;
  int err = 0;
  o.url = S.redis;
  o.channel = "wsx-serve-chat";
  S.bp = wsx_redis_backplane_new(S.loop, &o, &cbs, NULL, &err);
  if (!S.bp)
    fprintf(stderr, "wsx serve: --redis %s: %s\n", S.redis,
            wsx_uv_strerror(err));
  return S.bp ? 0 : 1;
}

static void bus_stop(void) {
  wsx_backplane_free(S.bp); /* after the server(s): they closed */
  S.bp = NULL;
}

static int group_ready(wsx_server_group *g) {
  if (!S.redis)
    return 0;
  if (bus_start())
    return 1;
  return wsx_backplane_attach_group(S.bp, g) < 0;
}

static void close_handles(void) {
  uv_close((uv_handle_t *)&S.sigint, on_handle_closed);
  uv_close((uv_handle_t *)&S.sigterm, on_handle_closed);
  uv_close((uv_handle_t *)&S.grace, on_handle_closed);
  uv_close((uv_handle_t *)&L.tick, on_handle_closed);
}

static void on_server_closed(wsx_server *srv, void *ud) {
  (void)srv;
  (void)ud;
  L.srv = NULL;
  bus_stop();
  close_handles();
}

static void on_grace_expired(uv_timer_t *t) {
  (void)t;
  fprintf(stderr,
          "wsx serve: %zu connection(s) still closing after %d ms; "
          "exiting\n",
          L.srv ? wsx_server_connection_count(L.srv) : (size_t)0,
          SHUTDOWN_GRACE_MS);
  fflush(stdout);
  exit(0);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  if (S.stopping) {
    fprintf(stderr, "wsx serve: signal %d during shutdown; exiting now\n",
            signum);
    fflush(stdout);
    exit(1);
  }
  S.stopping = 1;
  if (uv_timer_start(&S.grace, on_grace_expired, SHUTDOWN_GRACE_MS, 0) == 0)
    uv_unref((uv_handle_t *)&S.grace);
  loop_stopping();
  wsx_server_free(L.srv);
}

/* Returns 0, 2 (usage error, printed) or -1 (--help printed). */
static int parse_args(int argc, char **argv, const char **host, int *port) {
  const char *v;
  int r;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return -1;
    } else if ((r = cli_option("serve", argc, argv, &i, "--port", &v))) {
      if (r == 2 || cli_port("serve", "--port", v, port))
        return 2;
    } else if ((r = cli_option("serve", argc, argv, &i, "--host", &v))) {
      if (r == 2 || cli_host("serve", v))
        return 2;
      *host = v;
    } else if ((r = cli_option("serve", argc, argv, &i, "--threads", &v))) {
      uint64_t n;
      if (r == 2 || cli_uint("serve", "--threads", v, 256, &n))
        return 2;
      if (n == 0)
        return cli_usage_error("serve", "--threads must be at least 1");
      S.threads = (unsigned)n;
    } else if ((r = cli_option("serve", argc, argv, &i, "--redis", &v))) {
      if (r == 2)
        return 2;
      if (!wsx_redis_available())
        return cli_usage_error("serve", "--redis: this wsx was built "
                                        "without hiredis (no Redis backplane)");
      S.redis = v;
    } else if ((r = cli_option("serve", argc, argv, &i, "--deflate", NULL))) {
      if (r == 2)
        return 2;
      if (!S.deflate && !(S.deflate = wsx_deflate_new(NULL))) {
        fprintf(stderr, "wsx serve: out of memory\n");
        return 2;
      }
    } else if ((r = cli_option("serve", argc, argv, &i, "--tls-cert", &v))) {
      if (r == 2)
        return 2;
      S.cert.cert_file = v;
    } else if ((r = cli_option("serve", argc, argv, &i, "--tls-key", &v))) {
      if (r == 2)
        return 2;
      S.cert.key_file = v;
    } else if ((r = cli_option("serve", argc, argv, &i, "--http2", NULL))) {
      if (r == 2)
        return 2;
      S.tls.http2 = 1;
    } else if ((r = cli_option("serve", argc, argv, &i, "--quiet", NULL)) ||
               (r = cli_option("serve", argc, argv, &i, "-q", NULL))) {
      if (r == 2)
        return 2;
      S.quiet = 1;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("serve", "unknown option '%s'", argv[i]);
    } else {
      return cli_usage_error("serve", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!S.cert.cert_file != !S.cert.key_file)
    return cli_usage_error("serve", "--tls-cert and --tls-key go together");
  if (S.tls.http2 && !S.cert.cert_file)
    return cli_usage_error("serve", "--http2 needs --tls-cert and --tls-key");
  if (S.tls.http2 && !wsx_http2_available())
    return cli_usage_error("serve", "--http2: this wsx was built without "
                                    "HTTP/2 (WSX_HTTP2=OFF)");
  return 0;
}

static int start(const char *host, int port) {
  static const wsx_server_callbacks server_cbs = {
      .struct_size = sizeof(wsx_server_callbacks),
      .request = on_request,
      .http_request = on_http,
      .error = on_server_error,
      .closed = on_server_closed,
  };
  static wsx_extension *exts[2];
  wsx_server_options opts = WSX_SERVER_OPTIONS_INIT;
  wsx_socket_options sock = WSX_SOCKET_OPTIONS_INIT;
  wsx_driver_options driver = WSX_DRIVER_OPTIONS_INIT;
  driver.max_length = MAX_MESSAGE;
  sock.driver = &driver;
  sock.max_buffered = MAX_BUFFERED;
  sock.ext_size = sizeof(serve_conn);
  /* Browsers that sleep or lose the network are noticed and dropped. */
  sock.keepalive = 1;
  if (S.deflate) {
    exts[0] = S.deflate;
    sock.extensions = exts;
  }
  opts.socket = &sock;
  opts.max_http_body = 1024;
  if (S.cert.cert_file)
    opts.tls = &S.tls;
  if (S.threads > 1) {
    cli_group_spec sp = {.cmd = "serve", .threads = S.threads, .opts = &opts,
                         .cbs = &server_cbs, .loop_start = group_loop_start,
                         .loop_stop = group_loop_stop, .ready = group_ready,
                         .stopped = bus_stop,
                         .scheme = opts.tls ? "https" : "http",
                         .host = host, .port = port,
                         .grace_ms = SHUTDOWN_GRACE_MS};
    S.loop = uv_default_loop(); /* the backplane's */
    return cli_run_group(&sp) ? 1 : -1;
  }
  int err = 0;
  wsx_server *srv = wsx_server_new(S.loop, &opts, &server_cbs, NULL, &err);
  if (!srv) {
    fprintf(stderr, "wsx serve: cannot create the server: %s\n",
            wsx_uv_strerror(err));
    return 1;
  }
  L.srv = srv;
  char where[300];
  /* The default, localhost, listens on each loopback it names (127.0.0.1
   * and ::1 on Debian): browsers and Node may try ::1 first. */
  if (loop_setup(S.loop, srv) || cli_listen(srv, "serve", host, port))
    return 1;
  if (S.redis && (bus_start() || wsx_backplane_attach_server(S.bp, srv) < 0))
    return 1;
  port = wsx_server_port(srv);
  cli_hostport(where, sizeof where, host, port);
  printf("listening on %s://%s/\n", opts.tls ? "https" : "http", where);
  fflush(stdout);
  return 0;
}

int wsx_cmd_serve(int argc, char **argv) {
  const char *host = "localhost";
  int port = 8080;
  memset(&S, 0, sizeof S);
  S.tls = (wsx_tls_server_options)WSX_TLS_SERVER_OPTIONS_INIT;
  S.cert = (wsx_tls_cert)WSX_TLS_CERT_INIT;
  S.tls.cert = &S.cert;
  int r = parse_args(argc, argv, &host, &port);
  if (r) {
    wsx_deflate_free(S.deflate);
    return r < 0 ? 0 : r;
  }
  if (S.threads > 1) { /* the group runs the loops; this thread waits */
    r = start(host, port);
    wsx_deflate_free(S.deflate);
    return r < 0 ? 0 : r;
  }
  signal(SIGPIPE, SIG_IGN);
  S.loop = uv_default_loop();
  if (uv_signal_init(S.loop, &S.sigint) || uv_signal_init(S.loop, &S.sigterm) ||
      uv_timer_init(S.loop, &S.grace) || uv_timer_init(S.loop, &L.tick) ||
      uv_signal_start(&S.sigint, on_signal, SIGINT) ||
      uv_signal_start(&S.sigterm, on_signal, SIGTERM)) {
    fprintf(stderr, "wsx serve: cannot set up signal handling\n");
    return 1;
  }
  /* Only the server keeps the loop alive. */
  uv_unref((uv_handle_t *)&S.sigint);
  uv_unref((uv_handle_t *)&S.sigterm);
  uv_unref((uv_handle_t *)&L.tick);
  r = start(host, port);
  if (r) {
    if (L.srv)
      wsx_server_free(L.srv);
    else
      close_handles();
  }
  uv_run(S.loop, UV_RUN_DEFAULT);
  wsx_router_free(L.router);
  L.router = NULL;
  int cr = uv_loop_close(S.loop);
  if (cr)
    fprintf(stderr, "wsx serve: loop closed with handles open: %s\n",
            uv_strerror(cr));
  wsx_deflate_free(S.deflate);
  return r;
}
