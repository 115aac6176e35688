/* Socket slabs (src/uv/slab.c): slots never overlap and keep what is
 * written in them; a chunk whose last slot is freed is unmapped, except
 * one empty chunk per slab; slots are taken from chunks in use before the
 * kept empty one; everything is unmapped with the context. Under
 * AddressSanitizer (and off Linux) there are no slabs: wsx__slab_for says
 * so, and sockets use the allocator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "test.h"
#include "uv/internal.h"

#define SLOT 208u                   /* wsx echo's socket block */
#define CHUNK ((size_t)256 * 1024)  /* slab.c's SLAB_CHUNK */
#define N 4000u                     /* about 3.2 chunks of 208-byte slots */

static uv_loop_t loop;
static wsx__loopctx *ctx;
static struct wsx__slab *sl;
static unsigned char *slot[N];

static void done(void);

static int slabs(void) {
  wsx_allocator a;
  CHECK(uv_loop_init(&loop) == 0);
  wsx__alloc_init(&a, NULL);
  ctx = wsx__loopctx_get(&loop, &a);
  CHECK(ctx != NULL);
  sl = wsx__slab_for(ctx, SLOT);
  if (!sl) {
    printf("  (no slabs in this build: AddressSanitizer or not Linux)\n");
    CHECK_INT((int)wsx__slab_chunks(NULL), 0);
    done();
    return 0;
  }
  CHECK(wsx__slab_for(ctx, SLOT) == sl); /* one per size */
  CHECK(wsx__slab_for(ctx, 100) == NULL); /* not a multiple of 16 */
  return 1;
}

static void done(void) {
  wsx__loopctx_unref(ctx); /* unmaps the slabs */
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

static int by_addr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (unsigned char *const *)a;
  uintptr_t y = (uintptr_t) * (unsigned char *const *)b;
  return x < y ? -1 : x > y;
}

static void take_all(void) {
  unsigned i;
  for (i = 0; i < N; i++) {
    slot[i] = wsx__slab_get(sl);
    REQUIRE(slot[i] != NULL);
    CHECK((uintptr_t)slot[i] % 16 == 0);
    memset(slot[i], (int)(i & 0xff), SLOT);
  }
}

TEST(slots_are_distinct_and_keep_their_bytes) {
  unsigned char *sorted[N];
  unsigned i, k;
  if (!slabs())
    return;
  take_all();
  /* 4,000 slots of 208 bytes: four 256 KiB chunks */
  CHECK_INT((int)wsx__slab_chunks(sl), 4);
  for (i = 0; i < N; i++)
    for (k = 0; k < SLOT; k += 51)
      CHECK_INT(slot[i][k], (int)(i & 0xff));
  memcpy(sorted, slot, sizeof(sorted));
  qsort(sorted, N, sizeof(sorted[0]), by_addr);
  for (i = 1; i < N; i++)
    CHECK((uintptr_t)(sorted[i] - sorted[i - 1]) >= SLOT);
  for (i = 0; i < N; i++)
    wsx__slab_put(sl, slot[i]);
  done();
}

TEST(empty_chunks_are_unmapped_but_one) {
  unsigned i;
  if (!slabs())
    return;
  take_all();
  CHECK_INT((int)wsx__slab_chunks(sl), 4);
  /* Free all but the first slot: its chunk stays, one empty chunk is
   * kept, the other two are unmapped. */
  for (i = 1; i < N; i++)
    wsx__slab_put(sl, slot[i]);
  CHECK_INT((int)wsx__slab_chunks(sl), 2);
  CHECK_INT(slot[0][0], 0); /* untouched */
  /* The last one too: still one chunk, kept empty. */
  wsx__slab_put(sl, slot[0]);
  CHECK_INT((int)wsx__slab_chunks(sl), 1);
  /* Up again: the kept chunk serves first, then new ones are mapped. */
  take_all();
  CHECK_INT((int)wsx__slab_chunks(sl), 4);
  for (i = 0; i < N; i++)
    wsx__slab_put(sl, slot[i]);
  CHECK_INT((int)wsx__slab_chunks(sl), 1);
  done();
}

TEST(slots_come_from_chunks_in_use_first) {
  unsigned i, k;
  unsigned char *again;
  uintptr_t c0;
  if (!slabs())
    return;
  take_all();
  c0 = (uintptr_t)slot[0] & ~(uintptr_t)(CHUNK - 1);
  /* One slot of the first chunk is freed (it has room again), then every
   * other chunk is emptied (one of them is kept empty, the others are
   * unmapped). A new slot must come from the first chunk, which is in
   * use, not from the empty one, so that the empty one can go later. */
  for (i = 1; i < N; i++)
    if (((uintptr_t)slot[i] & ~(uintptr_t)(CHUNK - 1)) == c0) {
      wsx__slab_put(sl, slot[i]);
      break;
    }
  for (k = 1; k < N; k++)
    if (((uintptr_t)slot[k] & ~(uintptr_t)(CHUNK - 1)) != c0)
      wsx__slab_put(sl, slot[k]);
  CHECK_INT((int)wsx__slab_chunks(sl), 2);
  again = wsx__slab_get(sl);
  CHECK(again != NULL);
  CHECK(((uintptr_t)again & ~(uintptr_t)(CHUNK - 1)) == c0);
  CHECK(again == slot[i]); /* the first chunk's freed slot */
  slot[i] = again;
  for (k = 0; k < N; k++)
    if (((uintptr_t)slot[k] & ~(uintptr_t)(CHUNK - 1)) == c0)
      wsx__slab_put(sl, slot[k]);
  CHECK_INT((int)wsx__slab_chunks(sl), 1);
  done();
}

TEST_MAIN(RUN(slots_are_distinct_and_keep_their_bytes);
          RUN(empty_chunks_are_unmapped_but_one);
          RUN(slots_come_from_chunks_in_use_first))
