/*
 * The driver's documented contracts (wsx/driver.h, wsx/common.h):
 *  - after every error return, wsx_is_fatal(rc) == (the driver is CLOSED);
 *  - a failing write callback fails the driver (WSX_E_IO, error, close);
 *  - re-entry: every driver call from inside every callback;
 *  - outstanding ping callbacks are capped;
 *  - the random callback feeds masks and the client key.
 */
#include "../conformance/harness.h"
#include "driver/driver_int.h"
#include "wsx/extension.h"

/* ---- the fatal rule ---------------------------------------------------- */

static int rule_checks;

/* `closed_before`: the driver was CLOSED before the call. */
static void rule_(wsx_driver *d, int closed_before, int rc, const char *what,
                  int line) {
  rule_checks++;
  if (rc == WSX_OK || (rc == WSX_E_CLOSED && closed_before))
    return;
  int closed = wsx_driver_ready_state(d) == WSX_CLOSED;
  if (wsx_is_fatal(rc) != closed)
    TEST_FAILF_("line %d: %s returned %d (%s, fatal %d) with ready_state %d",
                line, what, rc, wsx_strerror(rc), wsx_is_fatal(rc),
                wsx_driver_ready_state(d));
  if (closed && !closed_before && wsx_is_fatal(rc))
    CHECK_INT(wsx_driver_last_error(d, NULL), rc);
}

