/*
 * permessage-deflate (src/ext/deflate.c) driven directly through its
 * wsx_extension_type function table, without the driver: RFC 7692 vectors,
 * the negotiation matrix, window sizes and context modes, bombs, chunking,
 * allocator accounting and the memory figures of docs/deflate-memory.md.
 * Only public symbols are used (ext_int.h gives the strbuf layout), so the
 * test links against the shared library too.
 */
#include "../helpers/count_alloc.h"
#include "../test.h"

#include "ext/ext_int.h"
#include "wsx/driver.h"
#include "wsx/extension.h"

#include <zlib.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

/* ---- allocators --------------------------------------------------------- */

static void *libc_malloc(size_t n, void *ud) {
  (void)ud;
  return malloc(n ? n : 1);
}
static void *libc_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return realloc(p, n ? n : 1);
}
static void libc_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static const wsx_allocator libc_alloc = {libc_malloc, libc_realloc, libc_free,
                                         NULL};

/* ---- sink --------------------------------------------------------------- */

typedef struct outbuf {
  wsx_ext_sink sink; /* first: the sink pointer is the outbuf */
  uint8_t *data;
  size_t len, cap;
  size_t limit;   /* 0 = none */
  int count_only; /* count bytes, do not store them */
  size_t total;   /* bytes written (also when count_only) */
  size_t writes, max_piece;
  int fail; /* return this from write (0 = succeed) */
} outbuf;

static int out_write(wsx_ext_sink *s, const void *d, size_t n) {
  outbuf *o = (outbuf *)(void *)s;
  if (o->fail)
    return o->fail;
  if (o->limit && n > o->limit - o->total)
    return WSX_E_MESSAGE_TOO_BIG;
  o->writes++;
  if (n > o->max_piece)
    o->max_piece = n;
  o->total += n;
  if (o->count_only)
    return WSX_OK;
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + n)
      cap *= 2;
    uint8_t *p = realloc(o->data, cap);
    if (!p)
      return WSX_E_NOMEM;
    o->data = p;
    o->cap = cap;
  }
  memcpy(o->data + o->len, d, n);
  o->len += n;
  return WSX_OK;
}

static void out_init(outbuf *o) {
  memset(o, 0, sizeof *o);
  o->sink.write = out_write;
}
static void out_reset(outbuf *o) { o->len = o->total = o->writes = 0; }
static void out_free(outbuf *o) { free(o->data); }

/* ---- negotiation -------------------------------------------------------- */

static const wsx_extension_type *T; /* the permessage-deflate table */

typedef struct pair {
  wsx_extension *cext, *sext;
  void *cs, *ss;      /* client / server sessions */
  char offer[512];    /* Sec-WebSocket-Extensions the client sent */
  char response[512]; /* and the server's answer ("" if declined) */
  int accept_rc, activate_rc;
} pair;

static void take_str(wsx_ext_strbuf *sb, char *dst, size_t cap) {
  size_t n = sb->buf.len < cap - 1 ? sb->buf.len : cap - 1;
  if (n)
    memcpy(dst, sb->buf.data, n);
  dst[n] = '\0';
  free(sb->buf.data);
  memset(&sb->buf, 0, sizeof sb->buf);
}

/* Server side of the handshake for a raw header value. */
static int accept_header(wsx_extension *sext, const char *header, char *resp,
                         size_t cap, const wsx_allocator *alloc,
                         void **session) {
  wsx_extension_offers offs;
  const char *err;
  *session = NULL;
  resp[0] = '\0';
  int rc =
      wsx_extension_offers_parse(header, strlen(header), 0, NULL, &offs, &err);
  if (rc)
    return rc;
  wsx_extension_offer mine[64];
  size_t n = 0;
  for (size_t i = 0; i < offs.num_offers; i++)
    if (offs.offers[i].name_len == 18 &&
        !memcmp(offs.offers[i].name, "permessage-deflate", 18))
      mine[n++] = offs.offers[i];
  wsx_ext_strbuf sb = {{NULL, 0, 0}, &libc_alloc};
  rc = n ? T->server_accept(sext->config, mine, n, &sb, alloc, session) : 1;
  take_str(&sb, resp, cap);
  wsx_extension_offers_free(&offs);
  return rc;
}

/* Client side: validate a raw response header value. */
static int activate_header(wsx_extension *cext, const char *resp,
                           const wsx_allocator *alloc, void **session) {
  wsx_extension_offers offs;
  const char *err;
  *session = NULL;
  int rc = wsx_extension_offers_parse(resp, strlen(resp), 0, NULL, &offs, &err);
  if (rc)
    return rc;
  if (offs.num_offers != 1) {
    wsx_extension_offers_free(&offs);
    return WSX_E_EXTENSION;
  }
  rc = T->client_activate(cext->config, &offs.offers[0], alloc, session);
  wsx_extension_offers_free(&offs);
  return rc;
}

static int negotiate_with(const wsx_deflate_options *co,
                          const wsx_deflate_options *so,
                          const wsx_allocator *salloc, pair *p) {
  memset(p, 0, sizeof *p);
  p->cext = wsx_deflate_new(co);
  p->sext = wsx_deflate_new(so);
  if (!p->cext || !p->sext)
    return -1;
  wsx_ext_strbuf sb = {{NULL, 0, 0}, &libc_alloc};
  if (T->client_offer(p->cext->config, &sb))
    return -1;
  take_str(&sb, p->offer, sizeof p->offer);
  p->accept_rc = accept_header(p->sext, p->offer, p->response,
                               sizeof p->response, salloc, &p->ss);
  if (p->accept_rc)
    return p->accept_rc;
  p->activate_rc = activate_header(p->cext, p->response, NULL, &p->cs);
  return p->activate_rc;
}

static int negotiate(const wsx_deflate_options *co,
                     const wsx_deflate_options *so, pair *p) {
  return negotiate_with(co, so, NULL, p);
}

static void pair_free(pair *p) {
  if (p->cs)
    T->session_free(p->cs);
  if (p->ss)
    T->session_free(p->ss);
  wsx_deflate_free(p->cext);
  wsx_deflate_free(p->sext);
  memset(p, 0, sizeof *p);
}

/* ---- message helpers ---------------------------------------------------- */

/* Compressible text: words from a small vocabulary, so repeats occur at
 * every distance. */
