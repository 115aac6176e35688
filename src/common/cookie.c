/*
 * Cookie header parsing and Set-Cookie formatting (RFC 6265): see
 * wsx/cookie.h. Stateless, allocation-free.
 */
#include <stdio.h>
#include <string.h>

#include "wsx/cookie.h"
#include "common/util.h"

/* RFC 6265 cookie-octet. */
static int is_cookie_octet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
         (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static int valid_token(const char *s, size_t n) {
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!wsx__tchar[(unsigned char)s[i]])
      return 0;
  return 1;
}

/* Checks a cookie-value; on success strips one pair of DQUOTEs. */
static int valid_value(const char **s, size_t *n) {
  const char *p = *s;
  size_t len = *n;
  if (len >= 1 && p[0] == '"') {
    if (len < 2 || p[len - 1] != '"')
      return 0;
    p++;
    len -= 2;
  }
  for (size_t i = 0; i < len; i++)
    if (!is_cookie_octet((unsigned char)p[i]))
      return 0;
  *s = p;
  *n = len;
  return 1;
}

int wsx_cookie_parse(const char *header, size_t len, wsx_cookie *out,
                     size_t max) {
  if ((!header && len) || (!out && max))
    return WSX_E_INVALID;
  size_t count = 0, i = 0;
  while (i < len) {
    size_t start = i;
    while (i < len && header[i] != ';')
      i++;
    size_t end = i;
    if (i < len)
      i++; /* past ';' */
    while (start < end && is_ows(header[start]))
      start++;
    while (end > start && is_ows(header[end - 1]))
      end--;
    const char *eq = memchr(header + start, '=', end - start);
    if (!eq)
      continue;
    size_t ne = (size_t)(eq - header), vs = ne + 1;
    while (ne > start && is_ows(header[ne - 1]))
      ne--;
    while (vs < end && is_ows(header[vs]))
      vs++;
    const char *name = header + start, *value = header + vs;
    size_t name_len = ne - start, value_len = end - vs;
    if (!valid_token(name, name_len) || !valid_value(&value, &value_len))
      continue;
    if (count < max) {
      out[count].name = name;
      out[count].name_len = name_len;
      out[count].value = value;
      out[count].value_len = value_len;
    }
    if (count < (size_t)0x7fffffff)
      count++;
  }
  return (int)count;
}

const char *wsx_cookie_get(const char *header, size_t len, const char *name,
                           size_t *value_len) {
  if (value_len)
    *value_len = 0;
  if (!name || (!header && len))
    return NULL;
  size_t nl = strlen(name);
  /* One pair at a time, so the lookup needs no array and no allocation. */
  size_t i = 0;
  while (i < len) {
    size_t start = i;
    while (i < len && header[i] != ';')
      i++;
    size_t seg = i - start;
    if (i < len)
      i++;
    wsx_cookie c;
    if (wsx_cookie_parse(header + start, seg, &c, 1) == 1 &&
        c.name_len == nl && memcmp(c.name, name, nl) == 0) {
      if (value_len)
        *value_len = c.value_len;
      return c.value;
    }
  }
  return NULL;
}

/* ---- Set-Cookie ------------------------------------------------------------ */

static int valid_path(const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c > 0x7E || c == ';')
      return 0;
  }
  return 1;
}

static int valid_domain(const char *s) {
  size_t n = strlen(s);
  if (n && s[0] == '.') {
    s++;
    n--;
  }
  if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
             (c >= 'A' && c <= 'Z') || c == '-' || c == '.';
    if (!ok || (c == '.' && s[i + 1] == '.'))
      return 0;
  }
  return 1;
}

/* Unix seconds -> civil date (proleptic Gregorian, UTC). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yy + (*m <= 2));
}

/* Writes an IMF-fixdate for Unix time t (seconds) into out[30]. */
static int imf_fixdate(int64_t t, char out[30]) {
  static const char wd[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue",
                                "Wed"};
  static const char mo[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  int64_t secs = t - days * 86400;
  int y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y < 1601 || y > 9999)
    return -1;
  int64_t w = days % 7;
  if (w < 0)
    w += 7;
  snprintf(out, 30, "%s, %02u %s %04d %02d:%02d:%02d GMT", wd[w], d,
           mo[m - 1], y, (int)(secs / 3600), (int)(secs / 60 % 60),
           (int)(secs % 60));
  return 0;
}