#define RULE(d, call)                                                          \
  do {                                                                         \
    int cb_ = wsx_driver_ready_state(d) == WSX_CLOSED;                         \
    int rc_ = (call);                                                          \
    rule_((d), cb_, rc_, #call, __LINE__);                                     \
  } while (0)

static int parse_copy(wsx_driver *d, const uint8_t *p, size_t n) {
  uint8_t *c = malloc(n ? n : 1);
  if (n)
    memcpy(c, p, n);
  int rc = wsx_driver_parse(d, c, n);
  free(c);
  return rc;
}

#define PMD_REQUEST                                                            \
  "GET /chat HTTP/1.1\r\n"                                                     \
  "Host: server.example.com\r\n"                                               \
  "Upgrade: websocket\r\n"                                                     \
  "Connection: Upgrade\r\n"                                                    \
  "Sec-WebSocket-Key: " H_KEY "\r\n"                                           \
  "Sec-WebSocket-Version: 13\r\n"                                              \
  "Sec-WebSocket-Extensions: permessage-deflate\r\n"                           \
  "\r\n"

/* A server driver with permessage-deflate, opened by PMD_REQUEST. */
static int pmd_server(hrec *r, wsx_extension *ext, const wsx_driver_options *o) {
  memset(r, 0, sizeof *r);
  r->role = H_SERVER;
  r->auto_start = 0;
  r->d = wsx_driver_new_server(o, &h_default_cbs, r);
  if (!r->d)
    return 0;
  RULE(r->d, wsx_driver_add_extension(r->d, ext));
  RULE(r->d, parse_copy(r->d, (const uint8_t *)PMD_REQUEST,
                        strlen(PMD_REQUEST)));
  RULE(r->d, wsx_driver_start(r->d));
  return 1;
}

/* The case: a corrupt permessage-deflate frame. Today's code
 * returned WSX_E_EXTENSION, which wsx_is_fatal() called non-fatal, on a
 * CLOSED driver. And every bad input of a table, each on a fresh driver. */
TEST(fatal_rule_on_bad_input) {
  wsx_extension *ext = wsx_deflate_new(NULL);
  REQUIRE(ext);
  static const uint8_t reserved_block[] = {0xff, 0xff, 0xff};
  hrec r;
  REQUIRE(pmd_server(&r, ext, NULL));
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  hb in = {0};
  h_frame(&in, 0xc1, 1, reserved_block, sizeof reserved_block);
  int rc = parse_copy(r.d, in.p, in.len);
  CHECK_INT(rc, WSX_E_EXTENSION);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK(wsx_is_fatal(rc));
  RULE(r.d, parse_copy(r.d, in.p, in.len)); /* sticky */
  CHECK_INT(parse_copy(r.d, in.p, in.len), WSX_E_EXTENSION);
  RULE(r.d, wsx_driver_send_text(r.d, "x", 1));
  hb_free(&in);
  h_rec_free(&r);

  /* Protocol errors of every kind, each through the rule. */
  for (int k = 0; k < 7; k++) {
    wsx_driver_options o;
    memset(&o, 0, sizeof o);
    o.max_length = 100;
    REQUIRE(h_open(&r, H_SERVER, &o));
    hb f = {0};
    switch (k) {
    case 0:
      h_frame_str(&f, H_FIN | 0x3, 1, "x");
      break;
    case 1:
      h_frame_str(&f, H_FIN | WSX_OP_TEXT, 0, "unmasked");
      break;
    case 2:
      h_close_frame(&f, 1, 1015, NULL, 0);
      break;
    case 3:
      h_frame_str(&f, H_FIN | WSX_OP_TEXT, 1, "\xc3\x28");
      break;
    case 4:
      h_frame_str(&f, WSX_OP_PING, 1, "frag");
      break;
    case 5: {
      uint8_t big[200];
      memset(big, 'a', sizeof big);
      h_frame(&f, H_FIN | WSX_OP_BINARY, 1, big, sizeof big);
      break;
    }
    default:
      h_frame_str(&f, H_FIN | WSX_OP_CONTINUATION, 1, "orphan");
      break;
    }
    RULE(r.d, parse_copy(r.d, f.p, f.len));
    CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
    RULE(r.d, wsx_driver_send_binary(r.d, "x", 1));
    RULE(r.d, wsx_driver_ping(r.d, "x", 1, NULL, NULL));
    RULE(r.d, wsx_driver_start(r.d));
    hb_free(&f);
    h_rec_free(&r);
  }

  /* Refused on the send side: non-fatal, the driver stays open. */
  REQUIRE(h_open(&r, H_SERVER, NULL));
  RULE(r.d, wsx_driver_send_text(r.d, "\xc3", 1));
  RULE(r.d, wsx_driver_ping(r.d, NULL, 0, NULL, NULL));
  uint8_t big[126] = {0};
  RULE(r.d, wsx_driver_pong(r.d, big, sizeof big));
  RULE(r.d, wsx_driver_send_frame(r.d, 0x3, 1, "x", 1));
  RULE(r.d, wsx_driver_close(r.d, 1005, NULL));
  RULE(r.d, wsx_driver_start(r.d));
  RULE(r.d, wsx_driver_set_header(r.d, "X", "y"));
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  h_rec_free(&r);

  /* Start refused (server: a bad request) is fatal and closes. */
  wsx_http_request req;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.method_len = 3;
  req.target = "/";
  req.target_len = 1;
  req.minor_version = 1;
  wsx_driver *d = wsx_driver_new_server_request(&req, NULL, &h_default_cbs, &r);
  memset(&r, 0, sizeof r);
  REQUIRE(d);
  RULE(d, wsx_driver_start(d));
  CHECK_INT(wsx_driver_ready_state(d), WSX_CLOSED);
  wsx_driver_free(d);
  hb_free(&r.log);
  hb_free(&r.out);
  hb_free(&r.msg);
  wsx_deflate_free(ext);
}

/* Failmalloc over a whole session (deflate server: head, compressed and
 * plain messages, fragments, ping, sends, close), with the rule checked
 * after every call, for every failing allocation. Today's code returned
 * WSX_E_NOMEM (non-fatal) from parse on a CLOSED driver. */
static void oom_session(hcount *c, wsx_extension *ext) {
  wsx_allocator a = hcount_allocator(c);
  wsx_driver_options o;
  memset(&o, 0, sizeof o);
  o.allocator = &a;
  hrec r;
  if (!pmd_server(&r, ext, &o)) {
    h_rec_free(&r);
    return;
  }
  /* "Hello" compressed (RFC 7692 7.2.3.1), plain fragments, a ping. */
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  hb in = {0};
  h_frame(&in, 0xc1, 1, hello, sizeof hello);
  h_frame_str(&in, WSX_OP_TEXT, 1, "frag");
  h_frame_str(&in, H_FIN | WSX_OP_CONTINUATION, 1, "ment");
  h_frame_str(&in, H_FIN | WSX_OP_PING, 1, "p");
  uint8_t blob[3000];
  h_pattern(blob, sizeof blob, 7);
  h_frame(&in, H_FIN | WSX_OP_BINARY, 1, blob, sizeof blob);
  for (size_t i = 0; i < in.len; i += 5)
    RULE(r.d, parse_copy(r.d, in.p + i, in.len - i < 5 ? in.len - i : 5));
  RULE(r.d, wsx_driver_send_text(r.d, "compressed reply", 16));
  RULE(r.d, wsx_driver_send(r.d, WSX_OP_BINARY, blob, sizeof blob,
                            WSX_SEND_UNCOMPRESSED));
  RULE(r.d, wsx_driver_ping(r.d, "q", 1, h_ping_cb, &r));
  RULE(r.d, wsx_driver_close(r.d, 1000, "bye"));
  hb cl = {0};
  h_close_frame(&cl, 1, 1000, NULL, 0);
  RULE(r.d, parse_copy(r.d, cl.p, cl.len));
  hb_free(&cl);
  hb_free(&in);
  h_rec_free(&r);
}

TEST(fatal_rule_under_failmalloc) {
  wsx_extension *ext = wsx_deflate_new(NULL);
  REQUIRE(ext);
  hcount c;
  memset(&c, 0, sizeof c);
  oom_session(&c, ext);
  size_t total = c.calls;
  REQUIRE(total > 5);
  for (size_t n = 1; n <= total + 1; n++) {
    memset(&c, 0, sizeof c);
    c.fail_at = n;
    oom_session(&c, ext);
    if (test_cur_failed_) {
      printf("  (failing allocation %zu of %zu)\n", n, total);
      break;
    }
    CHECK_INT(c.cur, 0);
  }
  wsx_deflate_free(ext);
}

/* ---- write failure ----------------------------------------------------- */

/* driver.h: a non-zero return from `write` fails the driver: WSX_E_IO,
 * error event then close event, CLOSED, later sends fail. Today the driver
 * stayed OPEN and the next send succeeded. */
TEST(write_failure_fails_the_driver) {
  H_EACH_ROLE(role) {
    hrec r;
    REQUIRE(h_open(&r, role, NULL));
    r.log.len = 0;
    r.fail_writes = 1;
    CHECK_INT(wsx_driver_send_text(r.d, "x", 1), WSX_E_IO);
    CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
    CHECK_STR(hb_cstr(&r.log), "error:io:0;close:1006:unclean");
    r.fail_writes = 0;
    size_t before = r.out.len;
    CHECK_INT(wsx_driver_send_text(r.d, "y", 1), WSX_E_CLOSED);
    CHECK_INT(wsx_driver_ping(r.d, "p", 1, NULL, NULL), WSX_E_CLOSED);
    CHECK_INT(wsx_driver_close(r.d, 1000, NULL), WSX_E_CLOSED);
    CHECK_INT(r.out.len, before);
    const char *m = NULL;
    CHECK_INT(wsx_driver_last_error(r.d, &m), WSX_E_IO);
    CHECK(m && strstr(m, "write") != NULL);
    /* Input after the failure: the sticky code. */
    hb f = {0};
    h_frame_str(&f, H_FIN | WSX_OP_TEXT, H_MASKED(role), "late");
    CHECK_INT(parse_copy(r.d, f.p, f.len), WSX_E_IO);
    CHECK_INT(r.n_message, 0);
    CHECK_INT(r.n_close, 1);
    hb_free(&f);
    h_rec_free(&r);
  }

  /* A write failing during parse (the automatic pong): parse returns it. */
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, NULL));
  r.log.len = 0;
  r.fail_writes = 1;
  hb f = {0};
  h_frame_str(&f, H_FIN | WSX_OP_PING, 1, "p");
  h_frame_str(&f, H_FIN | WSX_OP_TEXT, 1, "after");
  CHECK_INT(parse_copy(r.d, f.p, f.len), WSX_E_IO);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK_STR(hb_cstr(&r.log), "error:io:0;close:1006:unclean");
  hb_free(&f);
  h_rec_free(&r);

  /* Client start: the handshake write fails. */
  REQUIRE(h_client_new(&r, NULL, NULL, NULL));
  r.fail_writes = 1;
  CHECK_INT(wsx_driver_start(r.d), WSX_E_IO);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK_INT(r.n_close, 1);
  h_rec_free(&r);
}

