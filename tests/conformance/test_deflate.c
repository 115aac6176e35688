/*
 * tests/conformance/test_deflate.c: permessage-deflate (RFC 7692) through
 * the driver. A wsx client driver and a wsx server driver, both with
 * wsx_deflate_new() registered, talk in memory (harness hpair); or one
 * driver under test is fed hand-built bytes. Every incoming stream is fed
 * whole, byte by byte and at random splits, and must give the same events.
 *
 * What the wire carries is checked independently of wsx: compressed
 * payloads are inflated here with zlib using the NEGOTIATED window and at
 * most 64 bytes of output per call, so a back-reference farther than the
 * promised window fails ("invalid distance too far back") instead of being
 * served from zlib's output buffer.
 */
#include "harness.h"
#include "wsx/extension.h"

#include <zlib.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

/* ------------------------------------------------------------ helpers */

static wsx_deflate_options dopt(int snct, int cnct, int sbits, int cbits) {
  wsx_deflate_options o = WSX_DEFLATE_OPTIONS_INIT;
  o.server_no_context_takeover = snct;
  o.client_no_context_takeover = cnct;
  o.server_max_window_bits = sbits;
  o.client_max_window_bits = cbits;
  return o;
}

static uint64_t rnd_state = 0x243F6A8885A308D3ull;
static uint8_t rnd8(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return (uint8_t)(rnd_state >> 24);
}
static void rnd_fill(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = rnd8();
}

/* JSON-like, compressible, valid UTF-8 text of exactly n bytes. */
static void json_fill(uint8_t *p, size_t n, unsigned seed) {
  static const char *const words[] = {"{\"id\":", "\"name\":\"wsx\",",
                                      "\"ok\":true,", "\"v\":[1,2,3],",
                                      "\"t\":\"h\xc3\xa9llo\"},"};
  size_t i = 0;
  unsigned k = seed;
  while (i < n) {
    const char *w = words[k++ % 5];
    size_t wl = strlen(w);
    for (size_t j = 0; j < wl && i < n; j++)
      p[i++] = (uint8_t)w[j];
  }
  /* Never end inside a 2-byte sequence. */
  if (n && (p[n - 1] & 0xe0) == 0xc0)
    p[n - 1] = '}';
}

/* A client and a server driver, each with its own deflate object (NULL
 * options: no deflate registered on that side). */
typedef struct dpair {
  hpair p;
  wsx_extension *ce, *se;
} dpair;

static int dpair_open(dpair *dp, const wsx_deflate_options *co,
                      const wsx_deflate_options *so,
                      const wsx_driver_options *cdo,
                      const wsx_driver_options *sdo) {
  memset(dp, 0, sizeof *dp);
  if (co && !(dp->ce = wsx_deflate_new(co)))
    return 0;
  if (so && !(dp->se = wsx_deflate_new(so)))
    return 0;
  if (!h_client_new(&dp->p.c, "ws://localhost/chat", cdo, NULL) ||
      !h_server_new(&dp->p.s, sdo, NULL))
    return 0;
  if (dp->ce && wsx_driver_add_extension(dp->p.c.d, dp->ce) != WSX_OK)
    return 0;
  if (dp->se && wsx_driver_add_extension(dp->p.s.d, dp->se) != WSX_OK)
    return 0;
  if (wsx_driver_start(dp->p.c.d) != WSX_OK)
    return 0;
  h_pump(&dp->p, H_WHOLE, 0);
  return dp->p.c.n_open == 1 && dp->p.s.n_open == 1;
}

static void dpair_free(dpair *dp) {
  h_pair_free(&dp->p);
  wsx_deflate_free(dp->ce);
  wsx_deflate_free(dp->se);
  dp->ce = dp->se = NULL;
}

/* ---- wire decoding ---- */

typedef struct wmsg {
  unsigned rsv; /* RSV bits of the first frame */
  int opcode;
  int frames;
  int cont_rsv; /* a continuation frame had RSV bits */
  size_t max_frame;
  hb payload; /* concatenated, unmasked */
} wmsg;

typedef struct wire {
  wmsg m[8];
  int n;
  int ctrl_rsv; /* a control frame had RSV bits */
  int n_ctrl;
  int bad; /* undecodable */
} wire;

/* Decodes the frames in p[0..n) into data messages (up to 8). */
static void wire_decode(const uint8_t *p, size_t n, wire *w) {
  memset(w, 0, sizeof *w);
  size_t i = 0;
  wmsg *cur = NULL;
  while (i < n) {
    if (n - i < 2) {
      w->bad = 1;
      return;
    }
    unsigned b0 = p[i], b1 = p[i + 1];
    uint64_t len = b1 & 0x7f;
    size_t h = 2;
    if (len == 126) {
      len = (uint64_t)p[i + 2] << 8 | p[i + 3];
      h = 4;
    } else if (len == 127) {
      len = 0;
      for (int k = 0; k < 8; k++)
        len = len << 8 | p[i + 2 + (size_t)k];
      h = 10;
    }
    const uint8_t *mk = (b1 & 0x80) ? p + i + h : NULL;
    if (mk)
      h += 4;
    if (len > n - i - h) {
      w->bad = 1;
      return;
    }
    int op = (int)(b0 & 0x0f);
    if (op >= 8) {
      w->n_ctrl++;
      if (b0 & 0x70)
        w->ctrl_rsv = 1;
    } else {
      if (op != 0) {
        if (w->n == 8) {
          w->bad = 1;
          return;
        }
        cur = &w->m[w->n++];
        cur->rsv = b0 & 0x70;
        cur->opcode = op;
      } else if (!cur) {
        w->bad = 1;
        return;
      } else if (b0 & 0x70) {
        cur->cont_rsv = 1;
      }
      cur->frames++;
      if (len > cur->max_frame)
        cur->max_frame = (size_t)len;
      size_t at = cur->payload.len;
      hb_put(&cur->payload, p + i + h, (size_t)len);
      for (size_t k = 0; mk && k < len; k++)
        cur->payload.p[at + k] ^= mk[k & 3];
    }
    i += h + (size_t)len;
  }
}

static void wire_free(wire *w) {
  for (int i = 0; i < 8; i++)
    hb_free(&w->m[i].payload);
}

/* Bytes a recorder wrote since `from` (after its head if from == 0). */
static const uint8_t *since(const hrec *r, size_t from, size_t *n) {
  size_t s = from ? from : h_head_end(r->out.p, r->out.len);
  *n = r->out.len - s;
  return r->out.p + s;
}

/*
 * Inflates one RFC 7692 message payload (the 00 00 FF FF tail is appended,
 * 7.2.2) with `z`, an inflater made with the negotiated window. At most 64
 * bytes of output per call: a match farther back than the window then
 * always reaches into zlib's window and is refused. Returns 0 or -1.
 */
static int strict_inflate(z_stream *z, const uint8_t *p, size_t n, hb *out) {
  static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
  uint8_t buf[64];
  for (int part = 0; part < 2; part++) {
    z->next_in = (Bytef *)(uintptr_t)(part ? tail : p);
    z->avail_in = (uInt)(part ? 4 : n);
    for (;;) {
      z->next_out = buf;
      z->avail_out = sizeof buf;
      int rc = inflate(z, Z_SYNC_FLUSH);
      hb_put(out, buf, sizeof buf - z->avail_out);
      if (rc == Z_STREAM_END)
        return 0; /* BFINAL: the rest is ignorable (7.2.3.4) */
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return -1;
      if (z->avail_in == 0 && z->avail_out != 0)
        break;
      if (rc == Z_BUF_ERROR)
        break;
    }
  }
  return 0;
}

static int zinit(z_stream *z, int bits) {
  memset(z, 0, sizeof *z);
  return inflateInit2(z, -bits) == Z_OK;
}

/* Parameters of a permessage-deflate response (0 = absent). */
typedef struct pmd_resp {
  int ok;
  int snct, cnct, sbits, cbits;
} pmd_resp;

