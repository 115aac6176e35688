/* EventSource server formatting: events, retry, Accept and lastEventId
 * helpers; every formatted event parses back to what was sent. */
#include <string.h>

#include "es/es.h"
#include "test.h"

static wsx_allocator A_;
static const wsx_allocator *A = &A_;
static char got[1024];

static const char *fmt(const char *data, size_t len, const char *ev,
                       const char *id, int *rc) {
  wsx__buf b = {0};
  *rc = wsx__es_format_event(&b, A, data, len, ev, id);
  got[0] = 0;
  if (b.len < sizeof(got)) {
    if (b.len)
      memcpy(got, b.data, b.len);
    got[b.len] = 0;
  }
  wsx__buf_free(&b, A);
  return got;
}

TEST(format_vectors) {
  int rc;
  CHECK_STR(fmt("Hello", 5, NULL, NULL, &rc), "data: Hello\n\n");
  CHECK_STR(fmt("Your message", 12, "user", "23", &rc),
            "event: user\nid: 23\ndata: Your message\n\n");
  CHECK_STR(fmt("a\nb\r\nc\rd", 8, NULL, NULL, &rc),
            "data: a\ndata: b\ndata: c\ndata: d\n\n");
  CHECK_STR(fmt("", 0, NULL, "", &rc), "id: \ndata: \n\n");
  CHECK_STR(fmt("x\n", 2, NULL, NULL, &rc), "data: x\ndata: \n\n");
  CHECK_STR(fmt("x\r\n", 3, NULL, NULL, &rc), "data: x\ndata: \n\n");
  CHECK_INT(rc, 0);
  fmt("x", 1, "a\nb", NULL, &rc);
  CHECK_INT(rc, WSX_E_INVALID);
  fmt("x", 1, NULL, "1\r", &rc);
  CHECK_INT(rc, WSX_E_INVALID);
}

TEST(retry_line) {
  wsx__buf b = {0};
  CHECK_INT(wsx__es_format_retry(&b, A, 2500), 0);
  CHECK_MEM(b.data, b.len, "retry: 2500\n\n", 13);
  b.len = 0;
  CHECK_INT(wsx__es_format_retry(&b, A, 50), 0);
  CHECK_MEM(b.data, b.len, "retry: 50\n\n", 11);
  wsx__buf_free(&b, A);
}

TEST(accept_header) {
  CHECK(wsx__es_accepts("text/event-stream", 17));
  CHECK(wsx__es_accepts("text/html, Text/Event-Stream;q=0.9", 34));
  CHECK(!wsx__es_accepts("text/event-streams", 18));
  CHECK(!wsx__es_accepts("*/*", 3));
  CHECK(!wsx__es_accepts("text/html;x=text/event-stream", 29));
}

TEST(query_last_id) {
  char *s = NULL;
  const char *q = "a=1&lastEventId=4%202+x&b";
  CHECK_INT(wsx__es_query_last_id(A, q, strlen(q), &s), 0);
  CHECK_STR(s, "4 2 x");
  free(s);
  CHECK_INT(wsx__es_query_last_id(A, "a=1", 3, &s), 0);
  CHECK(s == NULL);
  q = "lastEventId=%0A1";
  CHECK_INT(wsx__es_query_last_id(A, q, strlen(q), &s), 0);
  CHECK_STR(s, ""); /* a decoded CR/LF would inject a field */
  free(s);
  q = "lastEventId=%4";
  CHECK_INT(wsx__es_query_last_id(A, q, strlen(q), &s), 0);
  CHECK_STR(s, "%4");
  free(s);
}

static char rt[512];
static void on_ev(void *ud, const char *type, const char *data, size_t len,
                  const char *id) {
  (void)ud;
  snprintf(rt, sizeof(rt), "%s|%.*s|%s", type, (int)len, data, id);
}

TEST(round_trip) {
  static const struct {
    const char *data, *ev, *id, *want;
  } v[] = {
      {"one", NULL, NULL, "message|one|"},
      {"a\r\nb\rc\n", "tick", "9", "tick|a\nb\nc\n|9"},
      {"", NULL, "x", "message||x"},
      {"\n\n", "e", NULL, "e|\n\n|x"},
  };
  wsx__es_parser_cbs cb = {on_ev, NULL, NULL};
  wsx__es_parser p;
  wsx__es_parser_init(&p, NULL, 0, &cb, NULL);
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    wsx__buf b = {0};
    rt[0] = 0;
    CHECK_INT(wsx__es_format_event(&b, A, v[i].data, strlen(v[i].data), v[i].ev,
                                   v[i].id),
              0);
    CHECK_INT(wsx__es_parser_feed(&p, b.data, b.len), 0);
    CHECK_STR(rt, v[i].want);
    wsx__buf_free(&b, A);
  }
  wsx__es_parser_free(&p);
}

TEST_MAIN(wsx__alloc_init(&A_, NULL); RUN(format_vectors); RUN(retry_line);
          RUN(accept_header); RUN(query_last_id); RUN(round_trip))
