/*
 * tools/cmd_connect.c: `wsx connect URL`, a line-oriented client: stdin
 * lines go out as messages, received messages come out on stdout.
 *
 * stdin is read through libuv so that one loop drives both directions: as a
 * stream when it is a TTY, pipe or socket, and with uv_fs_read (thread
 * pool) when it is a regular file, which epoll cannot watch. Reading starts
 * only once the connection is open, and pauses while the socket's buffered
 * amount is above its high-water mark.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <wsx/extension.h>
#include <wsx/uv.h>

#include "args.h"
#include "cmds.h"

#define READ_CHUNK 65536
/* A line longer than this is refused rather than buffered without bound. */
#define MAX_LINE ((size_t)64 << 20)
#define CLOSE_TIMEOUT_MS 5000

typedef struct connect_state {
  uv_loop_t *loop;
  wsx_socket *s;
  int binary;             /* --binary: lines go out as binary */
  uv_handle_type in_type; /* how stdin is read (uv_guess_handle) */
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tty_t tty;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } in;                 /* stdin as a stream (not for UV_FILE) */
  int in_open;          /* `in` initialised and not yet closed */
  int in_reading;       /* stream read started */
  uv_fs_t fs;           /* UV_FILE: the read in flight */
  int fs_pending;       /* `fs` is in flight */
  int in_eof;           /* stdin ended (or was abandoned) */
  int waiting_drain;    /* input paused until `drain` */
  uv_signal_t sigint;   /* Ctrl-C: close like EOF */
  char buf[READ_CHUNK]; /* read buffer for stdin */
  char *line;           /* partial line carried across reads */
  size_t line_len, line_cap;
  unsigned long lineno;             /* lines sent so far, for messages */
  int we_closed;                    /* we started the closing handshake */
  int failed;                       /* connect_failed fired */
  wsx_tls_client_options tls;       /* --ca / --insecure (wss:// only) */
  wsx_socket_proxy proxy;           /* --proxy / --proxy-env */
  wsx_tls_client_options proxy_tls; /* --proxy-ca / --proxy-insecure */
  wsx_driver_options driver;        /* --origin / --protocol */
  wsx_extension *deflate;           /* --deflate, else NULL */
  wsx_extension *exts[2];           /* NULL-terminated list for the options */
  int exit_code;
} connect_state;

static connect_state C;

static void usage(FILE *f) {
  fprintf(f,
          "usage: wsx connect URL [--binary] [--protocol P]... "
          "[--header 'K: V']...\n"
          "                       [--origin O] [--ca FILE] [--insecure] "
          "[--deflate] [--http2]\n"
          "                       [--proxy http[s]://[user:pass@]host:port | "
          "--proxy-env]\n"
          "                       [--proxy-ca FILE] [--proxy-insecure]\n"
          "Connects to URL (ws:// or wss://host[:port]/path), sends each "
          "line read "
          "from stdin\n"
          "(without its newline) as a text message, and prints each "
          "received message\n"
          "on stdout, one per line (binary messages as raw bytes).\n\n"
          "  --binary          send lines as binary messages\n"
          "  --protocol P      offer subprotocol P (repeatable, in order)\n"
          "  --header 'K: V'   add a handshake request header (repeatable)\n"
          "  --origin O        send Origin: O\n"
          "  --deflate         offer permessage-deflate (RFC 7692)\n"
          "  --http2           wss: WebSocket over HTTP/2 (RFC 8441) when "
          "the server\n                    offers it, else HTTP/1.1\n"
          "  --ca FILE         wss: trust the CA certificates in FILE (PEM)\n"
          "                    instead of the system store\n"
          "  --insecure        wss: DANGEROUS, skip certificate and host "
          "name\n                    verification (tests only)\n"
          "  --proxy URL       tunnel through the HTTP proxy at URL with "
          "CONNECT\n"
          "                    (user:pass@ in URL: Basic credentials; "
          "https://: TLS\n"
          "                    to the proxy, verified like a wss:// "
          "server)\n"
          "  --proxy-env       use http_proxy / https_proxy unless no_proxy "
          "lists\n                    the host\n"
          "  --proxy-ca FILE   https:// proxy: trust the CA certificates in "
          "FILE\n"
          "  --proxy-insecure  https:// proxy: DANGEROUS, skip the proxy's "
          "certificate\n                    and host name verification "
          "(tests only)\n\n"
          "At end of input (or Ctrl-C) the client closes with 1000 and "
          "waits for the\nserver's answer.\n"
          "Exit status: 0 after a clean close, or when the server closes "
          "with 1000,\n1001 or 1005 (printed as 'closed CODE REASON' on "
          "stderr); 1 when the\nconnection fails or the server closes "
          "with any other code; 2 bad arguments.\n");
}