static pmd_resp parse_resp(const char *v) {
  pmd_resp r;
  memset(&r, 0, sizeof r);
  wsx_extension_offers o;
  const char *det = NULL;
  if (wsx_extension_offers_parse(v, strlen(v), 0, NULL, &o, &det) != WSX_OK)
    return r;
  if (o.num_offers == 1 &&
      o.offers[0].name_len == strlen("permessage-deflate") &&
      memcmp(o.offers[0].name, "permessage-deflate", 18) == 0) {
    r.ok = 1;
    for (size_t i = 0; i < o.offers[0].num_params; i++) {
      const wsx_extension_param *q = &o.offers[0].params[i];
      char name[64] = "", val[8] = "";
      snprintf(name, sizeof name, "%.*s", (int)q->name_len, q->name);
      if (q->value)
        snprintf(val, sizeof val, "%.*s", (int)q->value_len, q->value);
      if (!strcmp(name, "server_no_context_takeover") && !q->value)
        r.snct = 1;
      else if (!strcmp(name, "client_no_context_takeover") && !q->value)
        r.cnct = 1;
      else if (!strcmp(name, "server_max_window_bits") && q->value)
        r.sbits = atoi(val);
      else if (!strcmp(name, "client_max_window_bits") && q->value)
        r.cbits = atoi(val);
      else
        r.ok = 0;
    }
  }
  wsx_extension_offers_free(&o);
  return r;
}

static int eff(int bits) { return bits ? bits : 15; }
static int min_i(int a, int b) { return a < b ? a : b; }

/*
 * One direction of a negotiated pair: `tx` sends a window probe and then
 * the same 200-byte message twice; checks the receiver's events, the RSV1
 * bit, the window and the context mode on the wire.
 */
static void check_direction(hrec *tx, int bits, int nct, const char *what) {
  /* RFC 7692 7.1.2: the sender's LZ77 window is at most 2^bits. A 128-byte
   * block repeated 2^bits + 64 bytes later can only be matched by a
   * compressor that overshoots the window; inflating with exactly
   * 2^bits then fails. */
  size_t dist = ((size_t)1 << bits) + 64;
  size_t plen = dist + 128;
  uint8_t *probe = malloc(plen);
  uint8_t rep[200];
  rnd_fill(probe, plen);
  memcpy(probe + dist, probe, 128);
  rnd_fill(rep, sizeof rep);
  size_t from = tx->out.len;
  CHECK_INT(wsx_driver_send_binary(tx->d, probe, plen), WSX_OK);
  CHECK_INT(wsx_driver_send_binary(tx->d, rep, sizeof rep), WSX_OK);
  CHECK_INT(wsx_driver_send_binary(tx->d, rep, sizeof rep), WSX_OK);
  size_t wn;
  const uint8_t *wp = since(tx, from, &wn);
  wire w;
  wire_decode(wp, wn, &w);
  if (w.bad || w.n != 3) {
    TEST_FAILF_("%s: %d messages on the wire (bad=%d)", what, w.n, w.bad);
    goto out;
  }
  z_stream z;
  if (!zinit(&z, bits)) {
    TEST_FAILF_("%s: inflateInit2(-%d)", what, bits);
    goto out;
  }
  const uint8_t *want[3] = {probe, rep, rep};
  size_t wantn[3] = {plen, sizeof rep, sizeof rep};
  for (int i = 0; i < 3; i++) {
    hb got = {0};
    /* RFC 7692 6: the first frame of a compressed message has RSV1. */
    if (w.m[i].rsv != WSX_RSV1)
      TEST_FAILF_("%s: message %d has RSV 0x%x", what, i, w.m[i].rsv);
    if (nct) {
      /* 7.1.1: no context takeover: each message inflates on its own. */
      inflateEnd(&z);
      zinit(&z, bits);
    }
    if (strict_inflate(&z, w.m[i].payload.p, w.m[i].payload.len, &got))
      TEST_FAILF_("%s: message %d does not inflate within 2^%d bytes "
                  "(nct=%d): %s",
                  what, i, bits, nct, z.msg ? z.msg : "?");
    else
      CHECK_MEM(got.p, got.len, want[i], wantn[i]);
    hb_free(&got);
  }
  inflateEnd(&z);
  if (nct)
    /* A reset compressor compresses the same input to the same bytes. */
    CHECK_MEM(w.m[1].payload.p, w.m[1].payload.len, w.m[2].payload.p,
              w.m[2].payload.len);
  else if (w.m[2].payload.len * 4 > w.m[1].payload.len)
    /* Context takeover: the repeat is a back-reference to message 2. */
    TEST_FAILF_("%s: repeat is %zu bytes after %zu with context takeover", what,
                w.m[2].payload.len, w.m[1].payload.len);
out:
  free(probe);
  wire_free(&w);
}

/* Pumps and checks the receiver got the last 3 messages of check_direction
 * as binary messages. */
static void check_received(hrec *rx, int n_before, const char *what) {
  if (rx->n_message != n_before + 3)
    TEST_FAILF_("%s: receiver got %d messages, expected %d (log %s)", what,
                rx->n_message - n_before, 3, hb_cstr(&rx->log));
  if (rx->n_error)
    TEST_FAILF_("%s: receiver error: %s", what, rx->err_msg);
}

/*
 * One negotiation between a wsx client and a wsx server: the handshake
 * must succeed with permessage-deflate (a wsx client always offers
 * client_max_window_bits, so a wsx server can always accept), and the
 * response must grant what RFC 7692 7.1 requires.
 */
static void negotiate_pair(const wsx_deflate_options *co,
                           const wsx_deflate_options *so) {
  char what[160];
  snprintf(what, sizeof what,
           "client{snct=%d cnct=%d sbits=%d cbits=%d} server{snct=%d "
           "cnct=%d sbits=%d cbits=%d}",
           co->server_no_context_takeover, co->client_no_context_takeover,
           co->server_max_window_bits, co->client_max_window_bits,
           so->server_no_context_takeover, so->client_no_context_takeover,
           so->server_max_window_bits, so->client_max_window_bits);
  dpair dp;
  if (!dpair_open(&dp, co, so, NULL, NULL)) {
    TEST_FAILF_("%s: handshake failed: client \"%s\" server \"%s\"", what,
                hb_cstr(&dp.p.c.log), hb_cstr(&dp.p.s.log));
    dpair_free(&dp);
    return;
  }
  const char *cv = wsx_driver_extensions(dp.p.c.d);
  const char *sv = wsx_driver_extensions(dp.p.s.d);
  if (strcmp(cv, sv) != 0)
    TEST_FAILF_("%s: client sees \"%s\", server sent \"%s\"", what, cv, sv);
  pmd_resp r = parse_resp(cv);
  if (!r.ok) {
    TEST_FAILF_("%s: bad negotiated value \"%s\"", what, cv);
    dpair_free(&dp);
    return;
  }
  /* 7.1.1.1: a requested server_no_context_takeover must be granted. */
  int snct = co->server_no_context_takeover || so->server_no_context_takeover;
  int cnct = co->client_no_context_takeover || so->client_no_context_takeover;
  if (r.snct != snct || r.cnct != cnct)
    TEST_FAILF_("%s: \"%s\": context takeover flags %d/%d, expected %d/%d",
                what, cv, r.snct, r.cnct, snct, cnct);
  /* 7.1.2.1: server_max_window_bits in the response must not exceed the
   * offered value; 7.1.2.2: client_max_window_bits likewise. */
  int sbits =
      min_i(eff(co->server_max_window_bits), eff(so->server_max_window_bits));
  int cbits =
      min_i(eff(co->client_max_window_bits), eff(so->client_max_window_bits));
  if (eff(r.sbits) != sbits || eff(r.cbits) != cbits)
    TEST_FAILF_("%s: \"%s\": windows %d/%d, expected %d/%d", what, cv,
                eff(r.sbits), eff(r.cbits), sbits, cbits);
  if (eff(co->server_max_window_bits) < 15 && !r.sbits)
    TEST_FAILF_("%s: \"%s\": requested server_max_window_bits missing", what,
                cv);
  int nc = dp.p.s.n_message, ns = dp.p.c.n_message;
  char dir[200];
  snprintf(dir, sizeof dir, "%s client->server", what);
  check_direction(&dp.p.c, cbits, cnct, dir);
  snprintf(dir, sizeof dir, "%s server->client", what);
  check_direction(&dp.p.s, sbits, snct, dir);
  h_pump(&dp.p, H_RANDOM, 7);
  check_received(&dp.p.s, nc, what);
  check_received(&dp.p.c, ns, what);
  dpair_free(&dp);
}