/* ---- re-entry ---------------------------------------------------------- */

enum { A_NONE, A_SEND, A_CLOSE, A_PARSE, A_START, A_PING, A_PONG, A_ABORT,
       A_COUNT };
enum { C_CONNECT, C_SELECT, C_OPEN, C_MESSAGE, C_FRAME, C_PING, C_PONG,
       C_PING_CB, C_ERROR, C_CLOSE, C_COUNT };
static const char *const a_names[] = {"none", "send",  "close", "parse",
                                      "start", "ping", "pong",  "abort"};
static const char *const c_names[] = {"connect", "select_protocol", "open",
                                      "message", "frame",           "ping",
                                      "pong",    "ping_cb",         "error",
                                      "close"};

static struct {
  int action, where, fired;
  int rc;             /* what the nested call returned */
  int in_parse;       /* the callback ran inside wsx_driver_parse */
  hb nested;          /* a valid frame for a nested parse */
} re;
static int outer_parsing;

static void nested(wsx_driver *d, int where) {
  if (where != re.where || re.fired)
    return;
  re.fired = 1;
  re.in_parse = outer_parsing;
  switch (re.action) {
  case A_SEND:
    re.rc = wsx_driver_send_text(d, "nested", 6);
    break;
  case A_CLOSE:
    re.rc = wsx_driver_close(d, 1000, "nested");
    break;
  case A_PARSE:
    re.rc = parse_copy(d, re.nested.p, re.nested.len);
    break;
  case A_START:
    re.rc = wsx_driver_start(d);
    break;
  case A_PING:
    re.rc = wsx_driver_ping(d, "n", 1, h_ping_cb, wsx_driver_user_data(d));
    break;
  case A_PONG:
    re.rc = wsx_driver_pong(d, "n", 1);
    break;
  case A_ABORT:
    wsx_driver_abort(d, 0, NULL);
    re.rc = WSX_OK;
    break;
  default:
    re.rc = WSX_OK;
  }
}

