/*
 * wsx bench's setup (tools/bench.h): options, the URL, the bytes every
 * connection shares (upgrade request, masked message frame, close frame,
 * the precompressed permessage-deflate message), and the --threads worker
 * processes whose result lines are summed into one. The generator itself
 * is cmd_bench.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "bench.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: wsx bench URL [-c CONNS] [-s SIZE] [-d SECONDS] [--text|"
          "--binary]\n"
          "                 [--raw | --handshakes | --idle N [--warm]] "
          "[--deflate] [--rate R] [-q]\n"
          "  URL            ws://host:port/path (tcp://host:port with --raw)\n"
          "  -c CONNS       concurrent connections (default 100)\n"
          "  -s SIZE        message size in bytes (default 20)\n"
          "  -d SECONDS     measured duration (default 5)\n"
          "  --text         text messages (default)\n"
          "  --binary       binary messages\n"
          "  --raw          plain TCP against a raw echo server\n"
          "  --handshakes   loop open -> one echo -> close; report "
          "handshakes/s\n"
          "  --idle N       hold N idle connections for SECONDS\n"
          "  --deflate      negotiate permessage-deflate; send JSON-like "
          "text compressed\n"
          "                 once (no context takeover); fails if the server "
          "declines\n"
          "  --warm         with --idle: each connection echoes one message "
          "before it\n"
          "                 idles (per-connection state such as zlib streams "
          "is live)\n"
          "  --rate R       at most R messages per second over all "
          "connections\n"
          "  --threads N    N generator processes, one event loop each, "
          "the\n"
          "                 connections shared out (use every core you give "
          "it)\n"
          "  -q             no progress lines on stderr\n"
          "Prints one result line on stdout, e.g.\n"
          "  msgs_per_sec=123456 mb_per_sec=2.5 conns=100 size=20 seconds=5 "
          "msgs=617280\n"
          "  loop_turns=9000 msgs_per_turn=68.6 threads=1 gen_cpu_pct=97\n"
          "(gen_cpu_pct: the generator's CPU time over the run, in %% of one "
          "core;\n"
          "near 100 x threads, the generator is what limits the figure.\n"
          "msgs_per_turn: echoes completed per turn of the generator's "
          "loop(s);\n"
          "near 1, the two ends run in lockstep, each waking for each "
          "message)\n");
}

/* Parses a positive integer argument; returns -1 if it is not one. */
static long parse_count(const char *s, long max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v <= 0 || v > max)
    return -1;
  return v;
}

/* Parses a real argument in (0, max]; returns -1 if it is not one. */
static double parse_positive(const char *s, double max) {
  char *end;
  double v = strtod(s, &end);
  return end == s || *end || !(v > 0) || v > max ? -1 : v;
}

static int parse_url(const char *url) {
  const char *p;
  size_t defport_ok = 0;
  if (B.mode == MODE_RAW && strncmp(url, "tcp://", 6) == 0)
    p = url + 6;
  else if (B.mode != MODE_RAW && strncmp(url, "ws://", 5) == 0)
    p = url + 5, defport_ok = 1;
  else
    return -1;
  const char *host = p, *host_end;
  if (*p == '[') { /* IPv6 literal */
    host = ++p;
    while (*p && *p != ']')
      p++;
    if (*p != ']')
      return -1;
    host_end = p++;
  } else {
    while (*p && *p != ':' && *p != '/' && *p != '?')
      p++;
    host_end = p;
  }
  size_t hl = (size_t)(host_end - host);
  if (hl == 0 || hl >= sizeof B.host)
    return -1;
  memcpy(B.host, host, hl);
  B.host[hl] = 0;
  if (*p == ':') {
    const char *ps = ++p;
    while (*p >= '0' && *p <= '9')
      p++;
    size_t pl = (size_t)(p - ps);
    if (pl == 0 || pl > 5)
      return -1;
    memcpy(B.port, ps, pl);
    B.port[pl] = 0;
    if (atoi(B.port) < 1 || atoi(B.port) > 65535)
      return -1;
  } else if (defport_ok) {
    strcpy(B.port, "80");
  } else {
    return -1;
  }
  if (*p && *p != '/' && *p != '?')
    return -1;
  if (strlen(p) + 2 > sizeof B.path)
    return -1;
  snprintf(B.path, sizeof B.path, "%s%s", *p == '/' ? "" : "/", p);
  return 0;
}

/* JSON-like text (what compressed benchmarks usually carry), n bytes. */
static void json_fill(uint8_t *p, size_t n) {
  size_t i = 0;
  for (unsigned k = 0; i < n; k++) {
    char item[96];
    int m =
        snprintf(item, sizeof item,
                 "{\"id\":%u,\"name\":\"user%u\",\"ok\":%s,\"v\":[%u,%u]},", k,
                 k % 97, k % 3 ? "false" : "true", k * 7 % 1000, k * 13 % 1000);
    for (int j = 0; j < m && i < n; j++)
      p[i++] = (uint8_t)item[j];
  }
}