static const int bits_values[9] = {0, 8, 9, 10, 11, 12, 13, 14, 15};

/* RFC 7692 7.1: both context-takeover flags on both sides (16 ways) times
 * every pair of server_max_window_bits values (absent, 8..15). */
TEST(negotiation_matrix_server_window) {
  for (int f = 0; f < 16 && !test_cur_failed_; f++)
    for (int a = 0; a < 9; a++)
      for (int b = 0; b < 9; b++) {
        wsx_deflate_options co = dopt(f & 1, (f >> 1) & 1, bits_values[a], 0);
        wsx_deflate_options so =
            dopt((f >> 2) & 1, (f >> 3) & 1, bits_values[b], 0);
        negotiate_pair(&co, &so);
      }
}

/* Same with every pair of client_max_window_bits values (the client always
 * offers the parameter, with a value when below 15). */
TEST(negotiation_matrix_client_window) {
  for (int f = 0; f < 16 && !test_cur_failed_; f++)
    for (int a = 0; a < 9; a++)
      for (int b = 0; b < 9; b++) {
        wsx_deflate_options co = dopt(f & 1, (f >> 1) & 1, 0, bits_values[a]);
        wsx_deflate_options so =
            dopt((f >> 2) & 1, (f >> 3) & 1, 0, bits_values[b]);
        negotiate_pair(&co, &so);
      }
}

/* ------------------------------------------- raw driver under test */

static wsx_extension *raw_ext; /* registered by d_run (outlives the run) */

/*
 * Like h_run, with permessage-deflate registered on the driver under test
 * and `exts` as the Sec-WebSocket-Extensions header of the peer's request
 * (server under test) or response (client under test); NULL = none.
 */
static int d_run(hrec *r, int role, const wsx_driver_options *o,
                 const char *exts, const uint8_t *in, size_t n, int mode,
                 uint64_t seed) {
  hb stream = {0};
  char line[512] = "";
  if (exts)
    snprintf(line, sizeof line, "Sec-WebSocket-Extensions: %s\r\n", exts);
  if (role == H_SERVER) {
    if (!h_server_new(r, o, NULL))
      return 0;
    wsx_driver_add_extension(r->d, raw_ext);
    const char *req = H_REQUEST;
    hb_put(&stream, req, strlen(req) - 2);
    hb_str(&stream, line);
    hb_str(&stream, "\r\n");
  } else {
    if (!h_client_new(r, NULL, o, NULL))
      return 0;
    wsx_driver_add_extension(r->d, raw_ext);
    if (wsx_driver_start(r->d) != WSX_OK) {
      hb_free(&stream);
      return 0;
    }
    h_server_response(r, line, &stream);
  }
  hb_put(&stream, in, n);
  size_t max_chunk = (seed % 4 == 0)   ? 3
                     : (seed % 4 == 1) ? 17
                     : (seed % 4 == 2) ? 200
                                       : stream.len;
  h_feed(r, stream.p, stream.len, mode, seed, max_chunk);
  hb_free(&stream);
  return 1;
}

/* Runs whole, byte by byte and at 8 random splittings; every run must give
 * `want_events` and `want_out` (h_out_decode log; NULL = don't care but
 * equal across runs). Returns the whole run's error message in msg. */
static void d_check(int role, const wsx_driver_options *o, const char *exts,
                    const uint8_t *in, size_t n, const char *want_events,
                    const char *want_out, char *msg, size_t msg_cap) {
  static const int modes[3] = {H_WHOLE, H_BYTES, H_RANDOM};
  hb first = {0};
  for (int mi = 0; mi < 3; mi++) {
    for (int sd = 0; sd < (modes[mi] == H_RANDOM ? 8 : 1); sd++) {
      hrec r;
      if (!d_run(&r, role, o, exts, in, n, modes[mi], (uint64_t)sd)) {
        TEST_FAILF_("driver creation failed");
        h_rec_free(&r);
        hb_free(&first);
        return;
      }
      hout out;
      h_out_decode(&r, &out);
      const char *ev = hb_cstr(&r.log), *ol = hb_cstr(&out.log);
      if (want_events && strcmp(ev, want_events))
        TEST_FAILF_("%s mode %d seed %d: events \"%s\", expected \"%s\"",
                    role == H_SERVER ? "server" : "client", modes[mi], sd, ev,
                    want_events);
      if (want_out && strcmp(ol, want_out))
        TEST_FAILF_("%s mode %d seed %d: output \"%s\", expected \"%s\"",
                    role == H_SERVER ? "server" : "client", modes[mi], sd, ol,
                    want_out);
      if (!first.len) {
        hb_str(&first, ev);
        if (msg)
          snprintf(msg, msg_cap, "%s", r.err_msg);
      } else if (strcmp(ev, hb_cstr(&first))) {
        TEST_FAILF_("mode %d seed %d: events \"%s\" differ from \"%s\"",
                    modes[mi], sd, ev, hb_cstr(&first));
      }
      h_out_free(&out);
      h_rec_free(&r);
    }
  }
  hb_free(&first);
}

/* A protocol failure: events "open;error:<err>:<code>;close:<code>:unclean",
 * output ending in a close frame with `code`, and an error message that
 * mentions `word`. */
static void d_fail(int role, const wsx_driver_options *o, const char *exts,
                   const uint8_t *in, size_t n, int err, unsigned code,
                   const char *out_prefix, const char *word) {
  char ev[256], out[256], msg[256] = "";
  snprintf(ev, sizeof ev, "open;error:%s:%u;close:%u:unclean", h_err_name(err),
           code, code);
  snprintf(out, sizeof out, "%s%sclose:%u", out_prefix ? out_prefix : "",
           out_prefix ? ";" : "", code);
  d_check(role, o, exts, in, n, ev, out, msg, sizeof msg);
  char low[256];
  size_t i;
  for (i = 0; msg[i] && i < sizeof low - 1; i++)
    low[i] = (char)tolower((unsigned char)msg[i]);
  low[i] = 0;
  if (!strstr(low, word))
    TEST_FAILF_("error message \"%s\" does not mention \"%s\"", msg, word);
}

#define PMD "permessage-deflate"

static void raw_begin(const wsx_deflate_options *o) {
  raw_ext = wsx_deflate_new(o);
}
static void raw_end(void) {
  wsx_deflate_free(raw_ext);
  raw_ext = NULL;
}

/* RFC 7692 7.2.3.1: "Hello" compressed, one frame: c1 07 f2 48 cd c9 c9 07
 * 00. The vectors are sender-independent, so both roles read them (masked
 * for a server under test). */
