/*
 * Kernel CSPRNG with a small per-thread pool.
 *
 * A client masks every frame with 4 fresh random bytes; one getrandom(2)
 * per frame would cost a syscall per send. The pool holds 256 bytes from
 * getrandom and hands each byte out once (it is wiped as it is consumed).
 * A forked child must not replay the parent's remaining pool bytes, so a
 * fork handler empties the pool of the thread that survives in the child
 * (the only one there). If that handler cannot be registered, the pool is
 * not used and every call goes to the kernel.
 */
#include "common/util.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#define WSX_RANDOM_POOL 256

typedef struct random_pool {
  uint8_t bytes[WSX_RANDOM_POOL];
  size_t pos; /* bytes[pos..] are unused; pos == WSX_RANDOM_POOL: empty */
} random_pool;

static _Thread_local random_pool pool = {{0}, WSX_RANDOM_POOL};
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_ok; /* written once under atfork_once */

static void random_forget(void) {
  memset(pool.bytes, 0, sizeof pool.bytes);
  pool.pos = WSX_RANDOM_POOL;
}

static void random_register_atfork(void) {
  atfork_ok = pthread_atfork(NULL, NULL, random_forget) == 0;
}

/* getrandom until n bytes arrived: it may return short or fail with EINTR. */
static int random_kernel(uint8_t *buf, size_t n) {
  while (n > 0) {
    ssize_t r = getrandom(buf, n, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) /* 0 cannot happen for n > 0; never spin on it */
      return -1;
    buf += (size_t)r;
    n -= (size_t)r;
  }
  return 0;
}

int wsx__random(void *out, size_t n) {
  uint8_t *dst = out;

  pthread_once(&atfork_once, random_register_atfork);
  if (!atfork_ok || n >= WSX_RANDOM_POOL)
    return random_kernel(dst, n);
  while (n > 0) {
    size_t avail = WSX_RANDOM_POOL - pool.pos, take;
    if (avail == 0) {
      if (random_kernel(pool.bytes, WSX_RANDOM_POOL) < 0)
        return -1;
      pool.pos = 0;
      avail = WSX_RANDOM_POOL;
    }
    take = avail < n ? avail : n;
    memcpy(dst, pool.bytes + pool.pos, take);
    memset(pool.bytes + pool.pos, 0, take);
    pool.pos += take;
    dst += take;
    n -= take;
  }
  return 0;
}