/* Compresses p[0..n) as one permessage-deflate message (RFC 7692 7.2.1:
 * raw DEFLATE, sync flush, the trailing 00 00 FF FF removed) into a new
 * buffer; returns its length in *out_len, or NULL. */
static uint8_t *deflate_message(const uint8_t *p, size_t n, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return NULL;
  size_t cap = deflateBound(&z, (uLong)n) + 16;
  uint8_t *out = malloc(cap);
  z.next_in = (Bytef *)(uintptr_t)p;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = out ? deflate(&z, Z_SYNC_FLUSH) : Z_MEM_ERROR;
  size_t len = cap - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_OK || z.avail_in != 0 || len < 4 ||
      memcmp(out + len - 4, "\0\0\xff\xff", 4) != 0) {
    free(out);
    return NULL;
  }
  *out_len = len - 4;
  return out;
}

/* Builds the shared request, message frame and close frame. */
int bench_prepare(void) {
  static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  char hostport[300];
  if (strchr(B.host, ':'))
    snprintf(hostport, sizeof hostport, "[%s]:%s", B.host, B.port);
  else
    snprintf(hostport, sizeof hostport, "%s:%s", B.host, B.port);
  size_t rq = strlen(B.path) + strlen(hostport) + 256;
  B.request = malloc(rq);
  if (!B.request)
    return -1;
  int n = snprintf(B.request, rq,
                   "GET %s HTTP/1.1\r\n"
                   "Host: %s\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n%s\r\n",
                   B.path, hostport,
                   B.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                               "client_no_context_takeover\r\n"
                             : "");
  B.request_len = (size_t)n;

  /* The payload as it goes on the wire: the message itself, or (deflate)
   * its compressed form. */
  uint8_t *msg = NULL;
  size_t wire = B.size;
  if (B.deflate) {
    uint8_t *text = malloc(B.size);
    if (!text)
      return -1;
    json_fill(text, B.size);
    msg = deflate_message(text, B.size, &wire);
    free(text);
    if (!msg)
      return -1;
  }
  size_t hl = B.mode == MODE_RAW ? 0 : wire < 126 ? 6 : wire < 65536 ? 8 : 14;
  B.frame_len = hl + wire;
  B.frame = malloc(B.frame_len ? B.frame_len : 1);
  if (!B.frame) {
    free(msg);
    return -1;
  }
  uint8_t *pl = B.frame + hl;
  if (msg)
    memcpy(pl, msg, wire);
  else
    for (size_t i = 0; i < wire; i++)
      pl[i] = (uint8_t)('a' + i % 26); /* ASCII: valid UTF-8 as text */
  free(msg);
  if (hl) {
    uint8_t *h = B.frame;
    /* RSV1 marks a compressed message (RFC 7692 6). */
    h[0] = (uint8_t)(0x80 | (B.deflate ? 0x40 : 0) | (B.binary ? 0x2 : 0x1));
    if (hl == 6) {
      h[1] = (uint8_t)(0x80 | wire);
    } else if (hl == 8) {
      h[1] = 0x80 | 126;
      h[2] = (uint8_t)(wire >> 8);
      h[3] = (uint8_t)wire;
    } else {
      h[1] = 0x80 | 127;
      for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)wire >> (56 - 8 * i));
    }
    memcpy(h + hl - 4, mask, 4);
    for (size_t i = 0; i < wire; i++)
      pl[i] ^= mask[i & 3];
  }
  uint8_t *cf = B.close_frame; /* close 1000, masked */
  cf[0] = 0x88;
  cf[1] = 0x82;
  memcpy(cf + 2, mask, 4);
  cf[6] = (uint8_t)(0x03 ^ mask[0]);
  cf[7] = (uint8_t)(0xe8 ^ mask[1]);
  return 0;
}

