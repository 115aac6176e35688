/* WHATWG event-stream parser: spec examples and edge cases, each fed whole,
 * byte by byte and at random splits; chunked decoding likewise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es/es.h"
#include "test.h"

/* Events rendered as "type|data|id;" and retries as "R<ms>;". */
typedef struct log {
  char s[4096];
  size_t n;
} log_t;

static void put(log_t *l, const char *p, size_t n) {
  if (l->n + n < sizeof(l->s)) {
    memcpy(l->s + l->n, p, n);
    l->n += n;
    l->s[l->n] = 0;
  }
}

static void on_ev(void *ud, const char *type, const char *data, size_t len,
                  const char *id) {
  log_t *l = ud;
  put(l, type, strlen(type));
  put(l, "|", 1);
  put(l, data, len);
  put(l, "|", 1);
  put(l, id, strlen(id));
  put(l, ";", 1);
}

static void on_retry(void *ud, uint32_t ms) {
  char b[32];
  int n = snprintf(b, sizeof(b), "R%u;", (unsigned)ms);
  put(ud, b, (size_t)n);
}

static void on_comment(void *ud, const char *t, size_t n) {
  put(ud, "C", 1);
  put(ud, t, n);
  put(ud, ";", 1);
}

static const wsx__es_parser_cbs CBS = {on_ev, on_retry, on_comment};

/* Feeds `in` in pieces: mode 0 whole, 1 byte by byte, 2 random. */
static int run(const char *in, size_t len, int mode, size_t max, log_t *l,
               unsigned seed) {
  wsx__es_parser p;
  size_t i = 0;
  int rc = 0;
  memset(l, 0, sizeof(*l));
  wsx__es_parser_init(&p, NULL, max, &CBS, l);
  srand(seed);
  while (i < len && rc == 0) {
    size_t k = mode == 0 ? len - i : mode == 1 ? 1 : 1 + (size_t)rand() % 7;
    if (k > len - i)
      k = len - i;
    /* A private copy so any over-read shows up under ASan. */
    uint8_t *c = malloc(k);
    memcpy(c, in + i, k);
    rc = wsx__es_parser_feed(&p, c, k);
    free(c);
    i += k;
  }
  wsx__es_parser_free(&p);
  return rc;
}

static void expect(const char *in, size_t len, const char *want) {
  log_t l;
  for (int mode = 0; mode < 3; mode++) {
    for (unsigned seed = 1; seed <= (mode == 2 ? 20u : 1u); seed++) {
      int rc = run(in, len, mode, 0, &l, seed);
      CHECK_INT(rc, 0);
      if (strcmp(l.s, want) != 0) {
        TEST_FAILF_("mode %d seed %u: got \"%s\", want \"%s\"", mode, seed, l.s,
                    want);
        return;
      }
    }
  }
}
#define EXPECT(in, want) expect(in, sizeof(in) - 1, want)

TEST(spec_stock_example) {
  EXPECT("data: YHOO\ndata: +2\ndata: 10\n\n", "message|YHOO\n+2\n10|;");
}

TEST(spec_comment_and_id_example) {
  EXPECT(": test stream\n\ndata: first event\nid: 1\n\n"
         "data:second event\nid\n\ndata:  third event\n",
         "C test stream;message|first event|1;message|second event|;");
}

TEST(spec_empty_data_example) {
  /* "data" alone and "data\ndata" give "" and "\n"; the last block has no
   * blank line so nothing is dispatched. */
  EXPECT("data\n\ndata\ndata\n\ndata:", "message||;message|\n|;");
}

TEST(spec_space_example) {
  EXPECT("data:test\n\ndata: test\n\n", "message|test|;message|test|;");
}

TEST(line_endings) {
  EXPECT("data: a\r\ndata: b\rdata: c\n\r\n", "message|a\nb\nc|;");
  EXPECT("data: x\r\r", "message|x|;");
  EXPECT("data: x\r\n\r\n", "message|x|;");
}

TEST(bom) {
  EXPECT("\xEF\xBB\xBF"
         "data: a\n\n",
         "message|a|;");
  /* Only one BOM, only at the start. */
  EXPECT("\xEF\xBB\xBF\xEF\xBB\xBF"
         "data: a\n\n",
         "");
  /* A partial BOM is content (a field named "\xEF\xBB" is ignored). */
  EXPECT("\xEF\xBB"
         "data: a\n\ndata: b\n\n",
         "message|b|;");
  /* ... and is replayed exactly once, whatever the split: a first line of
   * 2 + 8 bytes fits a 10-byte limit (the whole-input path once replayed
   * the two bytes twice, making it 12). */
  {
    static const char in[] = "\xEF\xBB"
                             "12345678\ndata: c\n\n";
    for (int mode = 0; mode < 3; mode++) {
      log_t l;
      CHECK_INT(run(in, sizeof(in) - 1, mode, 10, &l, 5), 0);
    }
  }
}

TEST(event_type_and_id) {
  EXPECT("event: add\ndata: 1\nid: 7\n\ndata: 2\n\n", "add|1|7;message|2|7;");
  /* An id with NUL is ignored; an empty id resets. */
  EXPECT("id: 5\n\nid: a\0b\ndata: x\n\nid\ndata: y\n\n",
         "message|x|5;message|y|;");
  /* event type does not persist. */
  EXPECT("event: e\n\ndata: z\n\n", "message|z|;");
}