static void r_connect(wsx_driver *d, void *ud) {
  h_cb_connect(d, ud);
  if (re.action == A_START && re.where == C_CONNECT) {
    nested(d, C_CONNECT); /* the nested start is THE start */
    return;
  }
  nested(d, C_CONNECT);
  ((hrec *)ud)->start_rc = wsx_driver_start(d);
}
static const char *r_select(wsx_driver *d, const char *const *offered,
                            size_t n, void *ud) {
  (void)ud;
  nested(d, C_SELECT);
  return n ? offered[0] : NULL;
}
static void r_open(wsx_driver *d, void *ud) {
  h_cb_open(d, ud);
  nested(d, C_OPEN);
}
static void r_message(wsx_driver *d, const wsx_message *m, void *ud) {
  h_cb_message(d, m, ud);
  nested(d, C_MESSAGE);
}
static void r_frame(wsx_driver *d, const wsx_message *m, void *ud) {
  h_cb_frame(d, m, ud);
  nested(d, C_FRAME);
}
static void r_ping(wsx_driver *d, const uint8_t *p, size_t n, void *ud) {
  h_cb_ping(d, p, n, ud);
  nested(d, C_PING);
}
static void r_pong(wsx_driver *d, const uint8_t *p, size_t n, void *ud) {
  h_cb_pong(d, p, n, ud);
  nested(d, C_PONG);
}
static void r_ping_cb(wsx_driver *d, void *arg) {
  h_ping_cb(d, arg);
  nested(d, C_PING_CB);
}
static void r_error(wsx_driver *d, const wsx_error_event *e, void *ud) {
  h_cb_error(d, e, ud);
  nested(d, C_ERROR);
}
static void r_close(wsx_driver *d, const wsx_close_event *e, void *ud) {
  h_cb_close(d, e, ud);
  nested(d, C_CLOSE);
}

