/* tools/args.c: option-parsing helpers of the wsx CLI (see args.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "args.h"

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "wsx %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'wsx %s --help'.\n", cmd);
  return 2;
}

int cli_option(const char *cmd, int argc, char **argv, int *i, const char *name,
               const char **value) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
    return 0;
  if (!value) {
    if (a[n] == '=')
      return cli_usage_error(cmd, "option '%s' takes no value", name);
    return 1;
  }
  if (a[n] == '=') {
    *value = a + n + 1;
    return 1;
  }
  if (*i + 1 >= argc)
    return cli_usage_error(cmd, "option '%s' needs a value", name);
  *value = argv[++*i];
  return 1;
}

int cli_uint(const char *cmd, const char *opt, const char *s, uint64_t max,
             uint64_t *out) {
  char *end;
  unsigned long long v;
  /* strtoull accepts a sign and leading blanks: refuse them explicitly. */
  if (*s < '0' || *s > '9')
    goto bad;
  v = strtoull(s, &end, 10);
  if (*end || v > max)
    goto bad;
  *out = v;
  return 0;
bad:
  return cli_usage_error(cmd, "bad value '%s' for %s (expected 0..%llu)", s,
                         opt, (unsigned long long)max);
}

int cli_port(const char *cmd, const char *opt, const char *s, int *port) {
  uint64_t v;
  char *end;
  if (*s >= '0' && *s <= '9') {
    v = strtoull(s, &end, 10);
    if (!*end && v <= 65535) {
      *port = (int)v;
      return 0;
    }
  }
  return cli_usage_error(cmd, "bad port '%s' for %s (expected 0..65535)", s,
                         opt);
}

/* A DNS name: labels of letters, digits and '-', separated by dots. */
static int is_host_name(const char *s) {
  size_t n = strlen(s), label = 0;
  if (n == 0 || n > 253)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '.') {
      if (label == 0)
        return 0;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '-') {
      if (++label > 63)
        return 0;
    } else {
      return 0;
    }
  }
  return 1;
}

int cli_host(const char *cmd, const char *host) {
  unsigned char buf[16];
  if (uv_inet_pton(AF_INET, host, buf) == 0 ||
      uv_inet_pton(AF_INET6, host, buf) == 0 || is_host_name(host))
    return 0;
  return cli_usage_error(
      cmd, "bad host '%s' (expected an IPv4 or IPv6 address or a host name)",
      host);
}

int cli_is_help(const char *a) {
  return !strcmp(a, "-h") || !strcmp(a, "--help");
}

void cli_write_escaped(FILE *f, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || c == '\\')
      fprintf(f, "\\x%02x", c);
    else
      putc(c, f);
  }
}

void cli_hostport(char *buf, size_t len, const char *host, int port) {
  if (strchr(host, ':'))
    snprintf(buf, len, "[%s]:%d", host, port);
  else
    snprintf(buf, len, "%s:%d", host, port);
}
