/* tools/serve_clock.c: `wsx serve` event lines and the /clock EventSource
 * (one event a second per loop; see serve.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "serve.h"

/* ---- event lines ---------------------------------------------------- */

/* An event line: line_start() ... line_end(), whole even when several
 * loops (--threads) print at once. */
void line_start(void) { flockfile(stdout); }

void line_end(void) {
  putchar('\n');
  fflush(stdout);
  funlockfile(stdout);
}

void log_path(const char *path, size_t len) {
  cli_write_escaped(stdout, path, len);
}

void log_open(unsigned long long id, wsx_socket *s, const char *path) {
  if (S.quiet)
    return;
  char addr[64], where[80];
  int port = 0;
  if (!s || wsx_socket_remote_address(s, addr, sizeof addr, &port) != WSX_OK)
    strcpy(addr, "?");
  cli_hostport(where, sizeof where, addr, port);
  line_start();
  printf("open %llu %s %s", id, where, path);
  if (s && wsx_socket_is_http2(s))
    printf(" h2"); /* a stream of an HTTP/2 connection (RFC 8441) */
  line_end();
}

void log_close(unsigned long long id, const wsx_close_event *e) {
  if (S.quiet)
    return;
  line_start();
  if (!e) {
    printf("close %llu -", id);
  } else {
    printf("close %llu %u", id, (unsigned)e->code);
    if (e->reason_len) {
      putchar(' ');
      cli_write_escaped(stdout, e->reason, e->reason_len);
    }
  }
  line_end();
}

void log_error(unsigned long long id, const char *message) {
  if (S.quiet)
    return;
  line_start();
  printf("error %llu ", id);
  cli_write_escaped(stdout, message, strlen(message));
  line_end();
}

/* ---- time ----------------------------------------------------------- */

uint64_t now_ms(void) {
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) != 0)
    return 0;
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* ---- clock ---------------------------------------------------------- */

/* Formats the current UTC time as ISO 8601 ("2024-05-01T12:34:56Z"). */
static size_t format_time(char *buf, size_t len) {
  uv_timeval64_t tv;
  struct tm tm;
  if (uv_gettimeofday(&tv) != 0)
    return 0;
  time_t t = (time_t)tv.tv_sec;
  if (!gmtime_r(&t, &tm))
    return 0;
  return strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void send_time(wsx_eventsource *es) {
  char buf[32];
  size_t n = format_time(buf, sizeof buf);
  if (n)
    (void)wsx_eventsource_send(es, buf, n, NULL, NULL);
}

static void on_tick(uv_timer_t *t);

/* Arms the clock for a few ms after the next wall-clock second, so every
 * event shows a new second and the clocks of all browsers turn together. */
static void arm_tick(void) {
  uint64_t ms = now_ms();
  (void)uv_timer_start(&L.tick, on_tick, 1000u - ms % 1000u + 5u, 0);
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  char buf[32];
  size_t n = format_time(buf, sizeof buf);
  for (clock_client *c = L.clocks; c && n; c = c->next)
    (void)wsx_eventsource_send(c->es, buf, n, NULL, NULL);
  /* An idle server does not wake up every second. */
  if (L.clocks && !S.stopping)
    arm_tick();
}

static void clock_close(wsx_eventsource *es, void *ud) {
  (void)es;
  clock_client *c = ud;
  if (c->prev)
    c->prev->next = c->next;
  else
    L.clocks = c->next;
  if (c->next)
    c->next->prev = c->prev;
  log_close(c->id, NULL);
  free(c);
}

/* Answers `req` (an EventSource request for /clock) with a stream. */
void start_clock(wsx_request *req, wsx_http_res *res, const char *addr) {
  static const wsx_eventsource_callbacks cbs = {.struct_size = sizeof(wsx_eventsource_callbacks), .close = clock_close};
  static const wsx_header extra[] = {
      {"X-Content-Type-Options", 22, "nosniff", 7},
  };
  wsx_eventsource_options opts = WSX_EVENTSOURCE_OPTIONS_INIT;
  opts.retry_ms = 2000;   /* a restarted server is found again quickly */
  opts.ping_interval = 0; /* one event a second keeps proxies awake anyway */
  opts.headers = extra;
  opts.num_headers = sizeof extra / sizeof extra[0];
  opts.max_buffered = MAX_BUFFERED;
  int err = WSX_E_NOMEM;
  clock_client *c = calloc(1, sizeof *c);
  wsx_eventsource *es =
      c ? wsx_eventsource_new(req, res, &opts, &cbs, c, &err) : NULL;
  if (!es) {
    free(c);
    if (!S.quiet) {
      line_start();
      printf("error - cannot start /clock for %s: %s", addr,
             wsx_uv_strerror(err));
      line_end();
    }
    (void)wsx_http_res_status(res, 500, NULL);
    (void)wsx_http_res_end(res, "cannot start the stream\n", 24);
    return;
  }
  c->es = es;
  c->id = ++S.next_id;
  c->next = L.clocks;
  if (L.clocks)
    L.clocks->prev = c;
  L.clocks = c;
  if (!S.quiet) {
    line_start();
    printf("open %llu %s /clock", c->id, addr);
    line_end();
  }
  /* The page shows the time at once instead of after up to a second. */
  send_time(es);
  if (!uv_is_active((uv_handle_t *)&L.tick))
    arm_tick();
}