static uint8_t *make_text(size_t len, uint64_t seed) {
  static const char *words[] = {"alpha",  "beta",     "gamma",     "delta",
                                "eps",    "{\"id\":", "\"name\":", "zeta",
                                "eta",    "theta",    "iota",      "kappa",
                                "lambda", "mu"};
  uint8_t *m = malloc(len ? len : 1);
  uint64_t s = seed * 2654435761u + 1;
  size_t i = 0;
  while (i < len) {
    const char *w = words[test_rand_(&s) % (sizeof words / sizeof words[0])];
    for (size_t k = 0; w[k] && i < len; k++)
      m[i++] = (uint8_t)w[k];
    if (i < len)
      m[i++] =
          (test_rand_(&s) & 7) ? ' ' : (uint8_t)('0' + test_rand_(&s) % 10);
  }
  return m;
}

enum { FEED_WHOLE, FEED_BYTES, FEED_RANDOM, FEED_256 };

/* Feeds a message payload to process_incoming in chunks. */
static int feed(void *session, unsigned rsv_in, const uint8_t *wire, size_t len,
                int mode, uint64_t *rng, outbuf *out, unsigned *rsv_out) {
  size_t pos = 0;
  unsigned rsv = rsv_in;
  do {
    size_t n = len - pos;
    if (mode == FEED_BYTES && n > 1)
      n = 1;
    else if (mode == FEED_RANDOM && n > 0)
      n = 1 + (size_t)(test_rand_(rng) % (n < 4096 ? n : 4096));
    else if (mode == FEED_256 && n > 256)
      n = 256;
    unsigned flags =
        (pos == 0 ? WSX_EXT_FIRST : 0) | (pos + n == len ? WSX_EXT_LAST : 0);
    int rc = T->process_incoming(session, WSX_OP_TEXT, &rsv, wire + pos, n,
                                 flags, &out->sink);
    if (rc)
      return rc;
    pos += n;
  } while (pos < len);
  if (rsv_out)
    *rsv_out = rsv;
  return WSX_OK;
}

/* Sends msg from `from` to `to`; checks the result equals msg. */
static int roundtrip(void *from, void *to, const uint8_t *msg, size_t len,
                     int mode, uint64_t *rng, size_t *wire_len) {
  outbuf wire, got;
  out_init(&wire);
  out_init(&got);
  unsigned rsv = 0, rsv_after = 0;
  int rc = T->process_outgoing(from, WSX_OP_BINARY, &rsv, msg, len,
                               WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink);
  if (!rc)
    rc = feed(to, rsv, wire.data, wire.len, mode, rng, &got, &rsv_after);
  if (!rc && (rsv != WSX_RSV1 || rsv_after != 0))
    rc = -1;
  if (!rc && (got.len != len || (len && memcmp(got.data, msg, len))))
    rc = -2;
  if (wire_len)
    *wire_len = wire.len;
  out_free(&wire);
  out_free(&got);
  return rc;
}

static int hex_eq(const uint8_t *p, size_t n, const char *hex) {
  size_t hl = strlen(hex) / 2;
  if (hl != n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1 || v != p[i])
      return 0;
  }
  return 1;
}

static size_t unhex(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v = 0;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  return n;
}

/* Inflates one RFC example payload (hex) on `session`; returns the text. */
static int inflate_hex(void *session, const char *hex, outbuf *got) {
  uint8_t buf[64];
  size_t n = unhex(hex, buf);
  out_reset(got);
  return feed(session, WSX_RSV1, buf, n, FEED_WHOLE, NULL, got, NULL);
}

static int got_is(const outbuf *o, const char *s) {
  return o->len == strlen(s) && memcmp(o->data, s, o->len) == 0;
}

/* ---- RFC 7692 7.2.3 examples ------------------------------------------- */

TEST(rfc_hello) {
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  outbuf wire, got;
  out_init(&wire);
  out_init(&got);
  unsigned rsv = 0;
  REQUIRE(T->process_outgoing(p.ss, WSX_OP_TEXT, &rsv, (const uint8_t *)"Hello",
                              5, WSX_EXT_FIRST | WSX_EXT_LAST,
                              &wire.sink) == 0);
  CHECK(hex_eq(wire.data, wire.len, "f248cdc9c90700"));
  CHECK_INT(rsv, WSX_RSV1);
  /* The frame as the driver would write it: FIN|RSV1|text, length 7. */
  uint8_t frame[16] = {(uint8_t)(0x80 | rsv | WSX_OP_TEXT), (uint8_t)wire.len};
  memcpy(frame + 2, wire.data, wire.len);
  CHECK(hex_eq(frame, wire.len + 2, "c107f248cdc9c90700"));
  CHECK_INT(inflate_hex(p.cs, "f248cdc9c90700", &got), 0);
  CHECK(got_is(&got, "Hello"));
  out_free(&wire);
  out_free(&got);
  pair_free(&p);
}

