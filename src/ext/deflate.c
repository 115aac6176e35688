/*
 * permessage-deflate (RFC 7692) on zlib.
 *
 * Window bits of 8. zlib (since 1.2.9) refuses a raw deflate stream with an
 * 8-bit window, and older versions silently used 9. The RFC lets a
 * decompressor use a larger window than the compressor did, so we inflate
 * with max(bits, 9) always. For compression, when we promised a window of
 * 256 bytes we still initialise zlib with 9 bits: zlib never emits a match
 * further back than w_size - MIN_LOOKAHEAD (512 - 262 = 250 bytes at 9
 * bits), which fits the 256-byte window we promised, with or without context
 * takeover. tests/unit/test_deflate.c checks this by inflating our 8-bit
 * output with a real 256-byte-window inflater, one output byte at a time.
 * See docs/deflate-memory.md.
 *
 * Incoming data is inflated frame by frame into a 16 KiB stack buffer and
 * handed to the sink piece by piece; the sink enforces max_length on the
 * inflated size, so a decompression bomb stops as soon as it is exceeded.
 */
#include "common/abi.h"
#include "ext/ext_int.h"
#include "wsx/driver.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define PMD_NAME "permessage-deflate"
#define PMD_CHUNK 16384 /* bytes of output produced per zlib call */
#define PMD_STAGE 64    /* canonical input piece under a 2^15 window */

/* The configuration behind a wsx_extension (ext is the first member). */
typedef struct pmd_config {
  wsx_extension ext;    /* handed to the application */
  wsx_allocator self;   /* allocates this struct */
  wsx_allocator zalloc; /* for zlib, when has_zalloc */
  int has_zalloc;       /* opts.allocator was given */
  int level;            /* zlib level, -1 = zlib default */
  int mem_level;        /* 1..9 */
  int server_bits;      /* 8..15 */
  int client_bits;      /* 8..15 */
  int server_nct;       /* server_no_context_takeover wanted */
  int client_nct;       /* client_no_context_takeover wanted */
  size_t threshold;     /* shorter messages go out uncompressed */
  int free_idle;        /* free_idle_streams */
} pmd_config;

/* Negotiated per-connection state. */
typedef struct pmd_session {
  wsx_allocator alloc;  /* allocated this struct (the driver's) */
  wsx_allocator zalloc; /* zlib's memory; z_stream.opaque points here */
  int level, mem_level; /* compressor settings */
  int tx_bits;          /* window we promised to compress within (8..15) */
  int rx_bits;          /* window the peer compresses within (8..15) */
  int tx_nct;           /* we reset our compressor after each message */
  int rx_nct;           /* the peer resets after each message */
  int free_idle;        /* free streams between messages when *_nct */
  size_t threshold;     /* see wsx_deflate_options */
  int tx_live, rx_live; /* tx / rx z_stream initialised */
  int tx_compressing;   /* the outgoing message in progress gets RSV1 */
  size_t tx_msg_len;    /* its input bytes so far */
  uint8_t tx_hold[4];   /* output held back: maybe the 00 00 FF FF tail */
  size_t tx_held;       /* bytes in tx_hold */
  int rx_compressed;    /* the incoming message in progress had RSV1 */
  int rx_ended;         /* the peer ended its deflate stream (BFINAL) in
                           this message; the rest of it is ignored */
  int tx_broken;        /* compression failed mid-message; sticky */
  int rx_broken;        /* decompression failed mid-message; sticky */
  size_t rx_staged;     /* bytes in rx_stage (windows under 15 bits) */
  uint8_t rx_stage[PMD_STAGE]; /* input waiting for a whole piece */
  /* The zlib streams, allocated (with zalloc) only while live, so an idle
   * connection that never (de)compressed holds neither. */
  z_stream *tx; /* compressor (non-NULL when tx_live) */
  z_stream *rx; /* decompressor (non-NULL when rx_live) */
} pmd_session;

/* Parameters of one offer or response; 0 = absent. */
typedef struct pmd_params {
  int server_nct, client_nct;
  int server_bits; /* 8..15 */
  int client_bits; /* 8..15, or -1: present without a value (offers only) */
} pmd_params;

