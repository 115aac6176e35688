/*
 * bench/bench_syscall_cost.c: what this machine's kernel charges every server
 * of bench/run.sh alike, printed once at the top of its table:
 *
 *   syscall_ns  one system call that does nothing (getppid), round trip
 *   page_ns     what touching one more 4 KiB page costs right after a
 *               system call, over what it costs without one: the TLB
 *               refill. With page-table isolation and no PCID (a VM that
 *               hides it), every kernel entry empties the TLB, so a server
 *               pays this for every page it touches between two calls.
 *   rw_ns       one write() of 16 KiB on a loopback TCP connection and the
 *               read() that takes it at the other end (what libuv calls:
 *               every server's read, and the raw and floor echo servers'
 *               write)
 *   sr_ns       the same with send() and recv() (MSG_DONTWAIT): on Linux,
 *               read() and write() also pass through the file layer; wsx
 *               writes with send() (src/uv/writer.c, wsx__try_write)
 *
 * Each figure is the best of 7 rounds (the least disturbed), in ns, from
 * a loop of 20,000 iterations touching 0 or 64 pages with or without a
 * getppid() first; rw_ns and sr_ns the best of 40 interleaved blocks of
 * 500 pairs each. usage: bench_syscall_cost   (prints one line)
 * Built with the bench programs (CMake), run by bench/run.sh.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGES 64
#define ITERS 20000
#define ROUNDS 7
#define PAIR_LEN 16384
#define PAIR_ITERS 500
#define PAIR_BLOCKS 40

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* ns per iteration: touch `pages` pages (a different cache line of each
 * per page, so the lines stay cached and only the translation is new),
 * after a getppid() if `sys`. */
static double loop_ns(volatile uint8_t *m, int pages, int sys) {
  double t0 = now_ns();
  for (int i = 0; i < ITERS; i++) {
    if (sys)
      (void)syscall(SYS_getppid);
    for (int p = 0; p < pages; p++)
      (void)m[(size_t)p * 4096 + (size_t)(p & 63) * 64]; /* volatile: read */
  }
  return (now_ns() - t0) / ITERS;
}

/* A connected loopback TCP pair in fd[0] (writer) and fd[1] (reader);
 * 0 on success. */
static int tcp_pair(int fd[2]) {
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fd[0] = fd[1] = -1;
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&a, &al) != 0 ||
      (fd[0] = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
      connect(fd[0], (struct sockaddr *)&a, sizeof(a)) != 0 ||
      (fd[1] = accept(l, NULL, NULL)) < 0) {
    if (l >= 0)
      close(l);
    return -1;
  }
  close(l);
  (void)setsockopt(fd[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return 0;
}

/* ns per 16 KiB write + read (`bsd` = 0) or send + recv (1); < 0 on an
 * error. */
static double pair_ns(const int fd[2], char *buf, int bsd) {
  double t0 = now_ns();
  for (int i = 0; i < PAIR_ITERS; i++) {
    ssize_t w = bsd ? send(fd[0], buf, PAIR_LEN, MSG_DONTWAIT | MSG_NOSIGNAL)
                    : write(fd[0], buf, PAIR_LEN);
    size_t got = 0;
    if (w <= 0)
      return -1;
    while (got < (size_t)w) {
      ssize_t r = bsd ? recv(fd[1], buf + PAIR_LEN, PAIR_LEN, MSG_DONTWAIT)
                      : read(fd[1], buf + PAIR_LEN, PAIR_LEN);
      if (r <= 0)
        return -1;
      got += (size_t)r;
    }
  }
  return (now_ns() - t0) / PAIR_ITERS;
}

int main(void) {
  volatile uint8_t *m = aligned_alloc(4096, (size_t)PAGES * 4096);
  double best[2][2] = {{1e18, 1e18}, {1e18, 1e18}}; /* [pages?][sys] */
  if (!m)
    return 1;
  for (size_t i = 0; i < (size_t)PAGES * 4096; i += 64)
    m[i] = 1;
  for (int r = 0; r < ROUNDS; r++)
    for (int pg = 0; pg < 2; pg++)
      for (int sys = 0; sys < 2; sys++) {
        double t = loop_ns(m, pg ? PAGES : 0, sys);
        if (t < best[pg][sys])
          best[pg][sys] = t;
      }
  double syscall_ns = best[0][1] - best[0][0];
  double page_ns =
      ((best[1][1] - best[0][1]) - (best[1][0] - best[0][0])) / PAGES;
  double pair[2] = {1e18, 1e18}; /* [bsd] */
  int fd[2];
  char *buf = aligned_alloc(4096, 2 * PAIR_LEN);
  if (!buf || tcp_pair(fd) != 0)
    return 1;
  memset(buf, 'x', 2 * PAIR_LEN);
  for (int b = 0; b < PAIR_BLOCKS; b++)
    for (int k = 0; k < 2; k++) {
      int bsd = (b + k) & 1; /* alternate which goes first */
      double t = pair_ns(fd, buf, bsd);
      if (t < 0)
        return 1;
      if (t < pair[bsd])
        pair[bsd] = t;
    }
  close(fd[0]);
  close(fd[1]);
  free(buf);
  printf("syscall_ns=%.0f page_ns=%.1f rw_ns=%.0f sr_ns=%.0f\n", syscall_ns,
         page_ns, pair[0], pair[1]);
  free((void *)m);
  return 0;
}