TEST(rfc7692_examples) {
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  static const uint8_t shared2[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
  static const uint8_t frag1[] = {0xf2, 0x48, 0xcd};
  static const uint8_t frag2[] = {0xc9, 0xc9, 0x07, 0x00};
  static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
                                   0x65, 0x6c, 0x6c, 0x6f, 0x00};
  static const uint8_t bfinal[] = {0xf3, 0x48, 0xcd, 0xc9,
                                   0xc9, 0x07, 0x00, 0x00};
  static const uint8_t twoblocks[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
                                      0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
  raw_begin(NULL);
  /* The exact bytes of 7.2.3.1 into a client driver, unmasked. */
  {
    static const uint8_t exact[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd,
                                    0xc9, 0xc9, 0x07, 0x00};
    d_check(H_CLIENT, NULL, PMD, exact, sizeof exact,
            "open;message:text:5:Hello", "", NULL, 0);
  }
  H_EACH_ROLE(role) {
    int m = H_MASKED(role);
    hb in = {0};
    /* 7.2.3.1 */
    h_frame(&in, 0xc1, m, hello, sizeof hello);
    /* 7.2.3.2: the second "Hello" refers to the first (shared window). */
    h_frame(&in, 0xc1, m, shared2, sizeof shared2);
    /* 7.2.3.1, fragmented: RSV1 on the first frame only. */
    h_frame(&in, 0x41, m, frag1, sizeof frag1);
    h_frame(&in, 0x80, m, frag2, sizeof frag2);
    /* 7.2.3.3: a stored (uncompressed) block. */
    h_frame(&in, 0xc1, m, stored, sizeof stored);
    /* 7.2.3.4: BFINAL set, then padding. */
    h_frame(&in, 0xc1, m, bfinal, sizeof bfinal);
    /* 7.2.3.5: two DEFLATE blocks in one message. */
    h_frame(&in, 0xc1, m, twoblocks, sizeof twoblocks);
    /* 7.2.3.6 / 7.2.1: an empty message (one 0x00). */
    h_frame(&in, 0xc1, m, "\0", 1);
    /* An uncompressed message (RSV1 clear) is passed through. */
    h_frame_str(&in, 0x81, m, "plain");
    d_check(role, NULL, PMD, in.p, in.len,
            "open;message:text:5:Hello;message:text:5:Hello;"
            "message:text:5:Hello;message:text:5:Hello;message:text:5:Hello;"
            "message:text:5:Hello;message:text:0:;message:text:5:plain",
            "", NULL, 0);
    hb_free(&in);
  }
  raw_end();
}

/* RFC 7692 6.1: "An endpoint MUST NOT set the RSV1 bit on a continuation
 * frame"; RFC 6455 5.2 makes any unexpected RSV bit a failure (1002). */
TEST(rsv1_on_continuation_1002) {
  static const uint8_t frag1[] = {0xf2, 0x48, 0xcd};
  static const uint8_t frag2[] = {0xc9, 0xc9, 0x07, 0x00};
  raw_begin(NULL);
  H_EACH_ROLE(role) {
    hb in = {0};
    h_frame(&in, 0x41, H_MASKED(role), frag1, sizeof frag1);
    h_frame(&in, 0xc0, H_MASKED(role), frag2, sizeof frag2);
    d_fail(role, NULL, PMD, in.p, in.len, WSX_E_PROTOCOL, 1002, NULL,
           "continuation");
    hb_free(&in);
  }
  raw_end();
}

/* RFC 7692 6.1: control frames are never compressed, so RSV1 on a ping,
 * pong or close is a protocol error (RFC 6455 5.2). */
TEST(rsv1_on_control_1002) {
  raw_begin(NULL);
  static const unsigned ops[3] = {WSX_OP_PING, WSX_OP_PONG, WSX_OP_CLOSE};
  H_EACH_ROLE(role) {
    for (int i = 0; i < 3; i++) {
      hb in = {0};
      h_frame_str(&in, 0xc0 | ops[i], H_MASKED(role), "\x03\xe8");
      d_fail(role, NULL, PMD, in.p, in.len, WSX_E_PROTOCOL, 1002, NULL,
             "control");
      hb_free(&in);
    }
  }
  raw_end();
}

/* RFC 6455 5.2: RSV1 without a negotiated extension that defines it ->
 * 1002, even when deflate is registered but the peer did not negotiate it;
 * RSV2/RSV3 are never defined by permessage-deflate. */
TEST(rsv_without_negotiation_1002) {
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  raw_begin(NULL);
  H_EACH_ROLE(role) {
    hb in = {0};
    h_frame(&in, 0xc1, H_MASKED(role), hello, sizeof hello);
    d_fail(role, NULL, NULL, in.p, in.len, WSX_E_PROTOCOL, 1002, NULL, "rsv");
    /* Deflate offered but declined by the peer: also not negotiated. */
    if (role == H_SERVER)
      d_fail(role, NULL, "x-unknown-ext", in.p, in.len, WSX_E_PROTOCOL, 1002,
             NULL, "rsv");
    hb_free(&in);
    hb in2 = {0};
    h_frame(&in2, 0xa1, H_MASKED(role), "abc", 3);
    d_fail(role, NULL, PMD, in2.p, in2.len, WSX_E_PROTOCOL, 1002, NULL, "rsv");
    hb_free(&in2);
    hb in3 = {0};
    h_frame(&in3, 0x91, H_MASKED(role), "abc", 3);
    d_fail(role, NULL, PMD, in3.p, in3.len, WSX_E_PROTOCOL, 1002, NULL, "rsv");
    hb_free(&in3);
  }
  raw_end();
}

/* Corrupt compressed data: the message cannot be decompressed; RFC 7692
 * 8 leaves the code to the endpoint; wsx closes with 1007 (the data is
 * inconsistent with the message type) and names the problem. */
TEST(corrupt_data_1007) {
  static const uint8_t reserved_block[] = {0xff, 0xff, 0xff};
  /* A stored block whose NLEN is not the complement of LEN. */
  static const uint8_t bad_dist[] = {0x00, 0x05, 0x00, 0x00, 0x00,
                                     'H',  'e',  'l',  'l',  'o'};
  /* "He" in a block ended by a sync flush (RFC 7692 7.2.3.5). */
  static const uint8_t frag1[] = {0xf2, 0x48, 0x05, 0x00,
                                  0x00, 0x00, 0xff, 0xff};
  raw_begin(NULL);
  H_EACH_ROLE(role) {
    int m = H_MASKED(role);
    hb in = {0};
    h_frame(&in, 0xc1, m, reserved_block, sizeof reserved_block);
    d_fail(role, NULL, PMD, in.p, in.len, WSX_E_EXTENSION, 1007, NULL,
           "deflate");
    hb_free(&in);
    hb in2 = {0};
    h_frame(&in2, 0xc2, m, bad_dist, sizeof bad_dist);
    d_fail(role, NULL, PMD, in2.p, in2.len, WSX_E_EXTENSION, 1007, NULL,
           "deflate");
    hb_free(&in2);
    /* Corruption in the second fragment (a reserved block type). */
    hb in3 = {0};
    h_frame(&in3, 0x41, m, frag1, sizeof frag1);
    h_frame(&in3, 0x80, m, reserved_block, sizeof reserved_block);
    d_fail(role, NULL, PMD, in3.p, in3.len, WSX_E_EXTENSION, 1007, NULL,
           "deflate");
    hb_free(&in3);
  }
  raw_end();
}

/* RFC 6455 8.1: a text message must be UTF-8 after decompression -> 1007. */
TEST(invalid_utf8_after_inflate_1007) {
  uint8_t bad[16] = "ok \xc3\x28 no";
  uint8_t comp[64];
  z_stream z;
  memset(&z, 0, sizeof z);
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  z.next_in = bad;
  z.avail_in = 9;
  z.next_out = comp;
  z.avail_out = sizeof comp;
  REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
  size_t cn = sizeof comp - z.avail_out - 4; /* drop 00 00 ff ff */
  deflateEnd(&z);
  raw_begin(NULL);
  H_EACH_ROLE(role) {
    hb in = {0};
    h_frame(&in, 0xc1, H_MASKED(role), comp, cn);
    d_fail(role, NULL, PMD, in.p, in.len, WSX_E_UTF8, 1007, NULL, "utf-8");
    hb_free(&in);
  }
  raw_end();
}

/* Raw DEFLATE of p[0..n) with a `bits` window, as one RFC 7692 message
 * (sync flush, 00 00 FF FF removed). Returns the length written to out. */
static size_t zcompress(const uint8_t *p, size_t n, int bits, uint8_t *out,
                        size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 6, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return 0;
  z.next_in = (Bytef *)(uintptr_t)p;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = deflate(&z, Z_SYNC_FLUSH);
  size_t len = cap - z.avail_out;
  deflateEnd(&z);
  return rc == Z_OK && len >= 4 ? len - 4 : 0;
}

/* The limit and UTF-8 are both checked on inflated output, which arrives
 * in pieces that depend on the input split: the error earlier in byte
 * order must win at every split (here: invalid UTF-8 at byte 0 of a text
 * message also longer than max_length -> 1007, not 1009). */
TEST(utf8_and_limit_same_error_at_every_split) {
  uint8_t m[200], comp[256];
  memset(m, 'a', sizeof m);
  m[0] = 0xff;
  size_t cn = zcompress(m, sizeof m, 15, comp, sizeof comp);
  REQUIRE(cn > 0);
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_length = 4;
  raw_begin(NULL);
  H_EACH_ROLE(role) {
    hb in = {0};
    h_frame(&in, 0xc1, H_MASKED(role), comp, cn);
    d_fail(role, &o, PMD, in.p, in.len, WSX_E_UTF8, 1007, NULL, "utf-8");
    hb_free(&in);
  }
  raw_end();
}

/* A peer that agreed on client_max_window_bits=9 but compresses with a
 * 2^15 window (a match 1000 bytes back): zlib's inflate accepts or refuses
 * such a distance depending on how much output the current call produced,
 * i.e. on how the input was split; wsx must give the same events at every
 * split (RFC 7692 7.1.2.2 puts the window in the sender's hands; what the
 * receiver does with a violation must not depend on TCP segmentation). */
TEST(window_violation_same_events_at_every_split) {
  uint8_t m[1100], comp[2048];
  rnd_fill(m, sizeof m);
  memcpy(m + 1000, m, 100);
  size_t cn = zcompress(m, sizeof m, 15, comp, sizeof comp);
  REQUIRE(cn > 0);
  wsx_deflate_options so = dopt(0, 0, 0, 9);
  raw_begin(&so);
  hb in = {0};
  /* Twice: the second message also reaches back into the first. */
  h_frame(&in, 0xc2, 1, comp, cn);
  h_frame(&in, 0xc2, 1, comp, cn);
  d_check(H_SERVER, NULL, PMD "; client_max_window_bits", in.p, in.len, NULL,
          NULL, NULL, 0);
  hb_free(&in);
  raw_end();
}

/* ---- decompression bombs ---- */

/* Raw DEFLATE of `mib` MiB of zeros, each MiB a self-contained full-flushed
 * piece, so the stream is one piece repeated (each ~1 KiB: DEFLATE cannot
 * beat ~1:1032). */
static void make_bomb(hb *out, size_t mib) {
  static uint8_t zeros[MIB];
  uint8_t buf[4096];
  z_stream z;
  memset(&z, 0, sizeof z);
  deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
  z.next_in = zeros;
  z.avail_in = MIB;
  z.next_out = buf;
  z.avail_out = sizeof buf;
  deflate(&z, Z_FULL_FLUSH);
  size_t piece = sizeof buf - z.avail_out;
  deflateEnd(&z);
  for (size_t i = 0; i < mib; i++)
    hb_put(out, buf, piece);
}

/* Feeds a server (or client) with deflate negotiated a bomb under a
 * counting allocator; returns the recorder's log and the peak. */
static void bomb_case(int role, uint64_t max_length, size_t mib,
                      size_t frame_size, int mode) {
  hcount cnt;
  memset(&cnt, 0, sizeof cnt);
  wsx_allocator a = hcount_allocator(&cnt);
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_length = max_length;
  o.allocator = &a;
  hb bomb = {0}, in = {0};
  make_bomb(&bomb, mib);
  for (size_t off = 0; off < bomb.len; off += frame_size) {
    size_t n = bomb.len - off < frame_size ? bomb.len - off : frame_size;
    unsigned b0 = (off ? 0x00 : 0x42) | (off + n == bomb.len ? 0x80 : 0);
    h_frame(&in, b0, H_MASKED(role), bomb.p + off, n);
  }
  raw_begin(NULL);
  hrec r;
  /* The handshake first, so the peak below is the message's alone (a raw
   * server buffers bytes that arrive with the request head until it has
   * answered). */
  REQUIRE(d_run(&r, role, &o, PMD, (const uint8_t *)"", 0, H_WHOLE, 0));
  size_t base = cnt.cur;
  cnt.peak = cnt.cur;
  h_feed(&r, in.p, in.len, mode, 3, 5000);
  char want[128];
  snprintf(want, sizeof want, "open;error:too_big:1009;close:1009:unclean");
  CHECK_STR(hb_cstr(&r.log), want);
  CHECK(strstr(r.err_msg, "decompression") != NULL);
  hout out;
  h_out_decode(&r, &out);
  CHECK_STR(hb_cstr(&out.log), "close:1009");
  h_out_free(&out);
  /* Bounded: the message buffer (at most max_length) plus zlib's inflate
   * state (~44 KiB for a 32 KiB window) plus the driver's own few KiB. */
  size_t bound = base + (size_t)max_length + 128 * KIB;
  if (cnt.peak > bound)
    TEST_FAILF_("peak %zu bytes for max_length %llu (bound %zu)", cnt.peak,
                (unsigned long long)max_length, bound);
  h_rec_free(&r);
  CHECK_INT(cnt.cur, 0);
  raw_end();
  hb_free(&bomb);
  hb_free(&in);
}

/* ~4 KiB inflating to 4 MiB against max_length 1 MiB: 1009 (RFC 6455
 * 7.4.1: message too big), stopped while inflating, not after. */
TEST(bomb_small_1009) {
  H_EACH_ROLE(role) {
    bomb_case(role, MIB, 4, 64 * KIB, H_WHOLE);
    bomb_case(role, MIB, 4, 256, H_RANDOM);
    bomb_case(role, 64 * KIB, 1, 100, H_BYTES);
    /* Not a power of two: the buffer must not round up past the limit. */
    bomb_case(role, MIB + MIB / 2, 4, 64 * KIB, H_WHOLE);
  }
}

/* ~4 MiB of wire inflating to 4 GiB, in 64 KiB frames, against the default
 * max_length (64 MiB - 1). */
TEST(bomb_gigabytes_1009) {
  bomb_case(H_SERVER, 0 + WSX_DEFAULT_MAX_LENGTH, 4096, 64 * KIB, H_WHOLE);
}

/* max_length bounds the INFLATED size (issue 5), whatever the wire size:
 * exactly max_length bytes pass, one more is 1009. */
TEST(max_length_inflated) {
  const size_t lim = 1000;
  wsx_driver_options o = WSX_DRIVER_OPTIONS_INIT;
  o.max_length = lim;
  uint8_t *zs = calloc(1, lim + 1), *rnd = malloc(lim);
  memset(zs, 'a', lim + 1);
  rnd_fill(rnd, lim);
  /* 'a' x lim, 'a' x (lim + 1), random x lim (more than lim on the wire) */
  const uint8_t *msgs[3] = {zs, zs, rnd};
  size_t lens[3] = {lim, lim + 1, lim};
  for (int k = 0; k < 3; k++) {
    dpair dp;
    wsx_deflate_options d = dopt(0, 0, 0, 0);
    REQUIRE(dpair_open(&dp, &d, &d, NULL, &o));
    CHECK_INT(wsx_driver_send_binary(dp.p.c.d, msgs[k], lens[k]), WSX_OK);
    h_pump(&dp.p, H_WHOLE, 0);
    if (lens[k] <= lim) {
      if (dp.p.s.n_message != 1)
        TEST_FAILF_("case %d: %s (%s)", k, hb_cstr(&dp.p.s.log),
                    dp.p.s.err_msg);
      CHECK_MEM(dp.p.s.msg.p, dp.p.s.msg.len, msgs[k], lens[k]);
    } else {
      CHECK_STR(hb_cstr(&dp.p.s.log),
                "open;error:too_big:1009;close:1009:unclean");
      CHECK(strstr(dp.p.s.err_msg, "decompression") != NULL);
    }
    dpair_free(&dp);
  }
  free(zs);
  free(rnd);
}

/* ---- sizes, fragmentation and splits ---- */

static void size_case(int sender, size_t size, int binary, int frag,
                      int modes) {
  wsx_deflate_options d = dopt(0, 0, 0, 0);
  wsx_driver_options fo = WSX_DRIVER_OPTIONS_INIT;
  fo.fragment_outgoing_messages = frag;
  fo.fragmentation_threshold = 256;
  const wsx_driver_options *co = sender == H_CLIENT ? &fo : NULL;
  const wsx_driver_options *so = sender == H_SERVER ? &fo : NULL;
  uint8_t *msg = malloc(size ? size : 1);
  if (binary)
    rnd_fill(msg, size);
  else
    json_fill(msg, size, (unsigned)size);
  /* Two copies: the second goes through the taken-over context. */
  dpair dp;
  if (!dpair_open(&dp, &d, &d, co, so)) {
    TEST_FAILF_("open failed");
    dpair_free(&dp);
    free(msg);
    return;
  }
  hrec *tx = sender == H_CLIENT ? &dp.p.c : &dp.p.s;
  size_t from = tx->out.len;
  for (int i = 0; i < 2; i++)
    CHECK_INT(wsx_driver_send(tx->d, binary ? WSX_OP_BINARY : WSX_OP_TEXT, msg,
                              size, 0),
              WSX_OK);
  size_t wn;
  const uint8_t *wp0 = since(tx, from, &wn);
  uint8_t *wp = malloc(wn ? wn : 1);
  memcpy(wp, wp0, wn);
  wire w;
  wire_decode(wp, wn, &w);
  CHECK(!w.bad);
  CHECK_INT(w.n, 2);
  for (int i = 0; i < w.n && i < 2; i++) {
    /* RFC 7692 6.1: RSV1 on the first frame, never on continuations. */
    CHECK_INT(w.m[i].rsv, WSX_RSV1);
    CHECK(!w.m[i].cont_rsv);
    if (frag) {
      CHECK(w.m[i].max_frame <= 256);
      CHECK_INT(w.m[i].frames, (int)((w.m[i].payload.len + 255) / 256 +
                                     (w.m[i].payload.len == 0)));
    } else {
      CHECK_INT(w.m[i].frames, 1);
    }
  }
  if (!binary && size >= 1024 && w.n == 2)
    CHECK(w.m[0].payload.len * 4 < size); /* it did compress */
  wire_free(&w);
  dpair_free(&dp);
  /* The receiver, fresh for each split mode, must deliver both copies. */
  hb want = {0};
  hb_str(&want, "open");
  for (int i = 0; i < 2; i++) {
    hb_printf(&want, ";message:%s:%zu:", binary ? "binary" : "text", size);
    h_log_payload(&want, msg, size);
  }
  static const int mode_list[3] = {H_WHOLE, H_BYTES, H_RANDOM};
  for (int mi = 0; mi < 3; mi++) {
    if (!(modes & mode_list[mi]))
      continue;
    for (int sd = 0; sd < (mode_list[mi] == H_RANDOM ? 3 : 1); sd++) {
      dpair rp;
      if (!dpair_open(&rp, &d, &d, NULL, NULL)) {
        TEST_FAILF_("open failed");
        dpair_free(&rp);
        break;
      }
      hrec *rx = sender == H_CLIENT ? &rp.p.s : &rp.p.c;
      h_feed(rx, wp, wn, mode_list[mi], (uint64_t)sd + 11,
             sd == 0   ? 7
             : sd == 1 ? 300
                       : 70000);
      if (strcmp(hb_cstr(&rx->log), hb_cstr(&want)))
        TEST_FAILF_("%s size %zu %s frag=%d mode %d seed %d: \"%s\", "
                    "expected \"%s\"",
                    sender == H_CLIENT ? "client->server" : "server->client",
                    size, binary ? "binary" : "text", frag, mode_list[mi], sd,
                    hb_cstr(&rx->log), hb_cstr(&want));
      else
        CHECK_MEM(rx->msg.p, rx->msg.len, msg, size);
      dpair_free(&rp);
    }
  }
  hb_free(&want);
  free(wp);
  free(msg);
}

static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 128 * KIB, MIB};