/* ---- zlib memory through the wsx allocator ----------------------------- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  if (size && items > SIZE_MAX / size)
    return Z_NULL;
  return wsx__malloc((const wsx_allocator *)opaque, (size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p) {
  wsx__free((const wsx_allocator *)opaque, p);
}

static int zlib_bits(int bits) { return bits < 9 ? 9 : bits; }

static int tx_open(pmd_session *s) {
  if (s->tx_live)
    return WSX_OK;
  if (!(s->tx = wsx__malloc(&s->zalloc, sizeof *s->tx)))
    return WSX_E_NOMEM;
  memset(s->tx, 0, sizeof *s->tx);
  s->tx->zalloc = z_alloc;
  s->tx->zfree = z_free;
  s->tx->opaque = &s->zalloc;
  /* The hash table and the pending buffer (memLevel) need not outgrow the
   * negotiated window: 2^(memLevel+7) hash heads of 2 bytes and 2^(memLevel
   * + 8) pending bytes, against a 2^bits window. 15 bits keeps memLevel. */
  int bits = zlib_bits(s->tx_bits), ml = s->mem_level;
  if (ml > bits - 6)
    ml = bits - 6;
  int rc = deflateInit2(s->tx, s->level, Z_DEFLATED, -bits, ml,
                        Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) {
    wsx__free(&s->zalloc, s->tx);
    s->tx = NULL;
    return rc == Z_MEM_ERROR ? WSX_E_NOMEM : WSX_E_INTERNAL;
  }
  s->tx_live = 1;
  return WSX_OK;
}

static int rx_open(pmd_session *s) {
  if (s->rx_live)
    return WSX_OK;
  if (!(s->rx = wsx__malloc(&s->zalloc, sizeof *s->rx)))
    return WSX_E_NOMEM;
  memset(s->rx, 0, sizeof *s->rx);
  s->rx->zalloc = z_alloc;
  s->rx->zfree = z_free;
  s->rx->opaque = &s->zalloc;
  int rc = inflateInit2(s->rx, -zlib_bits(s->rx_bits));
  if (rc != Z_OK) {
    wsx__free(&s->zalloc, s->rx);
    s->rx = NULL;
    return rc == Z_MEM_ERROR ? WSX_E_NOMEM : WSX_E_INTERNAL;
  }
  s->rx_live = 1;
  return WSX_OK;
}

static void tx_close(pmd_session *s) {
  if (s->tx_live)
    deflateEnd(s->tx);
  wsx__free(&s->zalloc, s->tx);
  s->tx = NULL;
  s->tx_live = 0;
}

static void rx_close(pmd_session *s) {
  if (s->rx_live)
    inflateEnd(s->rx);
  wsx__free(&s->zalloc, s->rx);
  s->rx = NULL;
  s->rx_live = 0;
  s->rx_ended = 0;
  s->rx_staged = 0;
}

/* ---- parameters -------------------------------------------------------- */

/* RFC 7692 7.1.2: 8..15 written without leading zeros. */
static int parse_bits(const char *v, size_t n) {
  if (n == 1 && v[0] >= '8' && v[0] <= '9')
    return v[0] - '0';
  if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
    return 10 + (v[1] - '0');
  return 0;
}

/*
 * Validates the parameters of one offer (bare client_max_window_bits
 * allowed) or response (not allowed). RFC 7692 7: unknown names, repeated
 * names and bad values make it invalid. Returns 0 or -1.
 */
static int parse_params(const wsx_extension_offer *o, int is_offer,
                        pmd_params *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < o->num_params; i++) {
    const wsx_extension_param *p = &o->params[i];
    int *slot, is_bits;
    if (wsx__ext_span_eq(p->name, p->name_len, "server_no_context_takeover"))
      slot = &out->server_nct, is_bits = 0;
    else if (wsx__ext_span_eq(p->name, p->name_len,
                              "client_no_context_takeover"))
      slot = &out->client_nct, is_bits = 0;
    else if (wsx__ext_span_eq(p->name, p->name_len, "server_max_window_bits"))
      slot = &out->server_bits, is_bits = 1;
    else if (wsx__ext_span_eq(p->name, p->name_len, "client_max_window_bits"))
      slot = &out->client_bits, is_bits = 1;
    else
      return -1;
    if (*slot)
      return -1;
    if (!is_bits) {
      if (p->value)
        return -1;
      *slot = 1;
    } else if (!p->value) {
      /* Only an offer's client_max_window_bits may come without a value. */
      if (!is_offer || slot != &out->client_bits)
        return -1;
      *slot = -1;
    } else if (!(*slot = parse_bits(p->value, p->value_len))) {
      return -1;
    }
  }
  return 0;
}

