/*
 * libFuzzer target: the Sec-WebSocket-Extensions parser, then
 * permessage-deflate negotiation on what it returns.
 *
 * Byte 0 picks the deflate options (both roles), byte 1 max_offers; the rest
 * is the header value. Every parsed offer list goes through server_accept
 * (permessage-deflate offers only, as the driver passes them), and every
 * single offer is also tried as a server response with client_activate.
 * The server's response must itself parse back to one offer.
 */
#include "ext/ext_int.h"
#include "wsx/extension.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Only public symbols are used (ext_int.h gives the strbuf layout). */
static void *f_malloc(size_t n, void *ud) {
  (void)ud;
  return malloc(n ? n : 1);
}
static void *f_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return realloc(p, n ? n : 1);
}
static void f_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static const wsx_allocator a = {f_malloc, f_realloc, f_free, NULL};

static int is_pmd(const wsx_extension_offer *o) {
  return o->name_len == 18 && !memcmp(o->name, "permessage-deflate", 18);
}

static void options_from(uint8_t b, wsx_deflate_options *o) {
  static const int bits[] = {0, 8, 9, 15};
  *o = (wsx_deflate_options)WSX_DEFLATE_OPTIONS_INIT;
  o->server_no_context_takeover = b & 1;
  o->client_no_context_takeover = (b >> 1) & 1;
  o->server_max_window_bits = bits[(b >> 2) & 3];
  o->client_max_window_bits = bits[(b >> 4) & 3];
  o->free_idle_streams = (b >> 6) & 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  wsx_deflate_options opts = WSX_DEFLATE_OPTIONS_INIT;
  options_from(data[0], &opts);
  size_t max_offers = data[1] % 70;
  const char *value = (const char *)data + 2;
  size_t len = size - 2;

  /* A private copy, so a read past `len` hits ASan's redzone. */
  char *copy = malloc(len ? len : 1);
  if (!copy)
    return 0;
  if (len)
    memcpy(copy, value, len);
  wsx_extension_offers offs;
  const char *err = NULL;
  int rc = wsx_extension_offers_parse(copy, len, max_offers, NULL, &offs, &err);
  if (rc != WSX_OK) {
    if (rc != WSX_E_EXTENSION || !err)
      abort();
    free(copy);
    return 0;
  }
  if (offs.num_offers == 0 || offs.num_offers > (max_offers ? max_offers : 64))
    abort();

  wsx_extension *ext = wsx_deflate_new(&opts);
  if (!ext)
    abort();
  const wsx_extension_type *t = ext->type;

  wsx_extension_offer *mine = malloc(offs.num_offers * sizeof *mine);
  size_t n = 0;
  for (size_t i = 0; mine && i < offs.num_offers; i++) {
    const wsx_extension_offer *o = &offs.offers[i];
    if (!o->name || !o->name_len)
      abort();
    for (size_t k = 0; k < o->num_params; k++)
      if (!o->params[k].name_len ||
          (o->params[k].value && !o->params[k].value_len))
        abort();
    if (is_pmd(o))
      mine[n++] = *o;
  }
  if (n) {
    wsx_ext_strbuf sb = {{NULL, 0, 0}, &a};
    void *session = NULL;
    rc = t->server_accept(ext->config, mine, n, &sb, &a, &session);
    if (rc == WSX_OK) {
      wsx_extension_offers back;
      if (wsx_extension_offers_parse((const char *)sb.buf.data, sb.buf.len, 0,
                                     NULL, &back, &err) != WSX_OK ||
          back.num_offers != 1)
        abort();
      /* A client with the same options accepts what the server said only
       * if it asked for no more than it got; it must never crash. */
      void *cs = NULL;
      if (t->client_activate(ext->config, &back.offers[0], &a, &cs) == WSX_OK)
        t->session_free(cs);
      wsx_extension_offers_free(&back);
      t->session_free(session);
    } else if (rc != 1 && rc != WSX_E_NOMEM) {
      abort();
    }
    free(sb.buf.data);
    for (size_t i = 0; i < n; i++) {
      void *cs = NULL;
      if (t->client_activate(ext->config, &mine[i], &a, &cs) == WSX_OK)
        t->session_free(cs);
    }
  }
  free(mine);
  wsx_deflate_free(ext);
  wsx_extension_offers_free(&offs);
  free(copy);
  return 0;
}