static void stop_input(void);
static void start_input(void);

static void on_in_closed(uv_handle_t *h) { (void)h; }

static void finish_input(void) {
  C.in_eof = 1;
  stop_input();
  if (C.s && wsx_socket_ready_state(C.s) == WSX_OPEN) {
    C.we_closed = 1;
    int r = wsx_socket_close(C.s, 1000, NULL);
    if (r < 0 && r != WSX_E_CLOSED)
      fprintf(stderr, "wsx connect: close failed: %s\n", wsx_uv_strerror(r));
  }
}

static void send_line(const char *p, size_t n) {
  int r = C.binary ? wsx_socket_send_binary(C.s, p, n)
                   : wsx_socket_send_text(C.s, p, n);
  C.lineno++;
  if (r == 1) {
    C.waiting_drain = 1;
  } else if (r == WSX_E_INVALID && !C.binary) { /* text not UTF-8 */
    fprintf(stderr,
            "wsx connect: line %lu is not valid UTF-8; not sent "
            "(use --binary)\n",
            C.lineno);
  } else if (r < 0) {
    if (r != WSX_E_CLOSED)
      fprintf(stderr, "wsx connect: send failed: %s\n", wsx_uv_strerror(r));
    C.in_eof = 1;
  }
}

static int append_line(const char *p, size_t n) {
  if (C.line_len + n > MAX_LINE) {
    fprintf(stderr, "wsx connect: input line longer than %zu bytes\n",
            MAX_LINE);
    C.exit_code = 1;
    return -1;
  }
  if (C.line_len + n > C.line_cap) {
    size_t cap = C.line_cap ? C.line_cap : 256;
    while (cap < C.line_len + n)
      cap *= 2;
    char *q = realloc(C.line, cap);
    if (!q) {
      fprintf(stderr, "wsx connect: out of memory\n");
      C.exit_code = 1;
      return -1;
    }
    C.line = q;
    C.line_cap = cap;
  }
  memcpy(C.line + C.line_len, p, n);
  C.line_len += n;
  return 0;
}

/* Splits a chunk of stdin into lines and sends the complete ones; lines
 * without a copy when they lie whole in the chunk. */
static void feed(const char *p, size_t n) {
  while (n && !C.in_eof) {
    const char *nl = memchr(p, '\n', n);
    if (!nl) {
      if (append_line(p, n) < 0)
        finish_input();
      return;
    }
    size_t k = (size_t)(nl - p);
    if (C.line_len) {
      if (append_line(p, k) < 0) {
        finish_input();
        return;
      }
      send_line(C.line, C.line_len);
      C.line_len = 0;
    } else {
      send_line(p, k);
    }
    p += k + 1;
    n -= k + 1;
  }
}

static void at_eof(void) {
  if (C.line_len && !C.in_eof)
    send_line(C.line, C.line_len);
  C.line_len = 0;
  finish_input();
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)h;
  (void)hint;
  *b = uv_buf_init(C.buf, sizeof C.buf);
}

static void on_stream_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)st;
  if (n > 0) {
    feed(b->base, (size_t)n);
    if (C.in_eof)
      stop_input();
    else if (C.waiting_drain)
      stop_input();
  } else if (n == UV_EOF) {
    at_eof();
  } else if (n < 0) {
    fprintf(stderr, "wsx connect: reading stdin: %s\n", uv_strerror((int)n));
    at_eof();
  }
}