TEST(retry_field) {
  EXPECT("retry: 1500\n\nretry: 1.5\nretry: x\nretry:\nretry: 20\n",
         "R1500;R20;");
  EXPECT("retry: 99999999999999999999\n", "R4294967295;");
}

TEST(unknown_fields_and_colons) {
  EXPECT("foo: bar\ndata:a:b\nDATA: no\n\n", "message|a:b|;");
  EXPECT("data\n\n:\n\n", "message||;C;");
}

TEST(limits) {
  log_t l;
  char big[200];
  memset(big, 'x', sizeof(big));
  memcpy(big, "data: ", 6);
  for (int mode = 0; mode < 3; mode++) {
    CHECK_INT(run(big, sizeof(big), mode, 100, &l, 3), WSX_E_TOO_BIG);
  }
  /* Many short data lines: the data buffer limit applies too. */
  {
    char in[600];
    size_t n = 0;
    while (n + 8 < sizeof(in)) {
      memcpy(in + n, "data: 12\n", 9);
      n += 9;
    }
    CHECK_INT(run(in, n, 0, 100, &l, 1), WSX_E_TOO_BIG);
    CHECK_INT(run(in, n, 0, 0, &l, 1), 0);
  }
}

TEST(utf8_decoding) {
  /* Valid multi-byte text passes; invalid sequences become U+FFFD, one per
   * maximal subpart (WHATWG "decode"). */
  EXPECT("data: h\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\n\n",
         "message|h\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80|;");
  EXPECT("data: a\xFF"
         "b\xC3\n\n",
         "message|a\xEF\xBF\xBD"
         "b\xEF\xBF\xBD|;");
  EXPECT("data: \xE2\x82x\xED\xA0\x80\n\n",
         "message|\xEF\xBF\xBDx\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|;");
  EXPECT("event: \xC0\xAF\ndata: 1\nid: \xF4\x90\n\n",
         "\xEF\xBF\xBD\xEF\xBF\xBD|1|\xEF\xBF\xBD\xEF\xBF\xBD;");
}

TEST(restart_keeps_last_id) {
  wsx__es_parser p;
  log_t l;
  memset(&l, 0, sizeof(l));
  wsx__es_parser_init(&p, NULL, 0, &CBS, &l);
  CHECK_INT(wsx__es_parser_feed(
                &p, (const uint8_t *)"id: 3\ndata: a\n\ndata: par", 25),
            0);
  CHECK_STR(wsx__es_parser_last_id(&p), "3");
  wsx__es_parser_restart(&p);
  CHECK_INT(wsx__es_parser_feed(&p,
                                (const uint8_t *)"\xEF\xBB\xBF"
                                                 "data: b\n\n",
                                12),
            0);
  CHECK_STR(l.s, "message|a|3;message|b|3;");
  CHECK_INT(wsx__es_parser_set_last_id(&p, "zz"), 0);
  CHECK_STR(wsx__es_parser_last_id(&p), "zz");
  wsx__es_parser_free(&p);
}

static void chunk_expect(const char *in, size_t len, const char *want,
                         int want_done) {
  for (int mode = 0; mode < 3; mode++) {
    wsx__chunked c;
    char out[512];
    size_t on = 0, i = 0;
    int done = 0;
    memset(&c, 0, sizeof(c));
    srand(7);
    while (i < len) {
      size_t k = mode == 0 ? len - i : mode == 1 ? 1 : 1 + (size_t)rand() % 5;
      uint8_t tmp[64];
      long r;
      if (k > len - i)
        k = len - i;
      if (k > sizeof(tmp))
        k = sizeof(tmp);
      memcpy(tmp, in + i, k);
      r = wsx__chunked_decode(&c, tmp, k, &done);
      if (r < 0) {
        CHECK_STR("error", want);
        return;
      }
      memcpy(out + on, tmp, (size_t)r);
      on += (size_t)r;
      i += k;
    }
    out[on] = 0;
    CHECK_STR(out, want);
    CHECK_INT(done, want_done);
  }
}
#define CHUNKS(in, want, done) chunk_expect(in, sizeof(in) - 1, want, done)

TEST(chunked) {
  CHUNKS("5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n",
         "hello 0123456789", 1);
  CHUNKS("3\r\nabc\r\n", "abc", 0);
  CHUNKS("0\r\nX-Trailer: 1\r\n\r\n", "", 1);
  CHUNKS("zz\r\n", "error", 0);
  CHUNKS("3\r\nabcd\r\n", "error", 0);
  CHUNKS("\r\n", "error", 0);
  CHUNKS("1000000000000000\r\n", "error", 0);
}

TEST_MAIN(RUN(spec_stock_example); RUN(spec_comment_and_id_example);
          RUN(spec_empty_data_example); RUN(spec_space_example);
          RUN(line_endings); RUN(bom); RUN(event_type_and_id); RUN(retry_field);
          RUN(unknown_fields_and_colons); RUN(limits); RUN(utf8_decoding);
          RUN(restart_keeps_last_id); RUN(chunked))