/* 7.2.3.2: the second "Hello" refers back to the first. */
TEST(rfc_shared_window) {
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  outbuf wire, got;
  out_init(&wire);
  out_init(&got);
  for (int i = 0; i < 2; i++) {
    unsigned rsv = 0;
    out_reset(&wire);
    REQUIRE(T->process_outgoing(p.ss, WSX_OP_TEXT, &rsv,
                                (const uint8_t *)"Hello", 5,
                                WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
    CHECK(hex_eq(wire.data, wire.len, i ? "f200110000" : "f248cdc9c90700"));
  }
  CHECK_INT(inflate_hex(p.cs, "f248cdc9c90700", &got), 0);
  CHECK(got_is(&got, "Hello"));
  CHECK_INT(inflate_hex(p.cs, "f200110000", &got), 0);
  CHECK(got_is(&got, "Hello"));
  out_free(&wire);
  out_free(&got);
  pair_free(&p);
}

/* 7.2.3.2 without takeover: both messages compress the same way. */
TEST(rfc_no_context_takeover) {
  wsx_deflate_options so = WSX_DEFLATE_OPTIONS_INIT;
  so.server_no_context_takeover = 1;
  pair p;
  REQUIRE(negotiate(NULL, &so, &p) == WSX_OK);
  CHECK_STR(p.response, "permessage-deflate; server_no_context_takeover");
  outbuf wire, got;
  out_init(&wire);
  out_init(&got);
  for (int i = 0; i < 3; i++) {
    unsigned rsv = 0;
    out_reset(&wire);
    REQUIRE(T->process_outgoing(p.ss, WSX_OP_TEXT, &rsv,
                                (const uint8_t *)"Hello", 5,
                                WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
    CHECK(hex_eq(wire.data, wire.len, "f248cdc9c90700"));
    out_reset(&got);
    CHECK_INT(
        feed(p.cs, WSX_RSV1, wire.data, wire.len, FEED_WHOLE, NULL, &got, NULL),
        0);
    CHECK(got_is(&got, "Hello"));
  }
  out_free(&wire);
  out_free(&got);
  pair_free(&p);
}

/* 7.2.3.3: a stored (uncompressed) block, as a whole frame. */
TEST(rfc_stored_block) {
  uint8_t frame[32];
  size_t n = unhex("c10b000500faff48656c6c6f00", frame);
  REQUIRE(n == 13);
  CHECK_INT(frame[0], 0xc1);
  CHECK_INT(frame[1] & 0x7f, n - 2);
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  outbuf got;
  out_init(&got);
  unsigned rsv = frame[0] & 0x70u;
  CHECK_INT(feed(p.ss, rsv, frame + 2, n - 2, FEED_BYTES, NULL, &got, &rsv), 0);
  CHECK(got_is(&got, "Hello"));
  CHECK_INT(rsv, 0);
  out_free(&got);
  pair_free(&p);
}

/* 7.2.3.4 (BFINAL set), 7.2.3.5 (two blocks), 7.2.3.6 (empty). */
TEST(rfc_other_examples) {
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  outbuf got;
  out_init(&got);
  CHECK_INT(inflate_hex(p.cs, "f348cdc9c90700", &got), 0);
  CHECK(got_is(&got, "Hello"));
  CHECK_INT(inflate_hex(p.cs, "f348cdc9c9070000", &got), 0);
  CHECK(got_is(&got, "Hello"));
  CHECK_INT(inflate_hex(p.cs, "f348cdc9c90700", &got), 0);
  CHECK(got_is(&got, "Hello"));
  /* After a final block the next message starts a fresh stream. */
  CHECK_INT(inflate_hex(p.cs, "f248cdc9c90700", &got), 0);
  CHECK(got_is(&got, "Hello"));
  CHECK_INT(inflate_hex(p.cs, "f24805000000ffffcac9c90700", &got), 0);
  CHECK(got_is(&got, "Hello"));
  CHECK_INT(inflate_hex(p.cs, "00", &got), 0);
  CHECK_INT(got.len, 0);
  /* And we send an empty message as the single byte 00. */
  outbuf wire;
  out_init(&wire);
  unsigned rsv = 0;
  CHECK_INT(T->process_outgoing(p.ss, WSX_OP_TEXT, &rsv, NULL, 0,
                                WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink),
            0);
  CHECK(hex_eq(wire.data, wire.len, "00"));
  CHECK_INT(rsv, WSX_RSV1);
  out_free(&wire);
  out_free(&got);
  pair_free(&p);
}

/* ---- negotiation -------------------------------------------------------- */

TEST(negotiation_strings) {
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  CHECK_STR(p.offer, "permessage-deflate; client_max_window_bits");
  CHECK_STR(p.response, "permessage-deflate");
  pair_free(&p);

  wsx_deflate_options co = WSX_DEFLATE_OPTIONS_INIT;
  co.server_no_context_takeover = co.client_no_context_takeover = 1;
  co.server_max_window_bits = 10;
  co.client_max_window_bits = 12;
  REQUIRE(negotiate(&co, NULL, &p) == WSX_OK);
  CHECK_STR(p.offer, "permessage-deflate; server_no_context_takeover; "
                     "client_no_context_takeover; server_max_window_bits=10; "
                     "client_max_window_bits=12");
  CHECK_STR(p.response, "permessage-deflate; server_no_context_takeover; "
                        "client_no_context_takeover; "
                        "server_max_window_bits=10; client_max_window_bits=12");
  pair_free(&p);

  wsx_deflate_options so = WSX_DEFLATE_OPTIONS_INIT;
  so.server_max_window_bits = 9;
  so.client_max_window_bits = 11;
  so.server_no_context_takeover = 1;
  REQUIRE(negotiate(NULL, &so, &p) == WSX_OK);
  CHECK_STR(p.response, "permessage-deflate; server_no_context_takeover; "
                        "server_max_window_bits=9; client_max_window_bits=11");
  pair_free(&p);
}

/* What the server must answer, computed from RFC 7692 7.1 independently of
 * the implementation's code path. */
static void expected_response(const wsx_deflate_options *c,
                              const wsx_deflate_options *s, char *out,
                              size_t cap) {
  int cs = c->server_max_window_bits ? c->server_max_window_bits : 15;
  int cc = c->client_max_window_bits ? c->client_max_window_bits : 15;
  int ss = s->server_max_window_bits ? s->server_max_window_bits : 15;
  int sc = s->client_max_window_bits ? s->client_max_window_bits : 15;
  size_t n = (size_t)snprintf(out, cap, "permessage-deflate");
  if (c->server_no_context_takeover || s->server_no_context_takeover)
    n += (size_t)snprintf(out + n, cap - n, "; server_no_context_takeover");
  if (c->client_no_context_takeover || s->client_no_context_takeover)
    n += (size_t)snprintf(out + n, cap - n, "; client_no_context_takeover");
  if (cs < 15 || ss < 15)
    n += (size_t)snprintf(out + n, cap - n, "; server_max_window_bits=%d",
                          cs < ss ? cs : ss);
  if (cc < 15 || sc < 15)
    snprintf(out + n, cap - n, "; client_max_window_bits=%d",
             cc < sc ? cc : sc);
}

static void opts_from_index(int i, wsx_deflate_options *o) {
  static const int sbits[] = {0, 8, 12};
  static const int cbits[] = {0, 8, 11};
  *o = (wsx_deflate_options)WSX_DEFLATE_OPTIONS_INIT;
  o->server_no_context_takeover = i & 1;
  o->client_no_context_takeover = (i >> 1) & 1;
  o->server_max_window_bits = sbits[(i >> 2) % 3];
  o->client_max_window_bits = cbits[(i >> 2) / 3];
}

/* Every client configuration against every server configuration: the
 * response is what RFC 7692 7.1 says, and messages survive both ways over
 * several messages (so context takeover is exercised). */
TEST(negotiation_matrix) {
  uint64_t rng = 42;
  int pairs = 0;
  for (int ci = 0; ci < 36; ci++) {
    for (int si = 0; si < 36; si++) {
      wsx_deflate_options co, so;
      opts_from_index(ci, &co);
      opts_from_index(si, &so);
      pair p;
      int rc = negotiate(&co, &so, &p);
      if (rc) {
        TEST_FAILF_("client %d server %d: rc %d (offer \"%s\")", ci, si, rc,
                    p.offer);
        pair_free(&p);
        return;
      }
      char want[256];
      expected_response(&co, &so, want, sizeof want);
      if (strcmp(want, p.response))
        TEST_FAILF_("client %d server %d: response \"%s\", expected \"%s\"", ci,
                    si, p.response, want);
      static const size_t sizes[] = {0, 1, 100, 3000, 100, 3000};
      for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint8_t *m = make_text(sizes[k], (uint64_t)k % 2);
        int a = roundtrip(p.cs, p.ss, m, sizes[k], FEED_RANDOM, &rng, NULL);
        int b = roundtrip(p.ss, p.cs, m, sizes[k], FEED_256, &rng, NULL);
        if (a || b)
          TEST_FAILF_("client %d server %d size %zu: %d %d", ci, si, sizes[k],
                      a, b);
        free(m);
      }
      pair_free(&p);
      pairs++;
    }
  }
  CHECK_INT(pairs, 36 * 36);
}

/* Every window size and context mode with big messages, both directions. */
TEST(window_sizes_and_contexts) {
  static const size_t sizes[] = {0, 1, 100, 64 * KIB, 1 * MIB, 100};
  uint8_t *big = make_text(1 * MIB, 7);
  uint64_t rng = 7;
  for (int bits = 8; bits <= 15; bits++) {
    for (int nct = 0; nct < 2; nct++) {
      wsx_deflate_options co = WSX_DEFLATE_OPTIONS_INIT;
      co.server_max_window_bits = co.client_max_window_bits = bits;
      co.server_no_context_takeover = co.client_no_context_takeover = nct;
      pair p;
      REQUIRE(negotiate(&co, NULL, &p) == WSX_OK);
      for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int mode = (int)(k % 2) ? FEED_256 : FEED_RANDOM;
        size_t wl = 0;
        int a = roundtrip(p.cs, p.ss, big, sizes[k], mode, &rng, &wl);
        int b = roundtrip(p.ss, p.cs, big, sizes[k], mode, &rng, NULL);
        if (a || b)
          TEST_FAILF_("bits %d nct %d size %zu: %d %d", bits, nct, sizes[k], a,
                      b);
        if (sizes[k] == 1 * MIB && wl > MIB / 2)
          TEST_FAILF_("bits %d: 1 MiB of text compressed to %zu", bits, wl);
      }
      pair_free(&p);
    }
  }
  free(big);
}

/* Inflates raw deflate data with a true 256-byte window, one output byte
 * per call so that zlib checks every distance against what it holds. */
static int strict_inflate_256(const uint8_t *in, size_t len, uint8_t *out,
                              size_t cap, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, -8) != Z_OK)
    return -100;
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)len;
  size_t n = 0;
  int rc = Z_OK;
  while (z.avail_in && n < cap) {
    z.next_out = out + n;
    z.avail_out = 1;
    rc = inflate(&z, Z_NO_FLUSH);
    n += 1 - z.avail_out;
    if (rc != Z_OK)
      break;
  }
  inflateEnd(&z);
  *out_len = n;
  return rc == Z_OK || rc == Z_BUF_ERROR ? 0 : rc;
}