/* Every size, text and binary, one frame or 256-byte fragments (as
 * Autobahn 12.x / 13.x), in both directions, split three ways. */
TEST(sizes_unfragmented) {
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    H_EACH_ROLE(sender)
  for (int binary = 0; binary < 2; binary++)
    size_case(sender, sizes[i], binary, 0,
              sizes[i] >= MIB ? (H_WHOLE | H_RANDOM) : H_ALL);
}

TEST(sizes_fragmented_256) {
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    H_EACH_ROLE(sender)
  for (int binary = 0; binary < 2; binary++)
    size_case(sender, sizes[i], binary, 1,
              sizes[i] >= MIB ? (H_WHOLE | H_RANDOM) : H_ALL);
}

/* The 1 MiB messages byte by byte too (text only: the compressed wire is
 * small; binary random data was covered at 128 KiB). */
TEST(sizes_1mib_text_byte_by_byte) {
  H_EACH_ROLE(sender) {
    size_case(sender, MIB, 0, 0, H_BYTES);
    size_case(sender, MIB, 0, 1, H_BYTES);
  }
}

/* ---- sending rules ---- */

/* wsx_driver_send(.., WSX_SEND_UNCOMPRESSED): RSV1 clear (RFC 7692 6: a
 * message may be sent uncompressed); the peer delivers it, and the next
 * compressed message still inflates (the uncompressed one never entered
 * either window). */
