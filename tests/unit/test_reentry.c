/*
 * Re-entry (wsx/driver.h "Re-entry"): every driver call from inside every
 * callback, table-driven, with the fatal rule of test_contracts.c checked
 * after each outer call. Runs under ASan in the asan build.
 */
#include "../conformance/harness.h"
#include "fatal_rule.h"

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
    .struct_size = sizeof(wsx_driver_callbacks),
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
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
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

TEST_MAIN(RUN(reentry_every_call_from_every_callback);
          RUN(nested_parse_in_message_is_refused);
          RUN(calls_from_write_are_refused))
