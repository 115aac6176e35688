/*
 * tools/cmd_autobahn.c: `wsx autobahn-client URL AGENT`, the client side of
 * the Autobahn|Testsuite fuzzingserver protocol:
 *   URL/getCaseCount                     -> one text message: the count
 *   URL/runCase?case=N&agent=AGENT       -> echo every message until closed
 *   URL/updateReports?agent=AGENT        -> the server writes its reports
 * Connections run one after another; the next starts from a zero timer so
 * that no socket is created inside another socket's close callback.
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

enum ab_phase { PH_COUNT, PH_CASE, PH_REPORT, PH_DONE };

typedef struct autobahn {
  uv_loop_t *loop;
  uv_timer_t next;  /* starts the next connection */
  const char *base; /* URL without trailing '/' */
  size_t base_len;
  const char *agent_raw; /* AGENT as given */
  char agent[256];       /* AGENT percent-encoded */
  int phase;             /* enum ab_phase */
  long count;            /* cases announced by getCaseCount (-1: unknown) */
  long case_no;          /* case running (1-based) */
  int paused;            /* reading paused until `drain` */
  int exit_code;
  wsx_extension *deflate;
  wsx_extension *exts[2];
  wsx_tls_client_options tls; /* --ca (wss:// only) */
  wsx_socket_options opts;
} autobahn;

static autobahn A;

static void usage(FILE *f) {
  fprintf(f, "usage: wsx autobahn-client URL AGENT [--deflate] [--ca FILE]\n"
             "Runs every case of an Autobahn|Testsuite fuzzingserver at URL "
             "(e.g.\nws://127.0.0.1:9001) as client AGENT, echoing every "
             "message, then asks the\nserver to update its reports.\n\n"
             "  --deflate    offer permessage-deflate\n"
             "  --ca FILE    wss: trust the CA certificates in FILE (PEM) "
             "instead of\n"
             "               the system store\n\n"
             "Exit status: 0 when the reports were updated, 1 when the server "
             "could not be\nreached or gave no case count, 2 bad arguments.\n");
}

static void schedule_next(void);

/* Percent-encodes `s` as a query value into A.agent. */
static int encode_agent(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (o + 4 > sizeof A.agent)
      return -1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      A.agent[o++] = (char)c;
    } else {
      A.agent[o++] = '%';
      A.agent[o++] = hex[c >> 4];
      A.agent[o++] = hex[c & 15];
    }
  }
  A.agent[o] = '\0';
  return 0;
}

static void on_message(wsx_socket *s, const wsx_message *m, void *ud) {
  (void)ud;
  if (A.phase == PH_COUNT) {
    char num[32];
    size_t n = m->len < sizeof num - 1 ? m->len : sizeof num - 1;
    memcpy(num, m->data, n);
    num[n] = '\0';
    char *end;
    long v = strtol(num, &end, 10);
    if (end != num && *end == '\0' && v >= 0)
      A.count = v;
    return;
  }
  if (A.phase != PH_CASE)
    return;
  int r = m->opcode == WSX_OP_TEXT
              ? wsx_socket_send_text(s, (const char *)m->data, m->len)
              : wsx_socket_send_binary(s, m->data, m->len);
  if (r == 1 && !A.paused && wsx_socket_pause(s) == WSX_OK)
    A.paused = 1;
}

static void on_drain(wsx_socket *s, void *ud) {
  (void)ud;
  if (A.paused && wsx_socket_resume(s) == WSX_OK)
    A.paused = 0;
}

static void on_connect_failed(wsx_socket *s, const wsx_connect_failure *f,
                              void *ud) {
  (void)ud;
  fprintf(stderr, "wsx autobahn-client: cannot connect to %s: %s\n",
          wsx_socket_url(s), f->message);
  if (A.phase != PH_CASE)
    A.exit_code = 1;
}

static void on_close(wsx_socket *s, const wsx_close_event *e, void *ud) {
  (void)s;
  (void)e;
  (void)ud;
  A.paused = 0;
  switch (A.phase) {
  case PH_COUNT:
    if (A.count < 0) {
      if (!A.exit_code)
        fprintf(stderr, "wsx autobahn-client: no case count received\n");
      A.exit_code = 1;
      A.phase = PH_DONE;
      break;
    }
    printf("%ld cases\n", A.count);
    fflush(stdout);
    A.phase = A.count ? PH_CASE : PH_REPORT;
    A.case_no = 1;
    schedule_next();
    break;
  case PH_CASE:
    if (++A.case_no > A.count)
      A.phase = PH_REPORT;
    schedule_next();
    break;
  case PH_REPORT:
    if (!A.exit_code) {
      printf("reports updated for agent %s\n", A.agent_raw);
      fflush(stdout);
    }
    A.phase = PH_DONE;
    break;
  default:
    break;
  }
}

static const wsx_socket_callbacks cbs = {.struct_size = sizeof(wsx_socket_callbacks),
    .message = on_message,
    .drain = on_drain,
    .close = on_close,
    .connect_failed = on_connect_failed,
};

