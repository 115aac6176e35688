/*
 * Sec-WebSocket-Extensions parser (RFC 6455 9.1 with the RFC 7230 list and
 * quoted-string rules) and the string buffer extensions write offers into.
 *
 * The parser makes two passes over the input with the same code: the first
 * validates and counts offers and parameters, the second fills one
 * allocation sized exactly from those counts (arrays plus a copy of the
 * input that quoted values are unescaped into in place). Each pass touches
 * each byte a bounded number of times, so the work is linear and the memory
 * is O(len) whatever the input.
 */
#include "common/util.h"
#include "ext/ext_int.h"

#include <string.h>

int wsx__ext_is_tchar(unsigned char c) { return wsx__tchar[c]; }

int wsx__ext_span_eq(const char *s, size_t len, const char *lit) {
  size_t n = strlen(lit);
  return n == len && memcmp(s, lit, n) == 0;
}

/* ---- string buffer ----------------------------------------------------- */

void wsx__ext_strbuf_init(wsx_ext_strbuf *b, const wsx_allocator *alloc) {
  memset(&b->buf, 0, sizeof b->buf);
  b->alloc = alloc;
}

void wsx__ext_strbuf_clear(wsx_ext_strbuf *b) { b->buf.len = 0; }

void wsx__ext_strbuf_free(wsx_ext_strbuf *b) {
  wsx__buf_free(&b->buf, b->alloc);
}

int wsx_ext_strbuf_append(wsx_ext_strbuf *b, const char *s, size_t len) {
  if (!b || (!s && len))
    return WSX_E_INVALID;
  return wsx__buf_append(&b->buf, b->alloc, s, len);
}

/* ---- parser ------------------------------------------------------------ */

typedef struct parser {
  const char *in;    /* the header value (borrowed) */
  size_t len;        /* its length */
  size_t pos;        /* next byte to read; only ever moves forward */
  size_t max_offers; /* limit on offers */
  /* Fill pass only (NULL in the counting pass): */
  wsx_extension_offer *offers; /* room for the counted offers */
  wsx_extension_param *params; /* room for the counted params */
  char *text;                  /* copy of `in`; spans point here */
  size_t n_offers;             /* offers seen so far */
  size_t n_params;             /* params seen so far (all offers) */
  const char *err;             /* why parsing failed */
} parser;

static int at(const parser *p, char c) {
  return p->pos < p->len && p->in[p->pos] == c;
}

static void skip_ows(parser *p) {
  while (p->pos < p->len && (p->in[p->pos] == ' ' || p->in[p->pos] == '\t'))
    p->pos++;
}

/* token = 1*tchar. Returns its length (0 = no token here). */
static size_t take_token(parser *p) {
  size_t start = p->pos;
  while (p->pos < p->len && wsx__tchar[(unsigned char)p->in[p->pos]])
    p->pos++;
  return p->pos - start;
}

/*
 * quoted-string at p->pos (which is '"'). RFC 6455 9.1 requires the value to
 * be a token once unescaped, so every unescaped character must be a tchar;
 * that also rules out the empty string. In the fill pass the value is
 * unescaped into p->text starting right after the opening quote (the write
 * position never passes the read position). Returns the unescaped length, 0
 * on error (p->err set).
 */
static size_t take_quoted(parser *p) {
  size_t w = ++p->pos;
  for (;;) {
    if (p->pos >= p->len) {
      p->err = "unterminated quoted string";
      return 0;
    }
    unsigned char c = (unsigned char)p->in[p->pos++];
    if (c == '"')
      break;
    if (c == '\\') {
      if (p->pos >= p->len) {
        p->err = "unterminated quoted string (ends in a backslash)";
        return 0;
      }
      c = (unsigned char)p->in[p->pos++];
    }
    if (!wsx__tchar[c]) {
      p->err = "quoted parameter value is not a token once unquoted";
      return 0;
    }
    if (p->text)
      p->text[w] = (char)c;
    w++;
  }
  /* w counts from the position after the quote; the span length is the
   * number of characters written. */
  return w;
}

static int add_param(parser *p, size_t name, size_t name_len, size_t value,
                     size_t value_len, int has_value) {
  if (p->params) {
    wsx_extension_param *pr = &p->params[p->n_params];
    pr->name = p->text + name;
    pr->name_len = name_len;
    pr->value = has_value ? p->text + value : NULL;
    pr->value_len = has_value ? value_len : 0;
    p->offers[p->n_offers - 1].num_params++;
  }
  p->n_params++;
  return 0;
}