TEST(send_uncompressed_flag) {
  wsx_deflate_options d = dopt(0, 0, 0, 0);
  H_EACH_ROLE(sender) {
    dpair dp;
    REQUIRE(dpair_open(&dp, &d, &d, NULL, NULL));
    hrec *tx = sender == H_CLIENT ? &dp.p.c : &dp.p.s;
    hrec *rx = sender == H_CLIENT ? &dp.p.s : &dp.p.c;
    size_t from = tx->out.len;
    uint8_t big[4096];
    json_fill(big, sizeof big, 1);
    CHECK_INT(wsx_driver_send(tx->d, WSX_OP_TEXT, big, sizeof big,
                              WSX_SEND_UNCOMPRESSED),
              WSX_OK);
    CHECK_INT(wsx_driver_send(tx->d, WSX_OP_TEXT, big, sizeof big, 0), WSX_OK);
    CHECK_INT(
        wsx_driver_send(tx->d, WSX_OP_BINARY, "raw", 3, WSX_SEND_UNCOMPRESSED),
        WSX_OK);
    size_t wn;
    const uint8_t *wp = since(tx, from, &wn);
    wire w;
    wire_decode(wp, wn, &w);
    REQUIRE(w.n == 3);
    CHECK_INT(w.m[0].rsv, 0);
    CHECK_MEM(w.m[0].payload.p, w.m[0].payload.len, big, sizeof big);
    CHECK_INT(w.m[1].rsv, WSX_RSV1);
    CHECK(w.m[1].payload.len < sizeof big / 4);
    CHECK_INT(w.m[2].rsv, 0);
    CHECK_MEM(w.m[2].payload.p, w.m[2].payload.len, "raw", 3);
    wire_free(&w);
    h_pump(&dp.p, H_BYTES, 0);
    CHECK_INT(rx->n_message, 3);
    CHECK_INT(rx->n_error, 0);
    CHECK_MEM(rx->msg.p, rx->msg.len, "raw", 3);
    dpair_free(&dp);
  }
}

/* wsx_deflate_options.threshold: shorter messages go out with RSV1 clear,
 * messages of at least `threshold` bytes compressed. */
TEST(threshold_uncompressed) {
  wsx_deflate_options d = dopt(0, 0, 0, 0);
  d.threshold = 100;
  H_EACH_ROLE(sender) {
    dpair dp;
    REQUIRE(dpair_open(&dp, &d, &d, NULL, NULL));
    hrec *tx = sender == H_CLIENT ? &dp.p.c : &dp.p.s;
    hrec *rx = sender == H_CLIENT ? &dp.p.s : &dp.p.c;
    size_t from = tx->out.len;
    uint8_t m[100];
    json_fill(m, sizeof m, 2);
    CHECK_INT(wsx_driver_send_text(tx->d, (const char *)m, 99), WSX_OK);
    CHECK_INT(wsx_driver_send_text(tx->d, (const char *)m, 100), WSX_OK);
    CHECK_INT(wsx_driver_send_text(tx->d, "", 0), WSX_OK);
    size_t wn;
    const uint8_t *wp = since(tx, from, &wn);
    wire w;
    wire_decode(wp, wn, &w);
    REQUIRE(w.n == 3);
    CHECK_INT(w.m[0].rsv, 0);
    CHECK_INT((int)w.m[0].payload.len, 99);
    CHECK_INT(w.m[1].rsv, WSX_RSV1);
    CHECK_INT(w.m[2].rsv, 0);
    wire_free(&w);
    h_pump(&dp.p, H_RANDOM, 5);
    CHECK_INT(rx->n_message, 3);
    CHECK_INT(rx->n_error, 0);
    dpair_free(&dp);
  }
}

/* RFC 7692 6.1: control frames (ping, pong, close) are never compressed,
 * even with threshold 0 and a payload that would compress. */
