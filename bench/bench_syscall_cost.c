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
 *
 * Each figure is the best of 7 rounds (the least disturbed), in ns, from
 * a loop of 20,000 iterations touching 0 or 64 pages with or without a
 * getppid() first. usage: bench_syscall_cost   (prints one line)
 * Built with the bench programs (CMake), run by bench/run.sh.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGES 64
#define ITERS 20000
#define ROUNDS 7

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
  printf("syscall_ns=%.0f page_ns=%.1f\n", syscall_ns, page_ns);
  free((void *)m);
  return 0;
}