/* We promise 256-byte windows while zlib compresses with 9 bits: check the
 * output really fits a 256-byte window, with context takeover, and that the
 * check is able to fail. */
TEST(window_8_fits_256_bytes) {
  wsx_deflate_options co = WSX_DEFLATE_OPTIONS_INIT;
  co.client_max_window_bits = 8;
  pair p;
  REQUIRE(negotiate(&co, NULL, &p) == WSX_OK);
  outbuf wire;
  out_init(&wire);
  size_t total = 0;
  uint8_t *all = malloc(2 * MIB);
  uint64_t rng = 99;
  for (int i = 0; i < 200; i++) {
    size_t len = 50 + (size_t)(test_rand_(&rng) % 3000);
    uint8_t *m = make_text(len, (uint64_t)i);
    if (i % 3 == 0) /* exact repeats at long distance, too */
      memcpy(m + len / 2, m, len / 2);
    unsigned rsv = 0;
    REQUIRE(T->process_outgoing(p.cs, WSX_OP_TEXT, &rsv, m, len,
                                WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
    out_write(&wire.sink, "\x00\x00\xff\xff", 4);
    memcpy(all + total, m, len);
    total += len;
    free(m);
  }
  uint8_t *back = malloc(total);
  size_t n = 0;
  CHECK_INT(strict_inflate_256(wire.data, wire.len, back, total, &n), 0);
  CHECK_INT(n, total);
  CHECK(memcmp(back, all, total) == 0);
  pair_free(&p);

  /* Control: a 15-bit compressor's output does not fit. */
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  out_reset(&wire);
  uint8_t *m = make_text(4000, 3);
  memcpy(m + 2000, m, 2000);
  unsigned rsv = 0;
  REQUIRE(T->process_outgoing(p.cs, WSX_OP_TEXT, &rsv, m, 4000,
                              WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
  out_write(&wire.sink, "\x00\x00\xff\xff", 4);
  CHECK(strict_inflate_256(wire.data, wire.len, back, 4000, &n) != 0);
  free(m);
  free(back);
  free(all);
  out_free(&wire);
  pair_free(&p);
}

TEST(server_declines_invalid_offers) {
  static const char *bad[] = {
      "permessage-deflate; foo",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=08",
      "permessage-deflate; server_max_window_bits=x",
      "permessage-deflate; client_max_window_bits=7",
      "permessage-deflate; client_max_window_bits=\"16\"",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; client_no_context_takeover=\"x\"",
      ("permessage-deflate; server_no_context_takeover; "
       "server_no_context_takeover"),
      "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
      ("permessage-deflate; server_max_window_bits=9; "
       "server_max_window_bits=10"),
      "permessage-deflate; Server_No_Context_Takeover",
  };
  wsx_extension *sext = wsx_deflate_new(NULL);
  REQUIRE(sext);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char resp[256];
    void *s;
    int rc = accept_header(sext, bad[i], resp, sizeof resp, NULL, &s);
    if (rc != 1 || s != NULL || resp[0])
      TEST_FAILF_("\"%s\": rc %d, response \"%s\"", bad[i], rc, resp);
  }
  /* Fallback: the first acceptable offer wins. */
  char resp[256];
  void *s;
  CHECK_INT(accept_header(sext,
                          "permessage-deflate; server_max_window_bits=16, "
                          "x-other, permessage-deflate; client_max_window_bits"
                          "=10; server_max_window_bits=9, permessage-deflate",
                          resp, sizeof resp, NULL, &s),
            0);
  CHECK_STR(resp, "permessage-deflate; server_max_window_bits=9; "
                  "client_max_window_bits=10");
  T->session_free(s);
  wsx_deflate_free(sext);

  /* A server that must bound the client's window skips offers that do not
   * let it. */
  wsx_deflate_options so = WSX_DEFLATE_OPTIONS_INIT;
  so.client_max_window_bits = 10;
  sext = wsx_deflate_new(&so);
  CHECK_INT(
      accept_header(sext, "permessage-deflate", resp, sizeof resp, NULL, &s),
      1);
  CHECK_INT(accept_header(sext,
                          "permessage-deflate, permessage-deflate; "
                          "client_max_window_bits=12",
                          resp, sizeof resp, NULL, &s),
            0);
  CHECK_STR(resp, "permessage-deflate; client_max_window_bits=10");
  T->session_free(s);
  wsx_deflate_free(sext);
}

TEST(client_validates_response) {
  wsx_deflate_options co = WSX_DEFLATE_OPTIONS_INIT;
  co.server_no_context_takeover = 1;
  co.server_max_window_bits = 10;
  wsx_extension *cext = wsx_deflate_new(&co);
  wsx_extension *plain = wsx_deflate_new(NULL);
  REQUIRE(cext && plain);
  static const char *bad_any[] = {
      "permessage-deflate; foo",
      "permessage-deflate; client_max_window_bits",
      "permessage-deflate; client_max_window_bits=7",
      "permessage-deflate; client_max_window_bits=16",
      "permessage-deflate; server_max_window_bits",
      ("permessage-deflate; server_max_window_bits=8; "
       "server_max_window_bits=8"),
      "permessage-deflate; client_no_context_takeover=1",
      ("permessage-deflate; server_no_context_takeover; "
       "server_no_context_takeover"),
  };
  for (size_t i = 0; i < sizeof bad_any / sizeof bad_any[0]; i++) {
    void *s = (void *)1;
    int rc = activate_header(plain, bad_any[i], NULL, &s);
    if (rc != WSX_E_EXTENSION)
      TEST_FAILF_("plain client accepted \"%s\" (%d)", bad_any[i], rc);
  }
  /* We asked for server_no_context_takeover and server_max_window_bits=10. */
  static const char *bad_req[] = {
      "permessage-deflate; server_max_window_bits=10",
      "permessage-deflate; server_no_context_takeover",
      ("permessage-deflate; server_no_context_takeover; "
       "server_max_window_bits=11"),
  };
  for (size_t i = 0; i < sizeof bad_req / sizeof bad_req[0]; i++) {
    void *s;
    if (activate_header(cext, bad_req[i], NULL, &s) != WSX_E_EXTENSION)
      TEST_FAILF_("client accepted \"%s\"", bad_req[i]);
  }
  static const char *good[] = {
      ("permessage-deflate; server_no_context_takeover; "
       "server_max_window_bits=10"),
      ("permessage-deflate; server_no_context_takeover; "
       "server_max_window_bits=8; client_no_context_takeover; "
       "client_max_window_bits=9"),
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    void *s = NULL;
    if (activate_header(cext, good[i], NULL, &s) != WSX_OK)
      TEST_FAILF_("client refused \"%s\"", good[i]);
    T->session_free(s);
  }
  /* Unrequested but allowed: the server limits itself or asks us to reset. */
  void *s = NULL;
  CHECK_INT(activate_header(plain,
                            "permessage-deflate; server_max_window_bits=12; "
                            "client_no_context_takeover",
                            NULL, &s),
            WSX_OK);
  T->session_free(s);
  wsx_deflate_free(cext);
  wsx_deflate_free(plain);
}

TEST(bad_options) {
  wsx_deflate_options o = WSX_DEFLATE_OPTIONS_INIT;
  o.server_max_window_bits = 7;
  CHECK(wsx_deflate_new(&o) == NULL);
  o.server_max_window_bits = 16;
  CHECK(wsx_deflate_new(&o) == NULL);
  o = (wsx_deflate_options)WSX_DEFLATE_OPTIONS_INIT;
  o.client_max_window_bits = -1;
  CHECK(wsx_deflate_new(&o) == NULL);
  o = (wsx_deflate_options)WSX_DEFLATE_OPTIONS_INIT;
  o.level = 10;
  CHECK(wsx_deflate_new(&o) == NULL);
  o = (wsx_deflate_options)WSX_DEFLATE_OPTIONS_INIT;
  o.mem_level = 10;
  CHECK(wsx_deflate_new(&o) == NULL);
  wsx_extension *e = wsx_deflate_new(NULL);
  REQUIRE(e);
  CHECK_STR(e->type->name, "permessage-deflate");
  CHECK_INT(e->type->rsv_bits, WSX_RSV1);
  wsx_deflate_free(e);
  wsx_deflate_free(NULL);
}

/* ---- data path ---------------------------------------------------------- */

TEST(threshold_and_passthrough) {
  wsx_deflate_options so = WSX_DEFLATE_OPTIONS_INIT;
  so.threshold = 100;
  pair p;
  REQUIRE(negotiate(NULL, &so, &p) == WSX_OK);
  uint8_t *m = make_text(200, 1);
  outbuf wire, got;
  out_init(&wire);
  out_init(&got);
  unsigned rsv = 0;
  REQUIRE(T->process_outgoing(p.ss, WSX_OP_TEXT, &rsv, m, 99,
                              WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
  CHECK_INT(rsv, 0);
  CHECK_MEM(wire.data, wire.len, m, 99);
  /* An uncompressed incoming message passes through unchanged. */
  CHECK_INT(feed(p.cs, 0, wire.data, wire.len, FEED_RANDOM, &(uint64_t){1},
                 &got, &rsv),
            0);
  CHECK_MEM(got.data, got.len, m, 99);
  CHECK_INT(rsv, 0);
  out_reset(&wire);
  REQUIRE(T->process_outgoing(p.ss, WSX_OP_TEXT, &rsv, m, 100,
                              WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
  CHECK_INT(rsv, WSX_RSV1);
  /* Control frames are never compressed, nor inflated. */
  out_reset(&wire);
  rsv = 0;
  REQUIRE(T->process_outgoing(p.ss, WSX_OP_PING, &rsv, m, 120,
                              WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
  CHECK_INT(rsv, 0);
  CHECK_MEM(wire.data, wire.len, m, 120);
  /* The other RSV bits are left alone for other extensions. */
  out_reset(&got);
  rsv = WSX_RSV2;
  CHECK_INT(feed(p.cs, WSX_RSV2, m, 10, FEED_WHOLE, NULL, &got, &rsv), 0);
  CHECK_INT(rsv, WSX_RSV2);
  CHECK_MEM(got.data, got.len, m, 10);
  free(m);
  out_free(&wire);
  out_free(&got);
  pair_free(&p);
}

TEST(corrupt_data) {
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  outbuf got;
  out_init(&got);
  /* BTYPE 11 is reserved. */
  CHECK_INT(inflate_hex(p.cs, "ff", &got), WSX_E_EXTENSION);
  /* Sticky: the stream is unusable afterwards. */
  CHECK_INT(inflate_hex(p.cs, "f248cdc9c90700", &got), WSX_E_EXTENSION);
  /* A distance before the start of the stream. */
  CHECK_INT(inflate_hex(p.ss, "f200110000", &got), WSX_E_EXTENSION);
  out_free(&got);
  pair_free(&p);
  /* Stored block with bad LEN/NLEN. */
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  out_init(&got);
  CHECK_INT(inflate_hex(p.cs, "000500fbff48656c6c6f", &got), WSX_E_EXTENSION);
  out_free(&got);
  pair_free(&p);
}

TEST(sink_errors_stop_at_once) {
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  uint8_t *m = make_text(100 * KIB, 5);
  outbuf out;
  out_init(&out);
  out.fail = WSX_E_NOMEM;
  unsigned rsv = 0;
  CHECK_INT(T->process_outgoing(p.ss, WSX_OP_TEXT, &rsv, m, 100 * KIB,
                                WSX_EXT_FIRST | WSX_EXT_LAST, &out.sink),
            WSX_E_NOMEM);
  CHECK_INT(out.writes, 0);
  out.fail = 0;
  /* The compressor is in an unknown state now: refuse, do not corrupt. */
  CHECK_INT(T->process_outgoing(p.ss, WSX_OP_TEXT, &rsv, m, 10,
                                WSX_EXT_FIRST | WSX_EXT_LAST, &out.sink),
            WSX_E_EXTENSION);
  outbuf wire;
  out_init(&wire);
  REQUIRE(T->process_outgoing(p.cs, WSX_OP_TEXT, &rsv, m, 100 * KIB,
                              WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
  out.fail = WSX_E_MESSAGE_TOO_BIG;
  CHECK_INT(
      feed(p.ss, WSX_RSV1, wire.data, wire.len, FEED_WHOLE, NULL, &out, NULL),
      WSX_E_MESSAGE_TOO_BIG);
  CHECK_INT(out.writes, 0);
  free(m);
  out_free(&out);
  out_free(&wire);
  pair_free(&p);
}

/* The same compressed message in one piece, byte by byte and at random
 * splits gives identical output, written in pieces of at most 16 KiB. */
TEST(fragmented_input) {
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  size_t len = 300 * KIB;
  uint8_t *m = make_text(len, 11);
  outbuf wire;
  out_init(&wire);
  unsigned rsv = 0;
  REQUIRE(T->process_outgoing(p.cs, WSX_OP_TEXT, &rsv, m, len,
                              WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
  /* Three independent receivers (no shared context). */
  for (int mode = FEED_WHOLE; mode <= FEED_256; mode++) {
    pair q;
    REQUIRE(negotiate(NULL, NULL, &q) == WSX_OK);
    outbuf got;
    out_init(&got);
    uint64_t rng = (uint64_t)mode + 1;
    CHECK_INT(feed(q.ss, rsv, wire.data, wire.len, mode, &rng, &got, NULL), 0);
    CHECK_MEM(got.data, got.len, m, len);
    CHECK(got.max_piece <= 16 * KIB);
    out_free(&got);
    pair_free(&q);
  }
  free(m);
  out_free(&wire);
  pair_free(&p);
}

/* Behind another extension the message arrives in pieces and ends with an
 * empty LAST call (src/driver/extpipe.c): the result must not depend on the
 * split, and takeover must carry on to the next whole message. */
TEST(outgoing_in_pieces) {
  pair p;
  REQUIRE(negotiate(NULL, NULL, &p) == WSX_OK);
  size_t len = 200 * KIB;
  uint8_t *m = make_text(len, 21);
  uint64_t rng = 5;
  for (int round = 0; round < 3; round++) {
    outbuf wire, got;
    out_init(&wire);
    out_init(&got);
    unsigned rsv = 0;
    size_t pos = 0;
    unsigned flags = WSX_EXT_FIRST;
    while (pos < len) {
      size_t n = 1 + (size_t)(test_rand_(&rng) % (round ? 70000 : 300));
      if (n > len - pos)
        n = len - pos;
      REQUIRE(T->process_outgoing(p.cs, WSX_OP_TEXT, &rsv, m + pos, n, flags,
                                  &wire.sink) == 0);
      flags = 0;
      pos += n;
    }
    REQUIRE(T->process_outgoing(p.cs, WSX_OP_TEXT, &rsv, NULL, 0, WSX_EXT_LAST,
                                &wire.sink) == 0);
    CHECK_INT(rsv, WSX_RSV1);
    CHECK_INT(
        feed(p.ss, rsv, wire.data, wire.len, FEED_RANDOM, &rng, &got, NULL), 0);
    CHECK_MEM(got.data, got.len, m, len);
    out_free(&wire);
    out_free(&got);
    /* A whole message afterwards still shares the window. */
    CHECK_INT(roundtrip(p.cs, p.ss, m, 1000, FEED_WHOLE, &rng, NULL), 0);
  }
  /* An empty message in two empty pieces is the single byte 00. */
  outbuf wire;
  out_init(&wire);
  unsigned rsv = 0;
  REQUIRE(T->process_outgoing(p.cs, WSX_OP_TEXT, &rsv, NULL, 0, WSX_EXT_FIRST,
                              &wire.sink) == 0);
  REQUIRE(T->process_outgoing(p.cs, WSX_OP_TEXT, &rsv, NULL, 0, WSX_EXT_LAST,
                              &wire.sink) == 0);
  CHECK(hex_eq(wire.data, wire.len, "00"));
  CHECK_INT(rsv, WSX_RSV1);
  out_free(&wire);
  free(m);
  pair_free(&p);
}

/* ---- bombs -------------------------------------------------------------- */

/* Receives wire with a 1 MiB sink on a session whose memory is counted. */
TEST(bomb_zeros) {
  size_t len = 10 * MIB;
  uint8_t *zeros = calloc(1, len);
  REQUIRE(zeros);
  tc_counter c = {0};
  wsx_allocator ca = {tc_malloc, tc_realloc, tc_free, &c};
  pair p;
  REQUIRE(negotiate_with(NULL, NULL, &ca, &p) == WSX_OK);
  outbuf wire;
  out_init(&wire);
  unsigned rsv = 0;
  REQUIRE(T->process_outgoing(p.cs, WSX_OP_BINARY, &rsv, zeros, len,
                              WSX_EXT_FIRST | WSX_EXT_LAST, &wire.sink) == 0);
  CHECK(wire.len < 12 * KIB);
  outbuf got;
  out_init(&got);
  got.limit = 1 * MIB;
  size_t before = c.cur;
  c.peak = c.cur;
  CHECK_INT(feed(p.ss, rsv, wire.data, wire.len, FEED_256, NULL, &got, NULL),
            WSX_E_MESSAGE_TOO_BIG);
  CHECK(got.total <= 1 * MIB);
  CHECK(got.total > 1 * MIB - 16 * KIB);
  /* Inflate state plus a 32 KiB window, nothing proportional to output. */
  CHECK(c.peak - before < 48 * KIB);
  printf("# bomb: 10 MiB of zeros -> %zu bytes; stopped after %zu bytes of "
         "output; receiver peak %zu bytes\n",
         wire.len, got.total, c.peak - before);
  free(zeros);
  out_free(&wire);
  out_free(&got);
  pair_free(&p);
  CHECK_INT(c.cur, 0);
}

/* A message of 4096 frames of ~1 KiB, each inflating to 1 MiB: 4 GiB from
 * 4 MiB (and the first frames are the "few KiB"). The 1 MiB sink stops it
 * within the second frame. */
TEST(bomb_gigabytes) {
  z_stream z;
  memset(&z, 0, sizeof z);
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  uint8_t *zeros = calloc(1, MIB);
  uint8_t a[4096], b[4096];
  size_t na, nb;
  z.next_in = zeros;
  z.avail_in = MIB;
  z.next_out = a;
  z.avail_out = sizeof a;
  REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK && z.avail_in == 0);
  na = sizeof a - z.avail_out;
  z.next_in = zeros;
  z.avail_in = MIB;
  z.next_out = b;
  z.avail_out = sizeof b;
  REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK && z.avail_in == 0);
  nb = sizeof b - z.avail_out;
  deflateEnd(&z);
  free(zeros);

  tc_counter c = {0};
  wsx_allocator ca = {tc_malloc, tc_realloc, tc_free, &c};
  /* Without a limit, each repeated frame really is 1 MiB of output. */
  pair p;
  REQUIRE(negotiate_with(NULL, NULL, &ca, &p) == WSX_OK);
  outbuf got;
  out_init(&got);
  got.count_only = 1;
  unsigned rsv = WSX_RSV1;
  CHECK_INT(T->process_incoming(p.ss, WSX_OP_BINARY, &rsv, a, na, WSX_EXT_FIRST,
                                &got.sink),
            0);
  for (int i = 0; i < 15; i++)
    CHECK_INT(
        T->process_incoming(p.ss, WSX_OP_BINARY, &rsv, b, nb, 0, &got.sink), 0);
  CHECK_INT(got.total, 16 * (size_t)MIB);
  pair_free(&p);

  REQUIRE(negotiate_with(NULL, NULL, &ca, &p) == WSX_OK);
  out_init(&got);
  got.count_only = 1;
  got.limit = 1 * MIB;
  size_t before = c.cur;
  c.peak = c.cur;
  rsv = WSX_RSV1;
  int rc = T->process_incoming(p.ss, WSX_OP_BINARY, &rsv, a, na, WSX_EXT_FIRST,
                               &got.sink);
  int frames = 1;
  for (; rc == 0 && frames < 4096; frames++)
    rc = T->process_incoming(p.ss, WSX_OP_BINARY, &rsv, b, nb,
                             frames == 4095 ? WSX_EXT_LAST : 0, &got.sink);
  CHECK_INT(rc, WSX_E_MESSAGE_TOO_BIG);
  CHECK(frames <= 2);
  CHECK(got.total <= 1 * MIB);
  CHECK(c.peak - before < 48 * KIB);
  printf("# bomb: frames of %zu + %zu bytes (1 MiB each, 4 GiB in all) "
         "stopped at frame %d, output %zu bytes, receiver peak %zu bytes\n",
         na, nb, frames, got.total, c.peak - before);
  pair_free(&p);
  CHECK_INT(c.cur, 0);
}

/* ---- memory ------------------------------------------------------------- */

typedef struct mem_figures {
  size_t session; /* after negotiation, before any message */
  size_t steady;  /* after one message each way (streams live) */
  size_t peak;    /* during those messages */
  size_t idle;    /* zlib bytes between messages (steady - session) */
} mem_figures;

/* Server-side bytes per connection: everything the server session allocates
 * goes through the counting allocator (the driver's, handed to accept). */
static int measure(const wsx_deflate_options *so, mem_figures *f) {
  tc_counter c = {0};
  wsx_allocator ca = {tc_malloc, tc_realloc, tc_free, &c};
  pair p;
  if (negotiate_with(NULL, so, &ca, &p))
    return -1;
  f->session = c.cur;
  c.peak = c.cur;
  uint8_t *m = make_text(64 * KIB, 3);
  uint64_t rng = 1;
  int rc = roundtrip(p.cs, p.ss, m, 64 * KIB, FEED_WHOLE, &rng, NULL);
  rc |= roundtrip(p.ss, p.cs, m, 64 * KIB, FEED_WHOLE, &rng, NULL);
  rc |= roundtrip(p.cs, p.ss, m, 64 * KIB, FEED_256, &rng, NULL);
  f->steady = c.cur;
  f->peak = c.peak;
  f->idle = c.cur - f->session;
  free(m);
  pair_free(&p);
  return rc || c.cur != 0 ? -1 : 0;
}

TEST(memory_per_connection) {
  struct {
    const char *name;
    wsx_deflate_options o;
  } cfg[4];
  memset(cfg, 0, sizeof cfg);
  for (int i = 0; i < 4; i++)
    cfg[i].o = (wsx_deflate_options)WSX_DEFLATE_OPTIONS_INIT;
  cfg[0].name = "defaults (15/15, mem_level 8)";
  cfg[1].name = "window 9, mem_level 1";
  cfg[1].o.server_max_window_bits = cfg[1].o.client_max_window_bits = 9;
  cfg[1].o.mem_level = 1;
  cfg[2].name = "no context takeover + free_idle_streams (15/15, mem 8)";
  cfg[2].o.server_no_context_takeover = cfg[2].o.client_no_context_takeover = 1;
  cfg[2].o.free_idle_streams = 1;
  cfg[3].name = "window 9, mem_level 1, no context takeover + free_idle";
  cfg[3].o = cfg[1].o;
  cfg[3].o.server_no_context_takeover = cfg[3].o.client_no_context_takeover = 1;
  cfg[3].o.free_idle_streams = 1;
  mem_figures f[4];
  for (int i = 0; i < 4; i++) {
    REQUIRE(measure(&cfg[i].o, &f[i]) == 0);
    printf("# memory %-56s session %zu, steady %zu (zlib %zu), peak %zu\n",
           cfg[i].name, f[i].session, f[i].steady, f[i].idle, f[i].peak);
  }
  /* zlib's documented formulas: deflate (1 << (wbits+2)) + (1 << (mem+9)),
   * inflate 1 << wbits, plus state; these bounds catch a regression. */
  CHECK(f[0].steady > 256 * KIB && f[0].steady < 330 * KIB);
  CHECK(f[1].steady < 20 * KIB);
  CHECK_INT(f[2].idle, 0);
  CHECK_INT(f[3].idle, 0);
  CHECK(f[3].peak < 16 * KIB);
  CHECK(f[2].session < 512);
}

/* Every allocation, zlib's included, goes through the hooks, and failures
 * at any point are reported as WSX_E_NOMEM without leaks. */
TEST(allocator_hooks_and_failures) {
  tc_counter c = {0};
  wsx_allocator ca = {tc_malloc, tc_realloc, tc_free, &c};
  wsx_deflate_options o = WSX_DEFLATE_OPTIONS_INIT;
  o.allocator = &ca;
  uint8_t *m = make_text(10 * KIB, 2);
  int saw_nomem = 0, saw_ok = 0;
  for (long fail = 1; fail < 40; fail++) {
    memset(&c, 0, sizeof c);
    pair p;
    c.fail_at = fail;
    int rc = negotiate(&o, &o, &p);
    uint64_t rng = 1;
    if (rc == WSX_OK) {
      rc = roundtrip(p.cs, p.ss, m, 10 * KIB, FEED_WHOLE, &rng, NULL);
      if (rc == WSX_OK)
        rc = roundtrip(p.ss, p.cs, m, 10 * KIB, FEED_WHOLE, &rng, NULL);
    } else if (!p.cext || !p.sext) {
      rc = WSX_E_NOMEM;
    }
    if (rc == WSX_E_NOMEM)
      saw_nomem = 1;
    else if (rc == WSX_OK)
      saw_ok = 1;
    else
      TEST_FAILF_("failing allocation %ld gave %d", fail, rc);
    pair_free(&p);
    if (c.cur != 0)
      TEST_FAILF_("failing allocation %ld leaked %zu bytes", fail, c.cur);
  }
  CHECK(saw_nomem && saw_ok);
  /* With the hooks set, nothing is allocated elsewhere: zlib's calls are
   * counted (deflate alone allocates > 200 KiB at defaults). */
  memset(&c, 0, sizeof c);
  pair p;
  REQUIRE(negotiate(&o, &o, &p) == WSX_OK);
  uint64_t rng = 1;
  CHECK_INT(roundtrip(p.cs, p.ss, m, 10 * KIB, FEED_WHOLE, &rng, NULL), 0);
  CHECK(c.peak > 200 * KIB);
  pair_free(&p);
  CHECK_INT(c.cur, 0);
  free(m);
}

/* Streams freed between messages come back transparently. */
TEST(free_idle_streams_roundtrips) {
  wsx_deflate_options o = WSX_DEFLATE_OPTIONS_INIT;
  o.server_no_context_takeover = o.client_no_context_takeover = 1;
  o.free_idle_streams = 1;
  tc_counter c = {0};
  wsx_allocator ca = {tc_malloc, tc_realloc, tc_free, &c};
  pair p;
  REQUIRE(negotiate_with(&o, &o, &ca, &p) == WSX_OK);
  size_t base = c.cur;
  uint64_t rng = 3;
  for (int i = 0; i < 5; i++) {
    uint8_t *m = make_text(5000, (uint64_t)i);
    CHECK_INT(roundtrip(p.cs, p.ss, m, 5000, FEED_RANDOM, &rng, NULL), 0);
    CHECK_INT(roundtrip(p.ss, p.cs, m, 5000, FEED_RANDOM, &rng, NULL), 0);
    CHECK_INT(c.cur, base);
    free(m);
  }
  pair_free(&p);
}

static void setup(void) {
  wsx_extension *e = wsx_deflate_new(NULL);
  T = e->type;
  wsx_deflate_free(e);
}

TEST_MAIN(setup(); RUN(rfc_hello); RUN(rfc_shared_window);
          RUN(rfc_no_context_takeover); RUN(rfc_stored_block);
          RUN(rfc_other_examples); RUN(negotiation_strings);
          RUN(negotiation_matrix); RUN(window_sizes_and_contexts);
          RUN(window_8_fits_256_bytes); RUN(server_declines_invalid_offers);
          RUN(client_validates_response); RUN(bad_options);
          RUN(threshold_and_passthrough); RUN(corrupt_data);
          RUN(sink_errors_stop_at_once); RUN(fragmented_input);
          RUN(outgoing_in_pieces); RUN(bomb_zeros); RUN(bomb_gigabytes);
          RUN(memory_per_connection); RUN(allocator_hooks_and_failures);
          RUN(free_idle_streams_roundtrips))
