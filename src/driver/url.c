/*
 * ws:// wss:// http:// https:// URL parser (see wsx/http.h).
 *
 * Zero-copy: every span points into the caller's string. Because nothing is
 * rewritten, some URLs that a browser would normalise are refused instead:
 *   - a query without a path ("ws://h?x") cannot become "/?x" in place;
 *   - '#' is refused for every scheme (RFC 6455 3. for ws/wss; for http(s)
 *     a fragment is never sent, and refusing it keeps one simple rule);
 *   - bytes outside visible ASCII (spaces, controls, non-ASCII) are refused
 *     because the path is sent as the request-target, which our own parser
 *     would reject.
 */
#include <arpa/inet.h>
#include <string.h>

#include "wsx/http.h"

static int lower_(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int is_alpha_(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit_(int c) { return c >= '0' && c <= '9'; }
static int is_hex_(int c) {
  return is_digit_(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved / sub-delims: what reg-name and userinfo may hold. */
static int is_unreserved_or_sub_(int c) {
  return is_alpha_(c) || is_digit_(c) ||
         (c != 0 && strchr("-._~!$&'()*+,;=", c) != NULL);
}

static int casecmp_(const char *a, size_t alen, const char *b) {
  size_t i;
  if (alen != strlen(b))
    return 0;
  for (i = 0; i < alen; i++)
    if (lower_((unsigned char)a[i]) != b[i])
      return 0;
  return 1;
}

/* userinfo or reg-name: unreserved / sub-delims / pct-encoded (+ ':'). */
static int valid_chars_(const char *p, size_t n, int allow_colon) {
  size_t i;
  for (i = 0; i < n; i++) {
    int c = (unsigned char)p[i];
    if (c == '%') {
      if (i + 2 >= n)
        return 0;
      if (!is_hex_((unsigned char)p[i + 1]) ||
          !is_hex_((unsigned char)p[i + 2]))
        return 0;
      i += 2;
    } else if (!(is_unreserved_or_sub_(c) || (allow_colon && c == ':'))) {
      return 0;
    }
  }
  return 1;
}

/*
 * A host made only of digits and dots is meant as an IPv4 address: require a
 * canonical dotted quad so "1.2.3" or "01.2.3.4" (octal to some resolvers)
 * cannot reach different machines depending on who parses it.
 */
static int numeric_host_ok_(const char *p, size_t n) {
  size_t i, parts = 0, digits = 0;
  unsigned v = 0;
  for (i = 0; i <= n; i++) {
    if (i == n || p[i] == '.') {
      if (digits == 0 || v > 255 || (digits > 1 && p[i - digits] == '0'))
        return 0;
      parts++;
      digits = 0;
      v = 0;
    } else {
      if (++digits > 3)
        return 0;
      v = v * 10 + (unsigned)(p[i] - '0');
    }
  }
  return parts == 4;
}

static int parse_host_(const char *p, size_t n, wsx_url *out) {
  size_t i;
  int numeric = 1;
  if (n == 0)
    return WSX_E_URL;
  if (p[0] == '[') {
    char tmp[INET6_ADDRSTRLEN];
    unsigned char addr[16];
    if (n < 3 || p[n - 1] != ']' || n - 2 >= sizeof tmp)
      return WSX_E_URL;
    memcpy(tmp, p + 1, n - 2);
    tmp[n - 2] = '\0';
    if (inet_pton(AF_INET6, tmp, addr) != 1)
      return WSX_E_URL;
    out->host = p + 1;
    out->host_len = n - 2;
    out->is_ipv6 = 1;
    return WSX_OK;
  }
  for (i = 0; i < n; i++)
    if (!is_digit_((unsigned char)p[i]) && p[i] != '.')
      numeric = 0;
  if (numeric ? !numeric_host_ok_(p, n) : !valid_chars_(p, n, 0))
    return WSX_E_URL;
  out->host = p;
  out->host_len = n;
  return WSX_OK;
}

static int parse_port_(const char *p, size_t n, uint16_t *port) {
  size_t i;
  unsigned long v = 0;
  if (n == 0)
    return WSX_E_URL;
  for (i = 0; i < n; i++) {
    if (!is_digit_((unsigned char)p[i]))
      return WSX_E_URL;
    v = v * 10 + (unsigned long)(p[i] - '0');
    if (v > 65535)
      return WSX_E_URL;
  }
  if (v == 0)
    return WSX_E_URL;
  *port = (uint16_t)v;
  return WSX_OK;
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static int parse_authority_(const char *p, size_t n, wsx_url *out) {
  const char *at = memchr(p, '@', n), *hp, *colon = NULL, *end = p + n;
  size_t hn;
  int rc;

  if (at) {
    if (memchr(at + 1, '@', (size_t)(end - at - 1)))
      return WSX_E_URL; /* "a@b@c": which host was meant is ambiguous */
    if (!valid_chars_(p, (size_t)(at - p), 1))
      return WSX_E_URL;
    out->userinfo = p;
    out->userinfo_len = (size_t)(at - p);
    hp = at + 1;
  } else {
    hp = p;
  }
  if (hp < end && *hp == '[') {
    const char *rb = memchr(hp, ']', (size_t)(end - hp));
    if (!rb)
      return WSX_E_URL;
    if (rb + 1 < end) {
      if (rb[1] != ':')
        return WSX_E_URL;
      colon = rb + 1;
    }
  } else {
    colon = memchr(hp, ':', (size_t)(end - hp));
  }
  hn = (size_t)((colon ? colon : end) - hp);
  if ((rc = parse_host_(hp, hn, out)) < 0)
    return rc;
  if (colon)
    return parse_port_(colon + 1, (size_t)(end - colon - 1), &out->port);
  out->port = out->secure ? 443 : 80;
  return WSX_OK;
}

int wsx_url_parse(const char *url, wsx_url *out) {
  const char *p, *sep, *auth, *aend, *q;
  wsx_url u;
  int rc;

  if (!url || !out)
    return WSX_E_INVALID;
  memset(&u, 0, sizeof u);
  /* One pass refuses every byte that may appear nowhere. */
  for (p = url; *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F || *p == '#')
      return WSX_E_URL;

  sep = strstr(url, "://");
  if (!sep)
    return WSX_E_URL;
  u.scheme = url;
  u.scheme_len = (size_t)(sep - url);
  if (casecmp_(url, u.scheme_len, "ws") || casecmp_(url, u.scheme_len, "http"))
    u.secure = 0;
  else if (casecmp_(url, u.scheme_len, "wss") ||
           casecmp_(url, u.scheme_len, "https"))
    u.secure = 1;
  else
    return WSX_E_URL;

  auth = sep + 3;
  aend = auth + strcspn(auth, "/?");
  if (*aend == '?')
    return WSX_E_URL; /* would need "/?..." which we cannot make in place */
  if ((rc = parse_authority_(auth, (size_t)(aend - auth), &u)) < 0)
    return rc;

  if (*aend == '\0') {
    u.path = "/";
    u.path_len = 1;
  } else {
    u.path = aend;
    u.path_len = strlen(aend);
    q = strchr(aend, '?');
    if (q) {
      u.query = q + 1;
      u.query_len = u.path_len - (size_t)(u.query - aend);
    }
  }
  *out = u;
  return WSX_OK;
}
