/*
 * libFuzzer target for the EventSource client's input path: byte 0 chooses
 * chunked decoding and a small max_size, byte 1 the split size. The stream
 * is fed whole to one parser and in pieces to another; both must report
 * the same events and the same result (the split invariance every parser
 * here promises).
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "es/es.h"

typedef struct acc {
  uint64_t h; /* running hash of everything reported */
  size_t n;
} acc;

static void mix(acc *a, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    a->h = (a->h ^ b[i]) * 1099511628211ull;
  a->h ^= n;
  a->n++;
}

static void on_ev(void *ud, const char *type, const char *data, size_t len,
                  const char *id) {
  /* The decoder promises valid UTF-8 in everything it reports. */
  if (!wsx__utf8_valid((const uint8_t *)data, len) ||
      !wsx__utf8_valid((const uint8_t *)type, strlen(type)) ||
      !wsx__utf8_valid((const uint8_t *)id, strlen(id)))
    abort();
  mix(ud, type, strlen(type));
  mix(ud, data, len);
  mix(ud, id, strlen(id));
}
static void on_retry(void *ud, uint32_t ms) { mix(ud, &ms, sizeof(ms)); }
static void on_comment(void *ud, const char *t, size_t n) { mix(ud, t, n); }

static int feed(wsx__es_parser *p, wsx__chunked *c, int chunked,
                const uint8_t *in, size_t len) {
  uint8_t *tmp;
  int done = 0, rc;
  long k;
  if (!chunked)
    return wsx__es_parser_feed(p, in, len);
  if (!(tmp = malloc(len ? len : 1)))
    return 0;
  memcpy(tmp, in, len);
  k = wsx__chunked_decode(c, tmp, len, &done);
  rc = k < 0 ? (int)k : wsx__es_parser_feed(p, tmp, (size_t)k);
  free(tmp);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const wsx__es_parser_cbs cbs = {on_ev, on_retry, on_comment};
  wsx__es_parser a, b;
  wsx__chunked ca = {0}, cb = {0};
  acc ha = {0}, hb = {0};
  int chunked, ra, rb = 0;
  size_t max, step, i;
  if (size < 2)
    return 0;
  chunked = data[0] & 1;
  max = (data[0] & 2) ? 64 : 0;
  step = (size_t)data[1] % 17 + 1;
  data += 2;
  size -= 2;
  wsx__es_parser_init(&a, NULL, max, &cbs, &ha);
  wsx__es_parser_init(&b, NULL, max, &cbs, &hb);
  ra = feed(&a, &ca, chunked, data, size);
  for (i = 0; i < size && rb == 0; i += step)
    rb = feed(&b, &cb, chunked, data + i, size - i < step ? size - i : step);
  /* Errors may surface at different events only if the whole run stopped
   * earlier; when both succeed, everything must match. */
  if ((ra < 0) != (rb < 0))
    abort();
  if (ra == 0 && (ha.h != hb.h || ha.n != hb.n))
    abort();
  wsx__es_parser_free(&a);
  wsx__es_parser_free(&b);
  return 0;
}