static const wsx_driver_callbacks re_cbs = {
    .write = h_cb_write,
    .connect = r_connect,
    .open = r_open,
    .message = r_message,
    .frame = r_frame,
    .ping = r_ping,
    .pong = r_pong,
    .close = r_close,
    .error = r_error,
    .select_protocol = r_select,
};

#define PROTO_REQUEST                                                          \
  "GET /chat HTTP/1.1\r\n"                                                     \
  "Host: server.example.com\r\n"                                               \
  "Upgrade: websocket\r\n"                                                     \
  "Connection: Upgrade\r\n"                                                    \
  "Sec-WebSocket-Key: " H_KEY "\r\n"                                           \
  "Sec-WebSocket-Version: 13\r\n"                                              \
  "Sec-WebSocket-Protocol: chat\r\n"                                           \
  "\r\n"

/* One run: a raw server fed the request, then (after a ping with a
 * callback) a text message, a ping, the pong for our ping and a reserved
 * opcode (error + close). `split`: 0 = all frames in one parse call (the
 * nested call happens with input of the outer call still to come), 1 =
 * one frame per call. Returns the event log (caller frees). */
static void re_run(int action, int where, int frame_mode, int split, hb *log,
                   hb *out) {
  memset(&re, 0, sizeof re);
  re.action = action;
  re.where = where;
  h_frame_str(&re.nested, H_FIN | WSX_OP_TEXT, 1, "nested-parse");
  static const char *const protos[] = {"chat", NULL};
  wsx_driver_options o;
  memset(&o, 0, sizeof o);
  o.protocols = protos;
  o.frame_events = frame_mode;
  hrec r;
  memset(&r, 0, sizeof r);
  r.role = H_SERVER;
  r.d = wsx_driver_new_server(&o, &re_cbs, &r);
  REQUIRE(r.d);
  outer_parsing = 1;
  RULE(r.d, parse_copy(r.d, (const uint8_t *)PROTO_REQUEST,
                       strlen(PROTO_REQUEST)));
  outer_parsing = 0;
  if (wsx_driver_ready_state(r.d) == WSX_OPEN)
    RULE(r.d, wsx_driver_ping(r.d, "q", 1, r_ping_cb, &r));
  hb f[4] = {{0}};
  h_frame_str(&f[0], H_FIN | WSX_OP_TEXT, 1, "hello");
  h_frame_str(&f[1], H_FIN | WSX_OP_PING, 1, "p");
  h_frame_str(&f[2], H_FIN | WSX_OP_PONG, 1, "q");
  h_frame_str(&f[3], H_FIN | 0x3, 1, "bad");
  hb all = {0};
  for (int i = 0; i < 4; i++)
    hb_put(&all, f[i].p, f[i].len);
  outer_parsing = 1;
  if (split) {
    for (int i = 0; i < 4; i++)
      RULE(r.d, parse_copy(r.d, f[i].p, f[i].len));
  } else {
    RULE(r.d, parse_copy(r.d, all.p, all.len));
  }
  outer_parsing = 0;
  /* After everything: the nested parse's bytes fed now (the documented
   * way) are refused only because the driver is closed. */
  RULE(r.d, parse_copy(r.d, re.nested.p, re.nested.len));
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK_INT(r.n_close, 1);
  hb_put(log, r.log.p, r.log.len);
  size_t hl = h_head_end(r.out.p, r.out.len);
  hb_put(out, r.out.p + hl, r.out.len - hl);
  for (int i = 0; i < 4; i++)
    hb_free(&f[i]);
  hb_free(&all);
  hb_free(&re.nested);
  h_rec_free(&r);
}

/* Output frames, as "op:len" words, checking each is well-formed. */
static void frames_of(const hb *out, hb *words) {
  size_t i = 0;
  while (i + 2 <= out->len) {
    unsigned op = out->p[i] & 0x0f;
    size_t n = out->p[i + 1] & 0x7f;
    CHECK(!(out->p[i + 1] & 0x80)); /* server frames unmasked */
    CHECK(n < 126);
    if (i + 2 + n > out->len) {
      TEST_FAILF_("truncated output frame at %zu", i);
      return;
    }
    hb_printf(words, "%s%u:%zu", words->len ? " " : "", op, n);
    i += 2 + n;
  }
  CHECK_INT(i, out->len);
}