static int put(wsx_ext_strbuf *out, const char *s) {
  return wsx_ext_strbuf_append(out, s, strlen(s));
}

static int put_bits(wsx_ext_strbuf *out, const char *name, int bits) {
  char tmp[64];
  int n = snprintf(tmp, sizeof tmp, "; %s=%d", name, bits);
  if (n < 0 || (size_t)n >= sizeof tmp)
    return WSX_E_INTERNAL;
  return wsx_ext_strbuf_append(out, tmp, (size_t)n);
}

/* ---- sessions ----------------------------------------------------------- */

static int session_new(const pmd_config *c, const wsx_allocator *alloc,
                       void **session) {
  wsx_allocator a;
  wsx__alloc_init(&a, alloc);
  pmd_session *s = wsx__malloc(&a, sizeof *s);
  if (!s)
    return WSX_E_NOMEM;
  memset(s, 0, sizeof *s);
  s->alloc = a;
  s->zalloc = c->has_zalloc ? c->zalloc : a;
  s->level = c->level;
  s->mem_level = c->mem_level;
  s->threshold = c->threshold;
  s->free_idle = c->free_idle;
  *session = s;
  return WSX_OK;
}

static void pmd_session_free(void *session) {
  pmd_session *s = session;
  if (!s)
    return;
  tx_close(s);
  rx_close(s);
  wsx_allocator a = s->alloc;
  wsx__free(&a, s);
}

/* ---- negotiation -------------------------------------------------------- */

static int pmd_client_offer(void *config, wsx_ext_strbuf *out) {
  const pmd_config *c = config;
  int rc = put(out, PMD_NAME);
  if (!rc && c->server_nct)
    rc = put(out, "; server_no_context_takeover");
  if (!rc && c->client_nct)
    rc = put(out, "; client_no_context_takeover");
  if (!rc && c->server_bits < 15)
    rc = put_bits(out, "server_max_window_bits", c->server_bits);
  /* Always offered: it tells the server it may limit our window. */
  if (!rc)
    rc = c->client_bits < 15
             ? put_bits(out, "client_max_window_bits", c->client_bits)
             : put(out, "; client_max_window_bits");
  return rc;
}

static int pmd_client_activate(void *config, const wsx_extension_offer *resp,
                               const wsx_allocator *alloc, void **session) {
  const pmd_config *c = config;
  pmd_params p;
  if (parse_params(resp, 0, &p))
    return WSX_E_EXTENSION;
  /* What we asked of the server it must grant (RFC 7692 7.1.1.1, 7.1.2.1). */
  if (c->server_nct && !p.server_nct)
    return WSX_E_EXTENSION;
  if (c->server_bits < 15 && (!p.server_bits || p.server_bits > c->server_bits))
    return WSX_E_EXTENSION;
  /* client_max_window_bits is always in our offer, so any valid value in
   * the response is allowed. */
  int rc = session_new(c, alloc, session);
  if (rc)
    return rc;
  pmd_session *s = *session;
  s->tx_bits = c->client_bits;
  if (p.client_bits && p.client_bits < s->tx_bits)
    s->tx_bits = p.client_bits;
  s->rx_bits = p.server_bits ? p.server_bits : 15;
  s->tx_nct = c->client_nct || p.client_nct;
  s->rx_nct = p.server_nct;
  return WSX_OK;
}

/*
 * Decides the response to one valid offer. Returns 0 and fills the
 * negotiated values, or -1 when this server cannot accept the offer: it
 * wants the client's window bounded (client_bits < 15) but the client did
 * not offer client_max_window_bits, so no response could bound it.
 */
static int server_terms(const pmd_config *c, const pmd_params *p,
                        pmd_params *resp) {
  memset(resp, 0, sizeof *resp);
  resp->server_nct = p->server_nct || c->server_nct;
  /* The client's hint is echoed so its promise becomes binding and we may
   * reset (or free) our inflater between messages. */
  resp->client_nct = p->client_nct || c->client_nct;
  int sbits = c->server_bits;
  if (p->server_bits && p->server_bits < sbits)
    sbits = p->server_bits;
  if (p->server_bits || sbits < 15)
    resp->server_bits = sbits;
  if (p->client_bits) {
    int cbits = c->client_bits;
    if (p->client_bits > 0 && p->client_bits < cbits)
      cbits = p->client_bits;
    if (cbits < 15)
      resp->client_bits = cbits;
  } else if (c->client_bits < 15) {
    return -1;
  }
  return 0;
}