TEST(control_frames_never_compressed) {
  wsx_deflate_options d = dopt(0, 0, 0, 0);
  H_EACH_ROLE(sender) {
    dpair dp;
    REQUIRE(dpair_open(&dp, &d, &d, NULL, NULL));
    hrec *tx = sender == H_CLIENT ? &dp.p.c : &dp.p.s;
    hrec *rx = sender == H_CLIENT ? &dp.p.s : &dp.p.c;
    size_t from = tx->out.len;
    const char *rep =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    CHECK_INT(wsx_driver_ping(tx->d, rep, strlen(rep), NULL, NULL), WSX_OK);
    CHECK_INT(wsx_driver_pong(tx->d, rep, strlen(rep)), WSX_OK);
    CHECK_INT(wsx_driver_close(tx->d, 1000, rep), WSX_OK);
    size_t wn;
    const uint8_t *wp = since(tx, from, &wn);
    wire w;
    wire_decode(wp, wn, &w);
    CHECK(!w.bad);
    CHECK_INT(w.n_ctrl, 3);
    CHECK(!w.ctrl_rsv);
    wire_free(&w);
    h_pump(&dp.p, H_WHOLE, 0);
    CHECK_INT(rx->n_ping, 1);
    CHECK_INT(rx->n_pong, 1);
    CHECK_INT(rx->n_error, 0);
    CHECK_INT(rx->n_close, 1);
    CHECK_INT(tx->n_close, 1);
    /* The answers to our control frames are not compressed either. */
    size_t rn;
    const uint8_t *rp = since(rx, 0, &rn);
    wire_decode(rp, rn, &w);
    CHECK(!w.ctrl_rsv);
    wire_free(&w);
    dpair_free(&dp);
  }
}

/* ---- negotiation failures and corner cases ---- */

/* Client under test; `resp_ext` is the server's Sec-WebSocket-Extensions.
 * Returns 1 if the connection opened. */
static int client_with_response(const wsx_deflate_options *co,
                                const char *resp_ext, hrec *r) {
  raw_begin(co);
  d_run(r, H_CLIENT, NULL, resp_ext, (const uint8_t *)"", 0, H_WHOLE, 0);
  int opened = r->n_open == 1;
  return opened;
}

/* RFC 6455 9.1 / 4.1: a client fails the connection when the server's
 * response names an extension it did not offer, and RFC 7692 5/7 when the
 * permessage-deflate parameters are invalid or do not honour the offer. */