static void on_fs_read(uv_fs_t *req) {
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  C.fs_pending = 0;
  if (n > 0) {
    feed(C.buf, (size_t)n);
    if (!C.in_eof && !C.waiting_drain)
      start_input();
  } else if (n == 0) {
    at_eof();
  } else {
    fprintf(stderr, "wsx connect: reading stdin: %s\n", uv_strerror((int)n));
    at_eof();
  }
}

static void start_input(void) {
  if (C.in_eof || C.waiting_drain)
    return;
  if (C.in_type == UV_FILE) {
    if (C.fs_pending || !C.s)
      return;
    uv_buf_t b = uv_buf_init(C.buf, sizeof C.buf);
    int r = uv_fs_read(C.loop, &C.fs, 0, &b, 1, -1, on_fs_read);
    if (r < 0) {
      fprintf(stderr, "wsx connect: reading stdin: %s\n", uv_strerror(r));
      at_eof();
      return;
    }
    C.fs_pending = 1;
  } else if (C.in_open && !C.in_reading) {
    int r = uv_read_start(&C.in.stream, on_alloc, on_stream_read);
    if (r < 0) {
      fprintf(stderr, "wsx connect: reading stdin: %s\n", uv_strerror(r));
      at_eof();
      return;
    }
    C.in_reading = 1;
  }
}

/* Pauses stdin; once it ended, closes it so the loop can finish. */
static void stop_input(void) {
  if (!C.in_open)
    return;
  if (C.in_reading) {
    uv_read_stop(&C.in.stream);
    C.in_reading = 0;
  }
  if (C.in_eof) {
    uv_close(&C.in.handle, on_in_closed);
    C.in_open = 0;
  }
}

static int open_input(void) {
  C.in_type = uv_guess_handle(0);
  int r;
  switch (C.in_type) {
  case UV_TTY:
    r = uv_tty_init(C.loop, &C.in.tty, 0, 1);
    break;
  case UV_NAMED_PIPE:
    r = uv_pipe_init(C.loop, &C.in.pipe, 0);
    if (r == 0 && (r = uv_pipe_open(&C.in.pipe, 0)) < 0)
      uv_close(&C.in.handle, NULL);
    break;
  case UV_TCP:
    r = uv_tcp_init(C.loop, &C.in.tcp);
    if (r == 0 && (r = uv_tcp_open(&C.in.tcp, 0)) < 0)
      uv_close(&C.in.handle, NULL);
    break;
  default:
    /* Regular files, character devices, closed stdin: thread-pool reads
     * (a closed stdin reads as an error, treated as EOF). */
    C.in_type = UV_FILE;
    return 0;
  }
  if (r < 0) {
    fprintf(stderr, "wsx connect: cannot read stdin: %s\n", uv_strerror(r));
    return -1;
  }
  C.in_open = 1;
  return 0;
}

static void on_open(wsx_socket *s, void *ud) {
  (void)s;
  (void)ud;
  start_input();
}

static void on_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)s;
  (void)ud;
  if (m->len)
    fwrite(m->data, 1, m->len, stdout);
  putchar('\n');
  fflush(stdout);
}

static void on_drain(wsx_socket *s, void *ud) {
  (void)s;
  (void)ud;
  if (C.waiting_drain) {
    C.waiting_drain = 0;
    start_input();
  }
}

static void on_error(wsx_socket *s, const wsx_error_event *e, void *ud) {
  (void)s;
  (void)ud;
  if (!C.failed)
    fprintf(stderr, "wsx connect: %s\n", e->message);
}

static void on_connect_failed(wsx_socket *s, const wsx_connect_failure *f,
                              void *ud) {
  (void)ud;
  C.failed = 1;
  C.exit_code = 1;
  fprintf(stderr, "wsx connect: cannot connect to %s: %s\n", wsx_socket_url(s),
          f->message);
}

