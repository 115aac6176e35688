/* The WHATWG event-stream parser ("Interpreting an event stream"). */
#include <string.h>

#include "common/util.h"
#include "es/es.h"

static const uint8_t BOM[3] = {0xEF, 0xBB, 0xBF};

void wsx__es_parser_init(wsx__es_parser *p, const wsx_allocator *alloc,
                         size_t max_size, const wsx__es_parser_cbs *cb,
                         void *ud) {
  memset(p, 0, sizeof(*p));
  wsx__alloc_init(&p->alloc, alloc);
  if (cb)
    p->cb = *cb;
  p->ud = ud;
  p->max_size = max_size ? max_size : ((size_t)1 << 20);
  p->at_start = 1;
}

void wsx__es_parser_free(wsx__es_parser *p) {
  wsx__buf_free(&p->line, &p->alloc);
  wsx__buf_free(&p->data, &p->alloc);
  wsx__buf_free(&p->type, &p->alloc);
  wsx__buf_free(&p->id_buf, &p->alloc);
  wsx__buf_free(&p->last_id, &p->alloc);
  wsx__buf_free(&p->fixed, &p->alloc);
}

void wsx__es_parser_restart(wsx__es_parser *p) {
  p->line.len = 0;
  p->data.len = 0;
  p->type.len = 0;
  p->bom_seen = 0;
  p->at_start = 1;
  p->after_cr = 0;
  p->error = 0;
}

/* Buffers that are handed out as strings keep a NUL after len. */
static int set_str(wsx__es_parser *p, wsx__buf *b, const uint8_t *s, size_t n) {
  b->len = 0;
  if (wsx__buf_reserve(b, &p->alloc, n + 1) < 0)
    return WSX_E_NOMEM;
  if (n)
    memcpy(b->data, s, n);
  b->len = n;
  b->data[n] = 0;
  return WSX_OK;
}

const char *wsx__es_parser_last_id(const wsx__es_parser *p) {
  return p->last_id.len ? (const char *)p->last_id.data : "";
}

int wsx__es_parser_set_last_id(wsx__es_parser *p, const char *id) {
  size_t n = id ? strlen(id) : 0;
  if (set_str(p, &p->id_buf, (const uint8_t *)id, n) < 0 ||
      set_str(p, &p->last_id, (const uint8_t *)id, n) < 0)
    return WSX_E_NOMEM;
  return WSX_OK;
}

static int dispatch(wsx__es_parser *p) {
  const char *type = "message";
  size_t dlen;
  /* The spec commits the last event ID even when no event follows. */
  if (set_str(p, &p->last_id, p->id_buf.data, p->id_buf.len) < 0)
    return WSX_E_NOMEM;
  if (p->data.len == 0) {
    p->type.len = 0;
    return WSX_OK;
  }
  dlen = p->data.len - 1; /* the trailing LF goes */
  p->data.data[dlen] = 0;
  if (p->type.len) {
    if (wsx__buf_append(&p->type, &p->alloc, "", 1) < 0)
      return WSX_E_NOMEM;
    type = (const char *)p->type.data;
  }
  if (p->cb.event)
    p->cb.event(p->ud, type, (const char *)p->data.data, dlen,
                wsx__es_parser_last_id(p));
  p->data.len = 0;
  p->type.len = 0;
  return WSX_OK;
}