/* driver.h "Re-entry": every call from every callback, with the frames of
 * the outer input in one call and one per call. Nested parse is refused
 * (WSX_E_STATE, nothing consumed) so the outer frame state survives;
 * today the nested bytes were parsed as payload of the current frame. */
TEST(reentry_every_call_from_every_callback) {
  hb base_log[2] = {{0}}, base_out[2] = {{0}};
  for (int fm = 0; fm < 2; fm++)
    re_run(A_NONE, -1, fm, 0, &base_log[fm], &base_out[fm]);
  CHECK_STR(hb_cstr(&base_log[0]),
            "open;message:text:5:hello;ping:1:p;pong:1:q;ping_cb;"
            "error:protocol:1002;close:1002:unclean");
  int runs = 0;
  for (int where = 0; where < C_COUNT; where++) {
    for (int action = A_SEND; action < A_COUNT; action++) {
      for (int split = 0; split < 2; split++) {
        int fm = where == C_FRAME;
        hb log = {0}, out = {0};
        int failed_before = test_cur_failed_;
        re_run(action, where, fm, split, &log, &out);
        runs++;
        CHECK(re.fired);
        /* The nested call's own rule (closed before = the close event is
         * running or has run). */
        int dead = where == C_ERROR || where == C_CLOSE;
        if (re.rc != WSX_OK && re.rc != WSX_E_CLOSED &&
            re.rc != WSX_E_STATE && !(dead && wsx_is_fatal(re.rc)))
          TEST_FAILF_("nested %s returned %d", a_names[action], re.rc);
        if (action == A_PARSE)
          CHECK_INT(re.rc, re.in_parse ? WSX_E_STATE : WSX_E_CLOSED);
        /* start: the sticky fatal code once failed (error, close). */
        if (action == A_START)
          CHECK_INT(re.rc, where == C_CONNECT ? WSX_OK
                           : dead             ? WSX_E_PROTOCOL
                                              : WSX_E_STATE);
        /* Calls that neither close nor start change no event: the log is
         * the baseline's (nothing bogus, e.g. no 1007 from a nested
         * parse). */
        if (action == A_PARSE || action == A_START || action == A_SEND ||
            action == A_PONG || (action == A_PING && where != C_PING_CB))
          CHECK_STR(hb_cstr(&log), hb_cstr(&base_log[fm]));
        if (action == A_CLOSE || action == A_ABORT)
          CHECK(strstr(hb_cstr(&log), "error:utf8") == NULL);
        hb words = {0};
        frames_of(&out, &words);
        if (test_cur_failed_ && !failed_before)
          printf("  (nested %s in %s, %s; log %s; out %s)\n",
                 a_names[action], c_names[where],
                 split ? "one frame per call" : "one call", hb_cstr(&log),
                 hb_cstr(&words));
        hb_free(&words);
        hb_free(&log);
        hb_free(&out);
        if (test_cur_failed_)
          goto done;
      }
    }
  }
done:
  CHECK(runs > 0);
  for (int fm = 0; fm < 2; fm++) {
    hb_free(&base_log[fm]);
    hb_free(&base_out[fm]);
  }
}

/* The exact case: parse from `message`; the outer call goes on. */
static hb nested_bytes;
static int nested_rc;
static void parse_in_message(wsx_driver *d, const wsx_message *m, void *ud) {
  h_cb_message(d, m, ud);
  if (nested_bytes.len)
    nested_rc = parse_copy(d, nested_bytes.p, nested_bytes.len);
}