static int write_response(const pmd_params *r, wsx_ext_strbuf *out) {
  int rc = put(out, PMD_NAME);
  if (!rc && r->server_nct)
    rc = put(out, "; server_no_context_takeover");
  if (!rc && r->client_nct)
    rc = put(out, "; client_no_context_takeover");
  if (!rc && r->server_bits)
    rc = put_bits(out, "server_max_window_bits", r->server_bits);
  if (!rc && r->client_bits)
    rc = put_bits(out, "client_max_window_bits", r->client_bits);
  return rc;
}

static int pmd_server_accept(void *config, const wsx_extension_offer *offers,
                             size_t num_offers, wsx_ext_strbuf *out,
                             const wsx_allocator *alloc, void **session) {
  const pmd_config *c = config;
  for (size_t i = 0; i < num_offers; i++) {
    pmd_params p, r;
    /* RFC 7692 7: an invalid offer is declined; try the next one. */
    if (parse_params(&offers[i], 1, &p) || server_terms(c, &p, &r))
      continue;
    int rc = write_response(&r, out);
    if (!rc)
      rc = session_new(c, alloc, session);
    if (rc)
      return rc;
    pmd_session *s = *session;
    s->tx_bits = r.server_bits ? r.server_bits : 15;
    s->rx_bits = r.client_bits ? r.client_bits : 15;
    s->tx_nct = r.server_nct;
    s->rx_nct = r.client_nct;
    return WSX_OK;
  }
  return 1;
}

/* ---- incoming ----------------------------------------------------------- */

/*
 * Inflates data[0..len) and writes all output through the sink. A block with
 * BFINAL set ends the sender's deflate stream (RFC 7692 7.2.3.4); what
 * follows it in the message can only be padding (the RFC's own example adds
 * a 0x00) and our 00 00 FF FF, so it is ignored and the inflater restarts
 * with the next message.
 */
static int inflate_feed(pmd_session *s, const uint8_t *data, size_t len,
                        wsx_ext_sink *sink) {
  uint8_t buf[PMD_CHUNK];
  if (s->rx_ended)
    return WSX_OK;
  s->rx->next_in = (Bytef *)(uintptr_t)data;
  /* Frame payloads can exceed uInt; feed them in uInt-sized slices. */
  size_t left = len;
  do {
    uInt slice = left > (uInt)-1 ? (uInt)-1 : (uInt)left;
    s->rx->avail_in = slice;
    for (;;) {
      s->rx->next_out = buf;
      s->rx->avail_out = sizeof buf;
      int zrc = inflate(s->rx, Z_SYNC_FLUSH);
      size_t produced = sizeof buf - s->rx->avail_out;
      if (produced) {
        int rc = sink->write(sink, buf, produced);
        if (rc)
          return rc;
      }
      if (zrc == Z_STREAM_END) {
        s->rx_ended = 1;
        return WSX_OK;
      } else if (zrc == Z_MEM_ERROR) {
        return WSX_E_NOMEM;
      } else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
        return WSX_E_EXTENSION; /* Z_DATA_ERROR, Z_NEED_DICT */
      }
      if (s->rx->avail_in == 0 && s->rx->avail_out != 0)
        break;
      if (zrc == Z_BUF_ERROR && s->rx->avail_out != 0)
        break; /* no progress possible */
    }
    left -= slice - s->rx->avail_in;
    if (s->rx->avail_in)
      return WSX_E_INTERNAL;
  } while (left);
  return WSX_OK;
}

/*
 * Feeds compressed input to inflate_feed. Under a 2^15 window, zlib checks
 * a match distance against the window plus the output of the current
 * inflate() call, which depends on how the input was split into calls: a
 * peer that overshoots its window would be accepted or refused depending
 * on TCP segmentation. So such streams go to zlib in canonical pieces of
 * PMD_STAGE bytes (the last piece at the end of the message), and every
 * split of the input gives the same result. At 15 bits no DEFLATE distance
 * exceeds the window and the input goes straight through.
 */