/* Opens the connection of the current phase. On failure the run ends. */
static void connect_phase(void) {
  char *url = malloc(A.base_len + sizeof A.agent + 64);
  if (!url) {
    fprintf(stderr, "wsx autobahn-client: out of memory\n");
    A.exit_code = 1;
    return;
  }
  memcpy(url, A.base, A.base_len);
  char *tail = url + A.base_len;
  size_t room = sizeof A.agent + 64;
  if (A.phase == PH_COUNT) {
    snprintf(tail, room, "/getCaseCount");
  } else if (A.phase == PH_CASE) {
    snprintf(tail, room, "/runCase?case=%ld&agent=%s", A.case_no, A.agent);
    printf("case %ld/%ld\n", A.case_no, A.count);
    fflush(stdout);
  } else {
    snprintf(tail, room, "/updateReports?agent=%s", A.agent);
  }
  int err = 0;
  wsx_socket *s = wsx_socket_connect(A.loop, url, &A.opts, &cbs, NULL, &err);
  if (!s) {
    fprintf(stderr, "wsx autobahn-client: cannot connect to %s: %s%s%s\n",
            url, wsx_uv_strerror(err), err == WSX_E_TLS ? ": " : "",
            err == WSX_E_TLS ? wsx_tls_last_error() : "");
    A.exit_code = err == WSX_E_URL || err == WSX_E_UNSUPPORTED ? 2 : 1;
    A.phase = PH_DONE;
  }
  free(url);
}

static void on_next(uv_timer_t *t) {
  (void)t;
  connect_phase();
}

static void schedule_next(void) {
  int r = uv_timer_start(&A.next, on_next, 0, 0);
  if (r < 0) {
    fprintf(stderr, "wsx autobahn-client: %s\n", uv_strerror(r));
    A.exit_code = 1;
    A.phase = PH_DONE;
  }
}

static int parse_args(int argc, char **argv, const char **url,
                      const char **agent) {
  int r;
  const char *v;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return -1;
    } else if ((r = cli_option("autobahn-client", argc, argv, &i, "--deflate",
                               NULL))) {
      if (r == 2)
        return 2;
      if (!A.deflate && !(A.deflate = wsx_deflate_new(NULL))) {
        fprintf(stderr, "wsx autobahn-client: out of memory\n");
        return 1;
      }
    } else if ((r = cli_option("autobahn-client", argc, argv, &i, "--ca",
                               &v))) {
      if (r == 2)
        return 2;
      A.tls.ca_file = v;
      A.opts.tls = &A.tls;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage_error("autobahn-client", "unknown option '%s'", argv[i]);
    } else if (!*url) {
      *url = argv[i];
    } else if (!*agent) {
      *agent = argv[i];
    } else {
      return cli_usage_error("autobahn-client", "unexpected argument '%s'",
                             argv[i]);
    }
  }
  if (!*url || !*agent)
    return cli_usage_error("autobahn-client", "missing %s",
                           *url ? "AGENT" : "URL and AGENT");
  if (strncmp(*url, "ws://", 5) != 0 && strncmp(*url, "wss://", 6) != 0)
    return cli_usage_error("autobahn-client",
                           "bad URL '%s' (expected ws://host:port)", *url);
  if (!**agent || encode_agent(*agent) < 0)
    return cli_usage_error("autobahn-client",
                           "bad AGENT '%s' (empty or too "
                           "long)",
                           *agent);
  return 0;
}

int wsx_cmd_autobahn_client(int argc, char **argv) {
  const char *url = NULL, *agent = NULL;
  memset(&A, 0, sizeof A);
  A.opts = (wsx_socket_options)WSX_SOCKET_OPTIONS_INIT;
  A.tls = (wsx_tls_client_options)WSX_TLS_CLIENT_OPTIONS_INIT;
  A.count = -1;
  int r = parse_args(argc, argv, &url, &agent);
  if (r) {
    wsx_deflate_free(A.deflate);
    return r < 0 ? 0 : r;
  }
  A.base = url;
  A.agent_raw = agent;
  A.base_len = strlen(url);
  while (A.base_len && url[A.base_len - 1] == '/')
    A.base_len--;
  if (A.deflate) {
    A.exts[0] = A.deflate;
    A.opts.extensions = A.exts;
  }
  signal(SIGPIPE, SIG_IGN);
  A.loop = uv_default_loop();
  r = uv_timer_init(A.loop, &A.next);
  if (r < 0) {
    fprintf(stderr, "wsx autobahn-client: %s\n", uv_strerror(r));
    wsx_deflate_free(A.deflate);
    return 1;
  }
  A.phase = PH_COUNT;
  connect_phase();
  /* A stopped timer does not keep the loop alive: it ends after the last
   * socket closed with nothing scheduled. */
  uv_run(A.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&A.next, NULL);
  uv_run(A.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(A.loop) != 0)
    fprintf(stderr, "wsx autobahn-client: loop closed with handles open\n");
  wsx_deflate_free(A.deflate);
  if (A.phase != PH_DONE && !A.exit_code)
    A.exit_code = 1;
  return A.exit_code;
}