TEST(nested_parse_in_message_is_refused) {
  wsx_driver_callbacks cb = h_callbacks();
  cb.message = parse_in_message;
  hrec r;
  REQUIRE(h_server_new(&r, NULL, &cb));
  CHECK_INT(parse_copy(r.d, (const uint8_t *)H_REQUEST, strlen(H_REQUEST)),
            WSX_OK);
  hb in = {0};
  h_frame_str(&in, H_FIN | WSX_OP_TEXT, 1, "one");
  h_frame_str(&in, H_FIN | WSX_OP_TEXT, 1, "three");
  h_frame_str(&nested_bytes, H_FIN | WSX_OP_TEXT, 1, "two");
  nested_rc = 0;
  CHECK_INT(parse_copy(r.d, in.p, in.len), WSX_OK);
  CHECK_INT(nested_rc, WSX_E_STATE);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  CHECK_STR(hb_cstr(&r.log), "open;message:text:3:one;message:text:5:three");
  /* The refused bytes, fed after the outer call returned, are parsed. */
  hb later = {0};
  hb_put(&later, nested_bytes.p, nested_bytes.len);
  nested_bytes.len = 0;
  CHECK_INT(parse_copy(r.d, later.p, later.len), WSX_OK);
  CHECK_STR(hb_cstr(&r.log), "open;message:text:3:one;message:text:5:three;"
                             "message:text:3:two");
  hb_free(&later);
  hb_free(&nested_bytes);
  hb_free(&in);
  h_rec_free(&r);
}

/* Calls from inside the write callback are refused (a frame is half
 * written); the outer write goes on. */
static int write_calls_back(wsx_driver *d, const wsx_iovec *iov, size_t n,
                            void *ud) {
  hrec *r = ud;
  if (r->free_in_close == 0) {
    r->free_in_close = 1;
    uint8_t b[2] = {0x81, 0x80};
    CHECK_INT(wsx_driver_send_text(d, "x", 1), WSX_E_STATE);
    CHECK_INT(wsx_driver_ping(d, "x", 1, NULL, NULL), WSX_E_STATE);
    CHECK_INT(wsx_driver_pong(d, "x", 1), WSX_E_STATE);
    CHECK_INT(wsx_driver_close(d, 1000, NULL), WSX_E_STATE);
    CHECK_INT(wsx_driver_start(d), WSX_E_STATE);
    CHECK_INT(wsx_driver_parse(d, b, 2), WSX_E_STATE);
  }
  return h_cb_write(d, iov, n, ud);
}

TEST(calls_from_write_are_refused) {
  wsx_driver_callbacks cb = h_callbacks();
  cb.write = write_calls_back;
  hrec r;
  REQUIRE(h_server_new(&r, NULL, &cb));
  r.free_in_close = 1; /* not during the handshake */
  CHECK_INT(parse_copy(r.d, (const uint8_t *)H_REQUEST, strlen(H_REQUEST)),
            WSX_OK);
  r.free_in_close = 0;
  size_t before = r.out.len;
  CHECK_INT(wsx_driver_send_text(r.d, "hello", 5), WSX_OK);
  CHECK_INT(r.free_in_close, 1);
  CHECK_INT(r.out.len - before, 7); /* exactly one frame left */
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  h_rec_free(&r);
}

/* ---- ping callbacks ---------------------------------------------------- */

/* Each ping with a callback used to grow a table by one realloc, without
 * bound, when no pong came. */
TEST(ping_callbacks_capped) {
  hcount c;
  memset(&c, 0, sizeof c);
  wsx_allocator a = hcount_allocator(&c);
  wsx_driver_options o;
  memset(&o, 0, sizeof o);
  o.allocator = &a;
  hrec r;
  REQUIRE(h_open(&r, H_SERVER, &o));
  size_t calls0 = c.calls;
  char p[8];
  for (int i = 0; i < WSX_MAX_PING_CALLBACKS; i++) {
    int n = snprintf(p, sizeof p, "%d", i);
    CHECK_INT(wsx_driver_ping(r.d, p, (size_t)n, h_ping_cb, &r), WSX_OK);
  }
  /* Grown by doubling: a handful of reallocs, not one per ping. */
  CHECK(c.calls - calls0 <= 6);
  size_t out = r.out.len;
  CHECK_INT(wsx_driver_ping(r.d, "x", 1, h_ping_cb, &r), WSX_E_BUSY);
  CHECK_INT(r.out.len, out); /* nothing sent */
  CHECK(!wsx_is_fatal(WSX_E_BUSY));
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  CHECK_INT(wsx_driver_ping(r.d, "x", 1, NULL, NULL), WSX_OK);
  /* A pong frees a slot. */
  hb f = {0};
  h_frame_str(&f, H_FIN | WSX_OP_PONG, 1, "0");
  CHECK_INT(parse_copy(r.d, f.p, f.len), WSX_OK);
  CHECK_INT(r.n_ping_cb, 1);
  CHECK_INT(wsx_driver_ping(r.d, "y", 1, h_ping_cb, &r), WSX_OK);
  CHECK_INT(wsx_driver_ping(r.d, "z", 1, h_ping_cb, &r), WSX_E_BUSY);
  hb_free(&f);
  h_rec_free(&r);
  CHECK_INT(c.cur, 0);
}