static int field(wsx__es_parser *p, const uint8_t *name, size_t nlen,
                 const uint8_t *v, size_t vlen) {
  if (nlen == 5 && !memcmp(name, "event", 5))
    return set_str(p, &p->type, v, vlen);
  if (nlen == 4 && !memcmp(name, "data", 4)) {
    if (p->data.len + vlen + 1 > p->max_size)
      return WSX_E_TOO_BIG;
    if (wsx__buf_append(&p->data, &p->alloc, v, vlen) < 0 ||
        wsx__buf_append(&p->data, &p->alloc, "\n", 1) < 0)
      return WSX_E_NOMEM;
    return WSX_OK;
  }
  if (nlen == 2 && !memcmp(name, "id", 2)) {
    if (memchr(v, 0, vlen))
      return WSX_OK; /* an id with NUL is ignored (spec) */
    return set_str(p, &p->id_buf, v, vlen);
  }
  if (nlen == 5 && !memcmp(name, "retry", 5)) {
    uint64_t ms = 0;
    size_t i;
    if (vlen == 0)
      return WSX_OK;
    for (i = 0; i < vlen; i++) {
      if (v[i] < '0' || v[i] > '9')
        return WSX_OK; /* digits only, else ignored */
      if (ms <= UINT32_MAX)
        ms = ms * 10 + (uint64_t)(v[i] - '0');
    }
    if (p->cb.retry)
      p->cb.retry(p->ud, ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms);
  }
  return WSX_OK; /* unknown fields are ignored */
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if s[0] starts an
 * invalid one. The WHATWG decoder then emits one U+FFFD and resumes at the
 * first byte that broke the sequence (the "maximal subpart" rule). */
static size_t seq_len(const uint8_t *s, size_t n, size_t *bad) {
  uint8_t b = s[0], lo = 0x80, hi = 0xBF;
  size_t need, i;
  *bad = 1;
  if (b < 0x80)
    return 1;
  if (b >= 0xC2 && b <= 0xDF)
    need = 1;
  else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0)
      lo = 0xA0;
    else if (b == 0xED)
      hi = 0x9F; /* no surrogates */
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0)
      lo = 0x90;
    else if (b == 0xF4)
      hi = 0x8F; /* <= U+10FFFF */
  } else {
    return 0;
  }
  for (i = 1; i <= need; i++) {
    if (i >= n || s[i] < lo || s[i] > hi) {
      *bad = i;
      return 0;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

/* The stream is UTF-8 decoded (WHATWG): a line with invalid sequences is
 * rewritten with U+FFFD in p->fixed. Lines end at ASCII CR/LF, so no
 * sequence spans two lines. */
static int decode_line(wsx__es_parser *p, const uint8_t **l, size_t *n) {
  static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};
  size_t i = 0;
  if (wsx__utf8_valid(*l, *n))
    return WSX_OK;
  p->fixed.len = 0;
  while (i < *n) {
    size_t bad, k = seq_len(*l + i, *n - i, &bad);
    int rc = k ? wsx__buf_append(&p->fixed, &p->alloc, *l + i, k)
               : wsx__buf_append(&p->fixed, &p->alloc, fffd, 3);
    if (rc < 0)
      return WSX_E_NOMEM;
    i += k ? k : bad;
  }
  /* At most 3x the line (itself bounded); the data limit applies after. */
  *l = p->fixed.data;
  *n = p->fixed.len;
  return WSX_OK;
}

static int process_line(wsx__es_parser *p, const uint8_t *l, size_t n) {
  const uint8_t *colon;
  const uint8_t *v;
  size_t vlen;
  if (n == 0)
    return dispatch(p);
  if (decode_line(p, &l, &n) < 0)
    return WSX_E_NOMEM;
  if (l[0] == ':') {
    if (p->cb.comment)
      p->cb.comment(p->ud, (const char *)l + 1, n - 1);
    return WSX_OK;
  }
  colon = memchr(l, ':', n);
  if (!colon)
    return field(p, l, n, l + n, 0);
  v = colon + 1;
  vlen = n - (size_t)(v - l);
  if (vlen && *v == ' ') {
    v++;
    vlen--;
  }
  return field(p, l, (size_t)(colon - l), v, vlen);
}

/* Index of the first CR or LF in s[0..n), or n. */
static size_t find_eol(const uint8_t *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (s[i] == '\r' || s[i] == '\n')
      return i;
  return n;
}

/* Returns the number of BOM-check bytes consumed from in, or -1 if the
 * bytes matched so far were not a BOM and must be replayed as content. */
static long skip_bom(wsx__es_parser *p, const uint8_t *in, size_t len) {
  size_t i = 0;
  while (p->bom_seen < 3 && i < len) {
    if (in[i] != BOM[p->bom_seen])
      return -1;
    p->bom_seen++;
    i++;
  }
  if (p->bom_seen == 3)
    p->at_start = 0;
  return (long)i;
}

static int feed_body(wsx__es_parser *p, const uint8_t *in, size_t len);

int wsx__es_parser_feed(wsx__es_parser *p, const uint8_t *in, size_t len) {
  if (p->error)
    return p->error;
  if (p->at_start && len) {
    size_t before = p->bom_seen; /* BOM bytes matched by earlier calls */
    long k = skip_bom(p, in, len);
    if (k >= 0) {
      in += k;
      len -= (size_t)k;
    } else {
      /* A partial BOM that turned out not to be one is stream content:
       * replay what earlier calls matched; what this call matched is still
       * at the start of `in` (replaying all of bom_seen duplicated it when
       * the whole prefix came in one piece). */
      uint8_t head[3];
      size_t hn = before;
      int rc;
      memcpy(head, BOM, hn);
      p->at_start = 0;
      p->bom_seen = 0;
      rc = feed_body(p, head, hn);
      if (rc < 0)
        return p->error = rc;
    }
  }
  if (p->at_start)
    return WSX_OK; /* still inside a possible BOM */
  {
    int rc = feed_body(p, in, len);
    if (rc < 0)
      p->error = rc;
    return rc;
  }
}

static int feed_body(wsx__es_parser *p, const uint8_t *in, size_t len) {
  while (len) {
    size_t k;
    int rc;
    if (p->after_cr) {
      p->after_cr = 0;
      if (in[0] == '\n') {
        in++;
        len--;
        continue;
      }
    }
    k = find_eol(in, len);
    if (p->line.len + k > p->max_size)
      return WSX_E_TOO_BIG;
    if (k == len) { /* no line end yet: keep the piece */
      return wsx__buf_append(&p->line, &p->alloc, in, k) < 0 ? WSX_E_NOMEM
                                                             : WSX_OK;
    }
    if (p->line.len) {
      if (wsx__buf_append(&p->line, &p->alloc, in, k) < 0)
        return WSX_E_NOMEM;
      rc = process_line(p, p->line.data, p->line.len);
      p->line.len = 0;
    } else {
      rc = process_line(p, in, k); /* whole line in the input: no copy */
    }
    if (rc < 0)
      return rc;
    p->after_cr = in[k] == '\r';
    in += k + 1;
    len -= k + 1;
  }
  return WSX_OK;
}