TEST(client_refuses_bad_responses) {
  static const struct {
    int snct, cnct, sbits, cbits;
    const char *resp;
  } cases[] = {
      {0, 0, 0, 0, "x-webkit-deflate-frame"},
      {0, 0, 0, 0, PMD ", x-unknown"},
      {0, 0, 0, 0, PMD ", " PMD},
      {0, 0, 0, 0, PMD "; foo=1"},
      {0, 0, 0, 0, PMD "; server_no_context_takeover=1"},
      {0, 0, 0, 0,
       PMD "; server_no_context_takeover; server_no_context_takeover"},
      {0, 0, 0, 0, PMD "; server_max_window_bits=16"},
      {0, 0, 0, 0, PMD "; server_max_window_bits=7"},
      {0, 0, 0, 0, PMD "; server_max_window_bits=09"},
      {0, 0, 0, 0, PMD "; server_max_window_bits"},
      {0, 0, 0, 0, PMD "; client_max_window_bits"},
      {0, 0, 0, 0, PMD "; client_max_window_bits=0"},
      {0, 0, 0, 0, PMD "; client_max_window_bits=\"16\""},
      {0, 0, 0, 0,
       PMD "; server_max_window_bits=10; server_max_window_bits=10"},
      {0, 0, 0, 0, PMD ";"},
      {0, 0, 0, 0, PMD "; =1"},
      /* What the client asked of the server was not granted. */
      {1, 0, 0, 0, PMD},
      {0, 0, 10, 0, PMD},
      {0, 0, 10, 0, PMD "; server_max_window_bits=11"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    wsx_deflate_options co =
        dopt(cases[i].snct, cases[i].cnct, cases[i].sbits, cases[i].cbits);
    hrec r;
    int opened = client_with_response(&co, cases[i].resp, &r);
    if (opened || r.n_close != 1 || r.n_error != 1 ||
        wsx_driver_ready_state(r.d) != WSX_CLOSED)
      TEST_FAILF_("response \"%s\": opened=%d closes=%d errors=%d (log %s)",
                  cases[i].resp, opened, r.n_close, r.n_error, hb_cstr(&r.log));
    else if (!r.err_msg[0])
      TEST_FAILF_("response \"%s\": error without a message", cases[i].resp);
    h_rec_free(&r);
    raw_end();
  }
  /* Control: valid responses open. */
  static const char *good[] = {
      PMD,
      PMD "; server_no_context_takeover; client_no_context_takeover",
      PMD "; server_max_window_bits=8; client_max_window_bits=8",
      PMD "; client_max_window_bits=\"12\"",
  };
  for (size_t i = 0; i < 4; i++) {
    wsx_deflate_options co = dopt(0, 0, 0, 0);
    hrec r;
    if (!client_with_response(&co, good[i], &r))
      TEST_FAILF_("valid response \"%s\" refused: %s", good[i],
                  hb_cstr(&r.log));
    else
      CHECK_STR(wsx_driver_extensions(r.d), good[i]);
    h_rec_free(&r);
    raw_end();
  }
}

/* Server under test answering a raw offer; writes the response's
 * Sec-WebSocket-Extensions ("" if none) and returns 1 if it opened. */
static int server_answer(const wsx_deflate_options *so, const char *offer,
                         char *resp, size_t cap) {
  raw_begin(so);
  hrec r;
  d_run(&r, H_SERVER, NULL, offer, (const uint8_t *)"", 0, H_WHOLE, 0);
  resp[0] = 0;
  h_head_value(&r.out, "Sec-WebSocket-Extensions", resp, cap);
  int opened = r.n_open == 1;
  h_rec_free(&r);
  raw_end();
  return opened;
}

/* RFC 7692 7 and 5.1: the server accepts the first acceptable offer,
 * declines invalid ones (and the connection still opens without deflate),
 * and answers with at most the offered window. */
TEST(server_answers_offers) {
  static const struct {
    int sbits, cbits, snct, cnct;
    const char *offer, *want;
  } cases[] = {
      {0, 0, 0, 0, PMD, PMD},
      {0, 0, 0, 0, PMD "; client_max_window_bits", PMD},
      {0, 0, 0, 0, PMD "; server_no_context_takeover",
       PMD "; server_no_context_takeover"},
      {0, 0, 0, 0, PMD "; client_no_context_takeover",
       PMD "; client_no_context_takeover"},
      {0, 0, 0, 0, PMD "; server_max_window_bits=8",
       PMD "; server_max_window_bits=8"},
      {0, 0, 0, 0, PMD "; server_max_window_bits=12",
       PMD "; server_max_window_bits=12"},
      {0, 0, 0, 0, PMD "; server_max_window_bits=15",
       PMD "; server_max_window_bits=15"},
      /* The client's hint is taken up: a smaller inflate window for us. */
      {0, 0, 0, 0, PMD "; client_max_window_bits=9",
       PMD "; client_max_window_bits=9"},
      {0, 10, 0, 0, PMD "; client_max_window_bits",
       PMD "; client_max_window_bits=10"},
      {0, 10, 0, 0, PMD "; client_max_window_bits=8",
       PMD "; client_max_window_bits=8"},
      {0, 10, 0, 0, PMD "; client_max_window_bits=12",
       PMD "; client_max_window_bits=10"},
      {11, 0, 0, 0, PMD, PMD "; server_max_window_bits=11"},
      {11, 0, 0, 0, PMD "; server_max_window_bits=9",
       PMD "; server_max_window_bits=9"},
      {0, 0, 1, 1, PMD,
       PMD "; server_no_context_takeover; client_no_context_takeover"},
      /* Invalid offers are declined; the next offer is tried. */
      {0, 0, 0, 0, PMD "; server_max_window_bits", ""},
      {0, 0, 0, 0, PMD "; server_max_window_bits=7", ""},
      {0, 0, 0, 0, PMD "; client_max_window_bits=16", ""},
      {0, 0, 0, 0, PMD "; foo", ""},
      {0, 0, 0, 0, PMD "; server_no_context_takeover=x", ""},
      {0, 0, 0, 0, PMD "; server_max_window_bits=7, " PMD, PMD},
      {0, 0, 0, 0,
       PMD "; foo, " PMD "; server_max_window_bits=10; "
           "client_max_window_bits",
       PMD "; server_max_window_bits=10"},
      /* A server that must bound the client's window declines offers
       * without client_max_window_bits. */
      {0, 10, 0, 0, PMD, ""},
      {0, 10, 0, 0, PMD ", " PMD "; client_max_window_bits",
       PMD "; client_max_window_bits=10"},
      /* Not ours: ignored. */
      {0, 0, 0, 0, "x-webkit-deflate-frame, " PMD, PMD},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    wsx_deflate_options so =
        dopt(cases[i].snct, cases[i].cnct, cases[i].sbits, cases[i].cbits);
    char resp[256];
    if (!server_answer(&so, cases[i].offer, resp, sizeof resp))
      TEST_FAILF_("offer \"%s\": server did not open", cases[i].offer);
    else if (strcmp(resp, cases[i].want))
      TEST_FAILF_("offer \"%s\" (server sbits=%d cbits=%d): answered \"%s\","
                  " expected \"%s\"",
                  cases[i].offer, cases[i].sbits, cases[i].cbits, resp,
                  cases[i].want);
  }
}

/* ---- RSV1 claimed twice ---- */

static int fx_offer(void *cfg, wsx_ext_strbuf *out) {
  (void)cfg;
  return wsx_ext_strbuf_append(out, "x-rsv1", 6);
}
static int fx_activate(void *cfg, const wsx_extension_offer *r,
                       const wsx_allocator *a, void **s) {
  (void)cfg, (void)r, (void)a;
  *s = NULL;
  return WSX_OK;
}
static int fx_accept(void *cfg, const wsx_extension_offer *o, size_t n,
                     wsx_ext_strbuf *out, const wsx_allocator *a, void **s) {
  (void)cfg, (void)o, (void)n, (void)a;
  *s = NULL;
  return wsx_ext_strbuf_append(out, "x-rsv1", 6);
}
static int fx_process(void *s, int op, unsigned *rsv, const uint8_t *p,
                      size_t n, unsigned flags, wsx_ext_sink *sink) {
  (void)s, (void)op, (void)rsv, (void)flags;
  return n ? sink->write(sink, p, n) : WSX_OK;
}
static void fx_free(void *s) { (void)s; }
static const wsx_extension_type fx_type = {
    sizeof(wsx_extension_type), "x-rsv1", WSX_RSV1, fx_offer, fx_activate,
    fx_accept, fx_process, fx_process, fx_free};

/* RFC 6455 9.1 / issue 5: two extensions claiming RSV1 cannot both be in
 * the pipeline: a server accepts only the first it negotiates; a client
 * refuses a response naming both. */
TEST(rsv1_claimed_twice) {
  wsx_extension fx = {&fx_type, NULL};
  wsx_deflate_options d = dopt(0, 0, 0, 0);
  for (int order = 0; order < 2; order++) {
    dpair dp;
    memset(&dp, 0, sizeof dp);
    dp.ce = wsx_deflate_new(&d);
    dp.se = wsx_deflate_new(&d);
    REQUIRE(h_client_new(&dp.p.c, "ws://localhost/", NULL, NULL));
    REQUIRE(h_server_new(&dp.p.s, NULL, NULL));
    if (order == 0) {
      wsx_driver_add_extension(dp.p.c.d, dp.ce);
      wsx_driver_add_extension(dp.p.c.d, &fx);
    } else {
      wsx_driver_add_extension(dp.p.c.d, &fx);
      wsx_driver_add_extension(dp.p.c.d, dp.ce);
    }
    wsx_driver_add_extension(dp.p.s.d, dp.se);
    wsx_driver_add_extension(dp.p.s.d, &fx);
    REQUIRE(wsx_driver_start(dp.p.c.d) == WSX_OK);
    h_pump(&dp.p, H_WHOLE, 0);
    CHECK_INT(dp.p.c.n_open, 1);
    CHECK_INT(dp.p.s.n_open, 1);
    /* The client's first preference wins; the other is declined. */
    CHECK_STR(wsx_driver_extensions(dp.p.c.d),
              order == 0 ? "permessage-deflate" : "x-rsv1");
    CHECK_STR(wsx_driver_extensions(dp.p.s.d), wsx_driver_extensions(dp.p.c.d));
    /* Messages still flow (compressed or passed through). */
    CHECK_INT(wsx_driver_send_text(dp.p.c.d, "hi there", 8), WSX_OK);
    h_pump(&dp.p, H_WHOLE, 0);
    CHECK_STR(hb_cstr(&dp.p.s.log), "open;message:text:8:hi there");
    dpair_free(&dp);
  }
  /* A response naming both is refused by the client. */
  wsx_extension *de = wsx_deflate_new(&d);
  hrec r;
  REQUIRE(h_client_new(&r, NULL, NULL, NULL));
  wsx_driver_add_extension(r.d, de);
  wsx_driver_add_extension(r.d, &fx);
  REQUIRE(wsx_driver_start(r.d) == WSX_OK);
  hb resp = {0};
  h_server_response(
      &r, "Sec-WebSocket-Extensions: permessage-deflate, x-rsv1\r\n", &resp);
  h_feed(&r, resp.p, resp.len, H_WHOLE, 0, 0);
  CHECK_INT(r.n_open, 0);
  CHECK_INT(r.n_close, 1);
  CHECK(strstr(r.err_msg, "RSV") != NULL);
  hb_free(&resp);
  h_rec_free(&r);
  wsx_deflate_free(de);
}

/* free_idle_streams with no context takeover: the streams are released
 * between messages (an idle connection holds no zlib memory) and traffic
 * is unaffected. */
TEST(free_idle_streams_between_messages) {
  hcount cc, sc;
  memset(&cc, 0, sizeof cc);
  memset(&sc, 0, sizeof sc);
  wsx_allocator ca = hcount_allocator(&cc), sa = hcount_allocator(&sc);
  wsx_driver_options co, so;
  co = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
  so = (wsx_driver_options)WSX_DRIVER_OPTIONS_INIT;
  co.allocator = &ca;
  so.allocator = &sa;
  wsx_deflate_options d = dopt(1, 1, 0, 0);
  d.free_idle_streams = 1;
  dpair dp;
  REQUIRE(dpair_open(&dp, &d, &d, &co, &so));
  size_t idle_c = cc.cur, idle_s = sc.cur;
  uint8_t m[20000];
  json_fill(m, sizeof m, 3);
  for (int i = 0; i < 3; i++) {
    CHECK_INT(wsx_driver_send_text(dp.p.c.d, (const char *)m, sizeof m),
              WSX_OK);
    h_pump(&dp.p, H_RANDOM, (uint64_t)i);
    CHECK_INT(wsx_driver_send_text(dp.p.s.d, (const char *)m, sizeof m),
              WSX_OK);
    h_pump(&dp.p, H_RANDOM, (uint64_t)i + 9);
  }
  CHECK_INT(dp.p.s.n_message, 3);
  CHECK_INT(dp.p.c.n_message, 3);
  CHECK_MEM(dp.p.s.msg.p, dp.p.s.msg.len, m, sizeof m);
  /* zlib's deflate state alone is > 128 KiB; the idle figures must be far
   * below that, and back where they were before the traffic (allowing
   * the driver's small reusable buffers). */
  CHECK(cc.peak > idle_c + 100 * KIB);
  CHECK(cc.cur < idle_c + 48 * KIB);
  CHECK(sc.cur < idle_s + 48 * KIB);
  dpair_free(&dp);
}

TEST_MAIN(RUN(rfc7692_examples); RUN(rsv1_on_continuation_1002);
          RUN(rsv1_on_control_1002); RUN(rsv_without_negotiation_1002);
          RUN(corrupt_data_1007); RUN(invalid_utf8_after_inflate_1007);
          RUN(utf8_and_limit_same_error_at_every_split);
          RUN(window_violation_same_events_at_every_split);
          RUN(bomb_small_1009); RUN(bomb_gigabytes_1009);
          RUN(max_length_inflated); RUN(send_uncompressed_flag);
          RUN(threshold_uncompressed); RUN(control_frames_never_compressed);
          RUN(client_refuses_bad_responses); RUN(server_answers_offers);
          RUN(rsv1_claimed_twice); RUN(free_idle_streams_between_messages);
          RUN(sizes_unfragmented); RUN(sizes_fragmented_256);
          RUN(sizes_1mib_text_byte_by_byte);
          RUN(negotiation_matrix_server_window);
          RUN(negotiation_matrix_client_window))
