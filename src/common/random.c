/*
 * Platform CSPRNG with a small per-thread pool (the default when
 * wsx_driver_options.random is NULL).
 *
 * The source is chosen at build time (CMakeLists.txt probes the symbols
 * and defines WSX_HAVE_GETRANDOM / _GETENTROPY / _ARC4RANDOM; the option
 * WSX_RANDOM_SOURCE forces one): getrandom(2) (Linux, FreeBSD 12+),
 * getentropy(3) (OpenBSD, macOS, glibc 2.25+; at most 256 bytes a call),
 * arc4random_buf(3) (the BSDs, macOS), else reading /dev/urandom (any
 * POSIX system). Compiled without the probes, the /dev/urandom path is
 * used.
 *
 * A client masks every frame with 4 fresh random bytes; one syscall per
 * frame would cost a syscall per send. The pool holds 256 bytes and hands
 * each byte out once (it is wiped as it is consumed).
 * A forked child must not replay the parent's remaining pool bytes, so a
 * fork handler empties the pool of the thread that survives in the child
 * (the only one there). If that handler cannot be registered, the pool is
 * not used and every call goes to the kernel.
 */
#include "common/util.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#if defined(WSX_HAVE_GETRANDOM)
#include <sys/random.h>
#elif defined(WSX_HAVE_GETENTROPY)
#include <unistd.h>
#if defined(__APPLE__)
#include <sys/random.h>
#endif
#elif defined(WSX_HAVE_ARC4RANDOM)
#include <stdlib.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

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

#if defined(WSX_HAVE_GETRANDOM)
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
#elif defined(WSX_HAVE_GETENTROPY)
/* getentropy gives at most 256 bytes a call, all or nothing. */
static int random_kernel(uint8_t *buf, size_t n) {
  while (n > 0) {
    size_t k = n < 256 ? n : 256;
    if (getentropy(buf, k) != 0)
      return -1;
    buf += k;
    n -= k;
  }
  return 0;
}
#elif defined(WSX_HAVE_ARC4RANDOM)
static int random_kernel(uint8_t *buf, size_t n) {
  arc4random_buf(buf, n); /* cannot fail */
  return 0;
}
#else
/* /dev/urandom, opened per refill (once per 256 bytes with the pool). */
static int random_kernel(uint8_t *buf, size_t n) {
  int fd;
  do
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -1;
  while (n > 0) {
    ssize_t r = read(fd, buf, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      close(fd);
      return -1;
    }
    buf += (size_t)r;
    n -= (size_t)r;
  }
  close(fd);
  return 0;
}
#endif

/* Which source this build uses (tests check the forced build). */
const char *wsx__random_source(void) {
#if defined(WSX_HAVE_GETRANDOM)
  return "getrandom";
#elif defined(WSX_HAVE_GETENTROPY)
  return "getentropy";
#elif defined(WSX_HAVE_ARC4RANDOM)
  return "arc4random";
#else
  return "urandom";
#endif
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