static void on_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)s;
  (void)ud;
  C.s = NULL;
  C.in_eof = 1;
  stop_input();
  if (!uv_is_closing((uv_handle_t *)&C.sigint))
    uv_close((uv_handle_t *)&C.sigint, on_in_closed);
  if (C.failed)
    return;
  if (C.we_closed && e->clean) {
    return; /* exit_code stays as it is (0 unless input failed) */
  }
  fprintf(stderr, "closed %u", (unsigned)e->code);
  if (e->reason_len) {
    putc(' ', stderr);
    cli_write_escaped(stderr, e->reason, e->reason_len);
  }
  putc('\n', stderr);
  if (!(e->code == 1000 || e->code == 1001 || e->code == 1005) ||
      (C.we_closed && !e->clean))
    C.exit_code = 1;
}

static void on_sigint(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  if (C.in_eof) {
    /* Second Ctrl-C: the server is not answering our close. */
    fflush(stdout);
    exit(1);
  }
  at_eof();
}

static int parse_args(int argc, char **argv, const char **url,
                      wsx_socket_options *o, const char **protocols,
                      wsx_header *headers) {
  const char *v;
  size_t np = 0;
  int r;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return -1;
    } else if ((r = cli_option("connect", argc, argv, &i, "--binary", NULL))) {
      if (r == 2)
        return 2;
      C.binary = 1;
    } else if ((r = cli_option("connect", argc, argv, &i, "--protocol", &v))) {
      if (r == 2)
        return 2;
      if (!*v)
        return cli_usage_error("connect", "empty --protocol");
      protocols[np++] = v;
    } else if ((r = cli_option("connect", argc, argv, &i, "--origin", &v))) {
      if (r == 2)
        return 2;
      C.driver.origin = v;
    } else if ((r = cli_option("connect", argc, argv, &i, "--header", &v))) {
      if (r == 2)
        return 2;
      const char *colon = strchr(v, ':');
      if (!colon || colon == v)
        return cli_usage_error("connect",
                               "bad --header '%s' (expected 'Name: value')", v);
      wsx_header *h = &headers[o->num_headers++];
      h->name = v;
      h->name_len = (size_t)(colon - v);
      while (h->name_len &&
             (v[h->name_len - 1] == ' ' || v[h->name_len - 1] == '\t'))
        h->name_len--;
      colon++;
      while (*colon == ' ' || *colon == '\t')
        colon++;
      h->value = colon;
      h->value_len = strlen(colon);
    } else if ((r = cli_option("connect", argc, argv, &i, "--ca", &v))) {
      if (r == 2)
        return 2;
      C.tls.ca_file = v;
      o->tls = &C.tls;
    } else if ((r = cli_option("connect", argc, argv, &i, "--deflate", NULL))) {
      if (r == 2)
        return 2;
      if (!C.deflate && !(C.deflate = wsx_deflate_new(NULL))) {
        fprintf(stderr, "wsx connect: out of memory\n");
        return 1;
      }
      C.exts[0] = C.deflate;
      o->extensions = C.exts;
    } else if ((r = cli_option("connect", argc, argv, &i, "--http2", NULL))) {
      if (r == 2)
        return 2;
      o->http2 = 1;
    } else if ((r = cli_option("connect", argc, argv, &i, "--insecure",
                               NULL))) {
      if (r == 2)
        return 2;
      C.tls.insecure_skip_verify = 1;
      o->tls = &C.tls;
    } else if ((r = cli_option("connect", argc, argv, &i, "--proxy", &v))) {
      if (r == 2)
        return 2;
      C.proxy.origin = v;
      o->proxy = &C.proxy;
    } else if ((r = cli_option("connect", argc, argv, &i, "--proxy-env",
                               NULL))) {
      if (r == 2)
        return 2;
      C.proxy.use_env = 1;
      o->proxy = &C.proxy;
    } else if ((r = cli_option("connect", argc, argv, &i, "--proxy-ca", &v))) {
      if (r == 2)
        return 2;
      C.proxy_tls.ca_file = v;
      C.proxy.tls = &C.proxy_tls;
    } else if ((r = cli_option("connect", argc, argv, &i, "--proxy-insecure",
                               NULL))) {
      if (r == 2)
        return 2;
      C.proxy_tls.insecure_skip_verify = 1;
      C.proxy.tls = &C.proxy_tls;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage_error("connect", "unknown option '%s'", argv[i]);
    } else if (!*url) {
      *url = argv[i];
    } else {
      return cli_usage_error("connect", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!*url)
    return cli_usage_error("connect", "missing URL");
  if (C.proxy.tls && !o->proxy)
    return cli_usage_error("connect", "--proxy-ca / --proxy-insecure need "
                                      "--proxy or --proxy-env");
  protocols[np] = NULL;
  if (np)
    C.driver.protocols = protocols;
  if (o->num_headers)
    o->headers = headers;
  return 0;
}