/* ---- random source ----------------------------------------------------- */

static int rnd_calls;
static int fixed_random(void *buf, size_t len, void *ud) {
  (void)ud;
  rnd_calls++;
  memset(buf, 0x5a, len);
  return 0;
}
static int failing_random(void *buf, size_t len, void *ud) {
  (void)buf;
  (void)len;
  (void)ud;
  return -1;
}

TEST(random_callback_feeds_key_and_masks) {
  wsx_driver_options o;
  memset(&o, 0, sizeof o);
  o.random = fixed_random;
  hrec r;
  REQUIRE(h_client_new(&r, NULL, &o, NULL));
  rnd_calls = 0;
  CHECK_INT(wsx_driver_start(r.d), WSX_OK);
  CHECK_INT(rnd_calls, 1);
  char key[64];
  CHECK(h_head_value(&r.out, "Sec-WebSocket-Key", key, sizeof key));
  CHECK_STR(key, "WlpaWlpaWlpaWlpaWlpaWg=="); /* 16 bytes of 0x5a */
  hb resp = {0};
  h_server_response(&r, NULL, &resp);
  CHECK_INT(parse_copy(r.d, resp.p, resp.len), WSX_OK);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_OPEN);
  size_t before = r.out.len;
  CHECK_INT(wsx_driver_send_text(r.d, "hi", 2), WSX_OK);
  CHECK_INT(r.out.len - before, 8);
  static const uint8_t want[] = {0x81, 0x82, 0x5a, 0x5a,
                                 0x5a, 0x5a, 'h' ^ 0x5a, 'i' ^ 0x5a};
  CHECK_MEM(r.out.p + before, 8, want, 8);
  hb_free(&resp);
  h_rec_free(&r);

  /* A failing source fails the driver (fatal, closed). */
  o.random = failing_random;
  REQUIRE(h_client_new(&r, NULL, &o, NULL));
  int rc = wsx_driver_start(r.d);
  CHECK_INT(rc, WSX_E_INTERNAL);
  CHECK_INT(wsx_driver_ready_state(r.d), WSX_CLOSED);
  CHECK_INT(r.out.len, 0);
  h_rec_free(&r);
}

/* The default source: the one this build was configured for (the
 * portable build of run-tests.sh forces /dev/urandom and sets
 * WSX_RANDOM_EXPECT), and it gives bytes. */
TEST(default_random_source) {
  const char *want = getenv("WSX_RANDOM_EXPECT");
  if (want && *want)
    CHECK_STR(wsx__random_source(), want);
  uint8_t a[64], b[300];
  memset(a, 0, sizeof a);
  CHECK_INT(wsx__random(a, sizeof a), 0);
  CHECK_INT(wsx__random(b, sizeof b), 0); /* past the pool */
  int nonzero = 0;
  for (size_t i = 0; i < sizeof a; i++)
    nonzero += a[i] != 0;
  CHECK(nonzero > 32);
}

TEST(rule_was_checked) { CHECK(rule_checks > 100); }

TEST_MAIN(RUN(fatal_rule_on_bad_input); RUN(fatal_rule_under_failmalloc);
          RUN(write_failure_fails_the_driver);
          RUN(reentry_every_call_from_every_callback);
          RUN(nested_parse_in_message_is_refused);
          RUN(calls_from_write_are_refused); RUN(ping_callbacks_capped);
          RUN(random_callback_feeds_key_and_masks);
          RUN(default_random_source); RUN(rule_was_checked))