/* Parses argv into B. Returns 0, or 2 after printing a usage error. */
int bench_parse_args(int argc, char **argv) {
  const char *url = NULL;
  B.conns = 100;
  B.size = 20;
  B.seconds = 5;
  int idle = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "-c") || !strcmp(a, "--connections")) {
      if (!v || (n = parse_count(v, 1000000)) < 0)
        goto bad_value;
      B.conns = (int)n, i++;
    } else if (!strcmp(a, "-s") || !strcmp(a, "--size")) {
      if (!v || (n = parse_count(v, 1L << 30)) < 0)
        goto bad_value;
      B.size = (size_t)n, i++;
    } else if (!strcmp(a, "-d") || !strcmp(a, "--duration")) {
      if (!v || (B.seconds = parse_positive(v, 86400)) < 0)
        goto bad_value;
      i++;
    } else if (!strcmp(a, "--idle")) {
      if (!v || (n = parse_count(v, 1000000)) < 0)
        goto bad_value;
      idle = (int)n, i++;
      B.mode = MODE_IDLE;
    } else if (!strcmp(a, "--binary")) {
      B.binary = 1;
    } else if (!strcmp(a, "--text")) {
      B.binary = 0;
    } else if (!strcmp(a, "--raw")) {
      B.mode = MODE_RAW;
    } else if (!strcmp(a, "--deflate")) {
      B.deflate = 1;
    } else if (!strcmp(a, "--rate")) {
      if (!v || (B.rate = parse_positive(v, 1e9)) < 0)
        goto bad_value;
      i++;
    } else if (!strcmp(a, "--warm")) {
      B.warm = 1;
    } else if (!strcmp(a, "--threads")) {
      if (!v || (n = parse_count(v, 256)) < 0)
        goto bad_value;
      B.threads = (int)n, i++;
    } else if (!strcmp(a, "--handshakes")) {
      B.mode = MODE_HANDSHAKES;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      B.quiet = 1;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "wsx bench: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    } else if (!url) {
      url = a;
    } else {
      fprintf(stderr, "wsx bench: unexpected argument '%s'\n", a);
      return 2;
    }
    continue;
  bad_value:
    fprintf(stderr, "wsx bench: option '%s' needs a valid value\n", a);
    return 2;
  }
  if (idle)
    B.conns = idle;
  if (B.deflate && (B.mode == MODE_RAW || B.binary)) {
    fprintf(stderr, "wsx bench: --deflate goes with WebSocket text "
                    "messages only\n");
    return 2;
  }
  if (!url) {
    fprintf(stderr, "wsx bench: missing URL\n");
    usage(stderr);
    return 2;
  }
  if (parse_url(url) < 0) {
    fprintf(stderr, "wsx bench: bad URL '%s' (expected %s)\n", url,
            B.mode == MODE_RAW ? "tcp://host:port" : "ws://host:port/path");
    return 2;
  }
  return 0;
}

/* CPU seconds (user + system) of this process or of its waited-for
 * children. */
double bench_cpu_seconds(int who) {
  struct rusage ru;
  if (getrusage(who, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double num_field(const char *line, const char *name) {
  const char *p = strstr(line, name);
  return p ? strtod(p + strlen(name), NULL) : 0;
}

/* --threads N: N generator processes (one loop each), the connections
 * shared out; their result lines are summed into one. Returns the exit
 * code. */
int bench_run_workers(int n) {
  int fds[2], bad = 0, conns = B.conns;
  double rate = 0, secs = 0, count = 0, total = 0, turns = 0, echoes = 0,
         t0 = (double)uv_hrtime();
  char line[512];
  FILE *in;
  if (pipe(fds) != 0) {
    perror("wsx bench: pipe");
    return 1;
  }
  fflush(stdout);
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("wsx bench: fork");
      bad = 1;
      break;
    }
    if (pid == 0) {
      close(fds[0]);
      if (dup2(fds[1], 1) < 0)
        _exit(1);
      B.conns = conns / n + (i < conns % n);
      B.rate = B.rate * (double)B.conns / (double)conns; /* its share */
      B.quiet = 1;
      B.worker = 1;
      fflush(stdout);
      _exit(bench_run_one());
    }
  }
  close(fds[1]);
  in = fdopen(fds[0], "r");
  while (in && fgets(line, sizeof line, in)) {
    int hs = B.mode == MODE_HANDSHAKES;
    rate += num_field(line, hs ? "handshakes_per_sec=" : "msgs_per_sec=");
    count += num_field(line, hs ? "handshakes=" : "msgs=");
    total += num_field(line, "msgs=");
    /* A worker's msgs= counts from its first connect; its turns and
     * msgs_per_turn are the window's, so its echoes in the window are
     * their product. */
    double wt = num_field(line, "loop_turns=");
    turns += wt;
    echoes += wt * num_field(line, "msgs_per_turn=");
    double sc = num_field(line, "seconds=");
    secs = sc > secs ? sc : secs;
  }
  if (in)
    fclose(in);
  for (int st; wait(&st) > 0;)
    bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  if (bad)
    return 1;
  double el = ((double)uv_hrtime() - t0) / 1e9;
  double cpu = bench_cpu_seconds(RUSAGE_CHILDREN);
  if (B.mode == MODE_HANDSHAKES)
    printf("handshakes_per_sec=%.0f conns=%d size=%zu seconds=%.2f "
           "handshakes=%.0f msgs=%.0f",
           rate, conns, B.size, secs, count, total);
  else
    printf("msgs_per_sec=%.0f mb_per_sec=%.1f conns=%d size=%zu "
           "seconds=%.2f msgs=%.0f",
           rate, rate * (double)B.size / 1e6, conns, B.size, secs, count);
  if (B.mode != MODE_HANDSHAKES)
    printf(" loop_turns=%.0f msgs_per_turn=%.1f", turns,
           turns > 0 ? echoes / turns : 0);
  printf(" threads=%d gen_cpu_pct=%.0f\n", n, el > 0 ? cpu / el * 100 : 0);
  fflush(stdout);
  return 0;
}
