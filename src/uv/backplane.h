/*
 * Backplanes (wsx/backplane.h), internal side: the bus-independent part
 * (backplane.c: the node id, the outgoing queue, encoding, loop-back
 * suppression, delivery to the node) and the bus implementations' table
 * of operations (redis.c).
 *
 * Wire format of one publication on the bus: "WSX1", the 16-byte node id,
 * the opcode (1 byte), the topic length (1 byte), the topic, the payload.
 */
#ifndef WSX_SRC_UV_BACKPLANE_H
#define WSX_SRC_UV_BACKPLANE_H

#include "uv/pubsub.h"
#include "wsx/backplane.h"

#define WSX__PUB_NO_BUS 0x100u /* internal publish flag: from the bus */

typedef struct wsx__bp_ops {
  /* Sends one encoded publication (on the backplane's loop); drops it
   * while the bus is down. */
  void (*send)(void *impl, const uint8_t *msg, size_t len);
  /* Disconnects; the implementation frees itself when its handles are
   * closed and calls nothing on the backplane after this. */
  void (*close)(void *impl);
} wsx__bp_ops;

/* A backplane for an implementation (`impl` is set by the caller right
 * after). NULL with *err. */
wsx_backplane *wsx__bp_new(uv_loop_t *loop, const wsx_allocator *a,
                           const wsx_backplane_callbacks *cbs, void *ud,
                           int *err);
void wsx__bp_set_impl(wsx_backplane *bp, const wsx__bp_ops *ops, void *impl);
/* Thread-safe: encodes and queues a publication for the bus. */
void wsx__bp_publish(wsx_backplane *bp, const void *topic, size_t tlen,
                     const void *data, size_t len, int opcode);
/* From the implementation, on the loop: a message from the bus. */
void wsx__bp_receive(wsx_backplane *bp, const uint8_t *msg, size_t len);
/* From the implementation: the bus is up (1) or down (0, why). */
void wsx__bp_status(wsx_backplane *bp, int up, const char *why);

/* group.c */
struct wsx_server_group;
wsx_backplane *wsx__group_bp(struct wsx_server_group *g);
int wsx__group_set_bp(struct wsx_server_group *g, wsx_backplane *bp);

#endif