int wsx_cmd_connect(int argc, char **argv) {
  static const wsx_socket_callbacks cbs = {.struct_size = sizeof(wsx_socket_callbacks),
      .open = on_open,
      .message = on_message,
      .error = on_error,
      .close = on_close,
      .drain = on_drain,
      .connect_failed = on_connect_failed,
  };
  const char *url = NULL;
  wsx_socket_options o = WSX_SOCKET_OPTIONS_INIT;
  memset(&C, 0, sizeof C);
  C.tls = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  C.proxy = (wsx_socket_proxy)WSX_SOCKET_PROXY_INIT;
  C.proxy_tls = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  C.driver = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
  o.driver = &C.driver;
  /* At most one protocol or header per argument. */
  const char **protocols = calloc((size_t)argc + 1, sizeof *protocols);
  wsx_header *headers = calloc((size_t)argc + 1, sizeof *headers);
  if (!protocols || !headers) {
    fprintf(stderr, "wsx connect: out of memory\n");
    free(protocols);
    free(headers);
    return 1;
  }
  int r = parse_args(argc, argv, &url, &o, protocols, headers);
  if (r) {
    free(protocols);
    free(headers);
    wsx_deflate_free(C.deflate);
    return r < 0 ? 0 : r;
  }
  o.close_timeout = CLOSE_TIMEOUT_MS;
  signal(SIGPIPE, SIG_IGN);
  C.loop = uv_default_loop();
  int err = 0;
  if (uv_signal_init(C.loop, &C.sigint) ||
      uv_signal_start(&C.sigint, on_sigint, SIGINT)) {
    fprintf(stderr, "wsx connect: cannot set up signal handling\n");
    r = 1;
  } else if (open_input() < 0) {
    uv_close((uv_handle_t *)&C.sigint, on_in_closed);
    r = 1;
  } else if (!(C.s = wsx_socket_connect(C.loop, url, &o, &cbs, NULL, &err))) {
    if (err == WSX_E_URL && C.proxy.origin)
      r = cli_usage_error("connect",
                          "bad URL '%s' or proxy URL '%s' "
                          "(expected http[s]://[user:pass@]host[:port])",
                          url, C.proxy.origin);
    else if (err == WSX_E_URL)
      r = cli_usage_error("connect",
                          "bad URL '%s' (expected "
                          "ws://host[:port]/path)",
                          url);
    else if (err == WSX_E_UNSUPPORTED)
      r = cli_usage_error("connect",
                          "'%s': this build supports only ws:// "
                          "and wss:// URLs",
                          url);
    else if (err == WSX_E_TLS) {
      /* wsx_tls_last_error() names the file (--ca or --proxy-ca). */
      fprintf(stderr, "wsx connect: cannot load the CA file: %s\n",
              wsx_tls_last_error());
      r = 1;
    } else if (err == WSX_E_HEADER_VALUE)
      r = cli_usage_error("connect", "bad --header or --origin value "
                                     "(CR, LF or an invalid name)");
    else {
      fprintf(stderr, "wsx connect: %s\n", wsx_uv_strerror(err));
      r = 1;
    }
    C.in_eof = 1;
    stop_input();
    uv_close((uv_handle_t *)&C.sigint, on_in_closed);
  }
  /* The socket copied everything it needs from the options. */
  free(protocols);
  free(headers);
  uv_run(C.loop, UV_RUN_DEFAULT);
  if (!r)
    r = C.exit_code;
  if (uv_loop_close(C.loop) != 0)
    fprintf(stderr, "wsx connect: loop closed with handles open\n");
  free(C.line);
  /* After the loop: the extension must outlive the socket. */
  wsx_deflate_free(C.deflate);
  return r;
}