/* param = token [ OWS "=" OWS ( token / quoted-string ) ], after ";" OWS. */
static int parse_param(parser *p) {
  size_t name = p->pos;
  size_t name_len = take_token(p);
  if (!name_len) {
    p->err = "expected a parameter name after ';'";
    return -1;
  }
  skip_ows(p);
  if (!at(p, '='))
    return add_param(p, name, name_len, 0, 0, 0);
  p->pos++;
  skip_ows(p);
  size_t value, value_len;
  if (at(p, '"')) {
    value = p->pos + 1;
    size_t end = take_quoted(p);
    if (!end)
      return -1;
    value_len = end - value;
    if (!value_len) {
      p->err = "empty quoted parameter value (must be a token)";
      return -1;
    }
  } else {
    value = p->pos;
    value_len = take_token(p);
    if (!value_len) {
      p->err = "expected a token or quoted string after '='";
      return -1;
    }
  }
  skip_ows(p);
  return add_param(p, name, name_len, value, value_len, 1);
}

/* extension = token *( OWS ";" OWS param ), at a non-empty list element. */
static int parse_extension(parser *p) {
  size_t name = p->pos;
  size_t name_len = take_token(p);
  if (!name_len) {
    p->err = "expected an extension name";
    return -1;
  }
  if (p->n_offers >= p->max_offers) {
    p->err = "too many extension offers";
    return -1;
  }
  if (p->offers) {
    wsx_extension_offer *o = &p->offers[p->n_offers];
    o->name = p->text + name;
    o->name_len = name_len;
    o->params = p->params + p->n_params;
    o->num_params = 0;
  }
  p->n_offers++;
  skip_ows(p);
  while (at(p, ';')) {
    p->pos++;
    skip_ows(p);
    if (parse_param(p))
      return -1;
  }
  return 0;
}

/*
 * extension-list = 1#extension, accepting the empty list elements that RFC
 * 7230 7 tells recipients to tolerate (they appear when header lines are
 * joined), but requiring at least one extension.
 */
static int parse_list(parser *p) {
  skip_ows(p);
  while (p->pos < p->len) {
    if (!at(p, ',')) {
      if (parse_extension(p))
        return -1;
      if (p->pos >= p->len)
        break;
      if (!at(p, ',')) {
        p->err = "unexpected character after extension (expected ';' or ',')";
        return -1;
      }
    }
    p->pos++;
    skip_ows(p);
  }
  if (!p->n_offers) {
    p->err = "no extension in the header value";
    return -1;
  }
  return 0;
}

int wsx_extension_offers_parse(const char *value, size_t len, size_t max_offers,
                               const wsx_allocator *alloc,
                               wsx_extension_offers *out,
                               const char **err_detail) {
  const char *dummy;
  if (!err_detail)
    err_detail = &dummy;
  *err_detail = NULL;
  if (!out || (!value && len))
    return WSX_E_INVALID;
  memset(out, 0, sizeof *out);

  parser p;
  memset(&p, 0, sizeof p);
  p.in = value;
  p.len = len;
  p.max_offers = max_offers ? max_offers : 64;
  if (parse_list(&p)) {
    *err_detail = p.err;
    return WSX_E_EXTENSION;
  }

  /* Counts are at most len, so these products cannot overflow unless len
   * is absurd; check anyway. */
  size_t n_offers = p.n_offers, n_params = p.n_params;
  if (n_offers > SIZE_MAX / 4 / sizeof(wsx_extension_offer) ||
      n_params > SIZE_MAX / 4 / sizeof(wsx_extension_param) ||
      len > SIZE_MAX / 4)
    return WSX_E_NOMEM;
  size_t off_bytes = n_offers * sizeof(wsx_extension_offer);
  size_t par_bytes = n_params * sizeof(wsx_extension_param);

  wsx__alloc_init(&out->alloc_, alloc);
  unsigned char *block = wsx__malloc(&out->alloc_, off_bytes + par_bytes + len);
  if (!block)
    return WSX_E_NOMEM;

  memset(&p, 0, sizeof p);
  p.in = value;
  p.len = len;
  p.max_offers = n_offers;
  p.offers = (wsx_extension_offer *)(void *)block;
  p.params = (wsx_extension_param *)(void *)(block + off_bytes);
  p.text = (char *)block + off_bytes + par_bytes;
  memcpy(p.text, value, len);
  if (parse_list(&p) || p.n_offers != n_offers || p.n_params != n_params) {
    /* The second pass sees the same bytes; reaching this is a bug. */
    wsx__free(&out->alloc_, block);
    *err_detail = "internal parser inconsistency";
    return WSX_E_INTERNAL;
  }
  out->offers = p.offers;
  out->num_offers = n_offers;
  out->storage_ = block;
  return WSX_OK;
}

void wsx_extension_offers_free(wsx_extension_offers *o) {
  if (!o)
    return;
  if (o->storage_)
    wsx__free(&o->alloc_, o->storage_);
  o->offers = NULL;
  o->num_offers = 0;
  o->storage_ = NULL;
}