static int inflate_in(pmd_session *s, const uint8_t *data, size_t len, int end,
                      wsx_ext_sink *sink) {
  int rc = WSX_OK;
  if (zlib_bits(s->rx_bits) == 15)
    return len ? inflate_feed(s, data, len, sink) : WSX_OK;
  while (len && !rc) {
    if (s->rx_staged == 0 && len >= PMD_STAGE) {
      rc = inflate_feed(s, data, PMD_STAGE, sink);
      data += PMD_STAGE;
      len -= PMD_STAGE;
      continue;
    }
    size_t k = PMD_STAGE - s->rx_staged;
    if (k > len)
      k = len;
    memcpy(s->rx_stage + s->rx_staged, data, k);
    s->rx_staged += k;
    data += k;
    len -= k;
    if (s->rx_staged == PMD_STAGE) {
      s->rx_staged = 0;
      rc = inflate_feed(s, s->rx_stage, PMD_STAGE, sink);
    }
  }
  if (!rc && end && s->rx_staged) {
    size_t n = s->rx_staged;
    s->rx_staged = 0;
    rc = inflate_feed(s, s->rx_stage, n, sink);
  }
  return rc;
}

static int pmd_process_incoming(void *session, int opcode, unsigned *rsv,
                                const uint8_t *data, size_t len, unsigned flags,
                                wsx_ext_sink *sink) {
  static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
  pmd_session *s = session;
  if (s->rx_broken)
    return WSX_E_EXTENSION;
  if (flags & WSX_EXT_FIRST) {
    s->rx_compressed = opcode < 8 && (*rsv & WSX_RSV1);
    s->rx_staged = 0;
  }
  if (!s->rx_compressed)
    return len ? sink->write(sink, data, len) : WSX_OK;
  *rsv &= ~(unsigned)WSX_RSV1;
  int rc = rx_open(s);
  if (!rc && len)
    rc = inflate_in(s, data, len, 0, sink);
  if (!rc && (flags & WSX_EXT_LAST)) {
    rc = inflate_in(s, tail, sizeof tail, 1, sink);
    if (!rc && s->rx_nct && s->free_idle) {
      rx_close(s);
    } else if (!rc && (s->rx_nct || s->rx_ended)) {
      s->rx_ended = 0;
      if (inflateReset(s->rx) != Z_OK)
        rc = WSX_E_INTERNAL;
    }
  }
  if (rc)
    s->rx_broken = 1;
  return rc;
}

/* ---- outgoing ----------------------------------------------------------- */

/*
 * Deflates data[0..len) and writes the output, except that the last 4 bytes
 * produced so far are held back in s->tx_hold: with Z_SYNC_FLUSH at the end
 * of the message they are the 00 00 FF FF that RFC 7692 7.2.1 removes, and
 * they may straddle calls.
 */
static int deflate_chunk(pmd_session *s, const uint8_t *data, size_t len,
                         int last, wsx_ext_sink *sink) {
  uint8_t buf[PMD_CHUNK + 4];
  size_t held = s->tx_held;
  memcpy(buf, s->tx_hold, held);
  size_t left = len;
  s->tx->next_in = (Bytef *)(uintptr_t)data;
  for (;;) {
    uInt slice = left > (uInt)-1 ? (uInt)-1 : (uInt)left;
    s->tx->avail_in = slice;
    int flush = (last && slice == left) ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    for (;;) {
      s->tx->next_out = buf + held;
      s->tx->avail_out = PMD_CHUNK;
      int zrc = deflate(s->tx, flush);
      if (zrc != Z_OK && zrc != Z_BUF_ERROR)
        return zrc == Z_MEM_ERROR ? WSX_E_NOMEM : WSX_E_INTERNAL;
      size_t total = held + (PMD_CHUNK - s->tx->avail_out);
      if (total > 4) {
        int rc = sink->write(sink, buf, total - 4);
        if (rc)
          return rc;
        memmove(buf, buf + total - 4, 4);
        held = 4;
      } else {
        held = total;
      }
      if (s->tx->avail_out != 0)
        break;
    }
    left -= slice;
    if (!left)
      break;
  }
  memcpy(s->tx_hold, buf, held);
  s->tx_held = held;
  return WSX_OK;
}