/* Appends to a bounded buffer, counting the full length. */
typedef struct out_ {
  char *buf;
  size_t cap, len;
} out_;

static void put(out_ *o, const char *s, size_t n) {
  if (o->len < o->cap) {
    size_t room = o->cap - o->len;
    memcpy(o->buf + o->len, s, n < room ? n : room);
  }
  o->len += n;
}

static void puts_(out_ *o, const char *s) { put(o, s, strlen(s)); }

/* Size of the version-1 members (everything up to and including same_site). */
#define SET_COOKIE_V1_SIZE                                                     \
  (offsetof(wsx_set_cookie, same_site) + sizeof(int))

int wsx_cookie_format(const wsx_set_cookie *c, char *buf, size_t cap) {
  if (buf && cap)
    buf[0] = '\0';
  if (!c || (!buf && cap) || c->struct_size < SET_COOKIE_V1_SIZE || !c->name ||
      !c->value)
    return WSX_E_INVALID;
  const unsigned known = WSX_COOKIE_SECURE | WSX_COOKIE_HTTPONLY |
                         WSX_COOKIE_MAX_AGE | WSX_COOKIE_EXPIRES;
  if ((c->flags & ~known) || c->same_site < WSX_SAME_SITE_UNSET ||
      c->same_site > WSX_SAME_SITE_NONE)
    return WSX_E_INVALID;
  if (c->same_site == WSX_SAME_SITE_NONE && !(c->flags & WSX_COOKIE_SECURE))
    return WSX_E_INVALID;
  const char *v = c->value;
  size_t vl = strlen(v);
  if (!valid_token(c->name, strlen(c->name)) || !valid_value(&v, &vl) ||
      (c->path && !valid_path(c->path)) ||
      (c->domain && !valid_domain(c->domain)))
    return WSX_E_HEADER_VALUE;
  char date[30];
  if ((c->flags & WSX_COOKIE_EXPIRES) &&
      imf_fixdate(c->expires_ms >= 0 ? c->expires_ms / 1000
                                     : -((-(c->expires_ms + 1)) / 1000) - 1,
                  date) != 0)
    return WSX_E_INVALID;

  out_ o = {buf, cap, 0};
  puts_(&o, c->name);
  put(&o, "=", 1);
  puts_(&o, c->value); /* as given: DQUOTEs, if any, are kept */
  if (c->path) {
    puts_(&o, "; Path=");
    puts_(&o, c->path);
  }
  if (c->domain) {
    puts_(&o, "; Domain=");
    puts_(&o, c->domain);
  }
  if (c->flags & WSX_COOKIE_MAX_AGE) {
    char n[24];
    long long s = c->max_age_ms > 0 ? (long long)(c->max_age_ms / 1000) : 0;
    snprintf(n, sizeof n, "%lld", s);
    puts_(&o, "; Max-Age=");
    puts_(&o, n);
  }
  if (c->flags & WSX_COOKIE_EXPIRES) {
    puts_(&o, "; Expires=");
    puts_(&o, date);
  }
  if (c->flags & WSX_COOKIE_SECURE)
    puts_(&o, "; Secure");
  if (c->flags & WSX_COOKIE_HTTPONLY)
    puts_(&o, "; HttpOnly");
  static const char *const ss[] = {NULL, "Strict", "Lax", "None"};
  if (c->same_site != WSX_SAME_SITE_UNSET) {
    puts_(&o, "; SameSite=");
    puts_(&o, ss[c->same_site]);
  }
  if (o.len >= (size_t)0x7fffffff)
    return WSX_E_TOO_BIG;
  if (o.len < cap)
    buf[o.len] = '\0';
  else if (cap)
    buf[0] = '\0';
  return (int)o.len;
}