/* End of a compressed message: flush, drop the tail, honour takeover. */
static int deflate_finish(pmd_session *s, wsx_ext_sink *sink) {
  static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
  static const uint8_t empty = 0x00;
  int rc;
  if (s->tx_msg_len == 0) {
    /* An empty stored block (RFC 7692 7.2.3.6): it leaves the window
     * alone, and zlib refuses a second flush with no input anyway. */
    rc = sink->write(sink, &empty, 1);
  } else {
    rc = deflate_chunk(s, NULL, 0, 1, sink);
    if (!rc && (s->tx_held != 4 || memcmp(s->tx_hold, tail, 4) != 0))
      rc = WSX_E_INTERNAL;
  }
  s->tx_held = 0;
  if (!rc && s->tx_nct && s->tx_live) {
    if (s->free_idle)
      tx_close(s);
    else if (deflateReset(s->tx) != Z_OK)
      rc = WSX_E_INTERNAL;
  }
  return rc;
}

/*
 * Normally called once per message with FIRST|LAST. When another extension
 * sits before this one in the pipeline the message may arrive in pieces
 * (FIRST on the first, LAST on the last); then the threshold cannot be
 * applied, since the length is unknown, and the message is compressed.
 */
static int pmd_process_outgoing(void *session, int opcode, unsigned *rsv,
                                const uint8_t *data, size_t len, unsigned flags,
                                wsx_ext_sink *sink) {
  pmd_session *s = session;
  if (s->tx_broken)
    return WSX_E_EXTENSION;
  if (flags & WSX_EXT_FIRST) {
    /* Control frames are never compressed (RFC 7692 6.1). */
    int whole = (flags & WSX_EXT_LAST) != 0;
    s->tx_compressing = opcode < 8 && !(flags & WSX_EXT_UNCOMPRESSED) &&
                        !(whole && len < s->threshold);
    s->tx_msg_len = 0;
    s->tx_held = 0;
  }
  if (!s->tx_compressing)
    return len ? sink->write(sink, data, len) : WSX_OK;
  *rsv |= WSX_RSV1;
  int rc = WSX_OK;
  if (len) {
    rc = tx_open(s);
    if (!rc)
      rc = deflate_chunk(s, data, len, 0, sink);
    s->tx_msg_len += len;
  }
  if (!rc && (flags & WSX_EXT_LAST))
    rc = deflate_finish(s, sink);
  if (rc)
    s->tx_broken = 1;
  return rc;
}

/* ---- the extension object ---------------------------------------------- */

const wsx_extension_type wsx__deflate_type = {
    sizeof(wsx_extension_type),
    PMD_NAME,
    WSX_RSV1,
    pmd_client_offer,
    pmd_client_activate,
    pmd_server_accept,
    pmd_process_incoming,
    pmd_process_outgoing,
    pmd_session_free,
};

static int bits_ok(int b) { return b == 0 || (b >= 8 && b <= 15); }

wsx_extension *wsx_deflate_new(const wsx_deflate_options *opts) {
  wsx_deflate_options o;
  if (WSX__STRUCT_IN(wsx_deflate_options, &o, opts) != WSX_OK)
    return NULL;
  if (o.level < 0 || o.level > 9 || o.mem_level < 0 || o.mem_level > 9 ||
      !bits_ok(o.server_max_window_bits) || !bits_ok(o.client_max_window_bits))
    return NULL;
  wsx_allocator a;
  wsx__alloc_init(&a, o.allocator);
  pmd_config *c = wsx__malloc(&a, sizeof *c);
  if (!c)
    return NULL;
  memset(c, 0, sizeof *c);
  c->ext.type = &wsx__deflate_type;
  c->ext.config = c;
  c->self = a;
  c->has_zalloc = o.allocator != NULL;
  c->zalloc = a;
  c->level = o.level ? o.level : Z_DEFAULT_COMPRESSION;
  c->mem_level = o.mem_level ? o.mem_level : 8;
  c->server_bits = o.server_max_window_bits ? o.server_max_window_bits : 15;
  c->client_bits = o.client_max_window_bits ? o.client_max_window_bits : 15;
  c->server_nct = o.server_no_context_takeover != 0;
  c->client_nct = o.client_no_context_takeover != 0;
  c->threshold = o.threshold;
  c->free_idle = o.free_idle_streams != 0;
  return &c->ext;
}

void wsx_deflate_free(wsx_extension *ext) {
  if (!ext)
    return;
  pmd_config *c = ext->config;
  wsx_allocator a = c->self;
  wsx__free(&a, c);
}
