/*
 * A server driver built inside its embedder's memory: the libuv
 * transport's socket reserves the room at the end of its own allocation,
 * so an open connection is one heap block (issue 20). The embedder keeps
 * the allocator and callbacks the driver points at alive for the driver's
 * life; wsx_driver_free releases everything the driver holds except the
 * room itself. Declared here, not in the public headers: the layout is
 * this build's own (scripts/check-layers.sh lets src/uv include this).
 */
#ifndef WSX_SRC_DRIVER_EMBED_H
#define WSX_SRC_DRIVER_EMBED_H

#include <stddef.h>

#include "wsx/driver.h"

/* Bytes of room an embedded driver needs (a multiple of 16). */
size_t wsx__driver_embed_size(void);

/* wsx_driver_new_server_request in `room` (wsx__driver_embed_size() bytes,
 * 16-byte aligned, owned by the caller). `opts` is in this library's
 * layout (a resolved copy; its allocator is not read); `alloc` and `cbs`
 * are kept by pointer and must outlive the driver. NULL: out of memory
 * (nothing is left allocated; the room is the caller's). */
wsx_driver *wsx__driver_embed_server_request(void *room,
                                             const wsx_http_request *req,
                                             const wsx_driver_options *opts,
                                             const wsx_allocator *alloc,
                                             const wsx_driver_callbacks *cbs,
                                             void *user_data);

/* Sets the allocator of d's incoming message buffer (the transport's page
 * allocator, common/alloc.h), which must outlive the driver. Call before
 * the driver parses anything: no buffer from the previous allocator may be
 * outstanding. Buffers that wsx_driver_take_message() hands out then
 * belong to `a`. */
void wsx__driver_set_msg_alloc(wsx_driver *d, const wsx_allocator *a);

/* Hibernation (uv/hibernate.c). Non-zero if `d` (embedded) is an open
 * hybi-13 server driver with nothing in flight: no partial frame, no
 * message being assembled or held, no extension negotiated, no ping
 * callback, no close begun, no error recorded, not inside a call. Its
 * whole state is then its configuration (re-derived from the options it
 * was built from) plus its url and protocol. */
int wsx__driver_embed_idle(const wsx_driver *d);

/* Bytes wsx__driver_embed_sleep() writes for an idle driver. */
size_t wsx__driver_embed_saved_len(const wsx_driver *d);

/* Puts an idle driver (wsx__driver_embed_idle) to sleep: writes its url
 * and protocol to `out` (wsx__driver_embed_saved_len() bytes, the
 * caller's) and frees everything the driver holds (the room is the
 * caller's again). */
void wsx__driver_embed_sleep(wsx_driver *d, char *out);

/* A string of the block wsx__driver_embed_sleep() wrote: the url
 * (which 0) or the protocol (which 1), as the driver's accessors gave
 * them (NULL when the driver had none). */
const char *wsx__driver_embed_saved_str(const char *saved, int which);

/* Rebuilds in `room` the driver that wsx__driver_embed_sleep() saved in
 * `saved` (not freed: the caller's), from the same options, allocator and
 * callbacks it was built from (as in wsx__driver_embed_server_request):
 * the driver is open. NULL: out of memory, nothing is left allocated. */
wsx_driver *wsx__driver_embed_wake(void *room, const char *saved,
                                   const wsx_driver_options *opts,
                                   const wsx_allocator *alloc,
                                   const wsx_driver_callbacks *cbs,
                                   void *user_data);

/* 1 if parsing p[0..n) now cannot grow d's incoming message buffer (so
 * cannot ask its budget hook for anything): d is between messages with no
 * extension negotiated, and the input is whole unfragmented data frames
 * and control frames, possibly ending in a split frame header or a split
 * control frame. 0 when that is not certain (then ask
 * wsx_driver_budget_need). Reads frame headers only (driver/rxpeek.c). */
int wsx__driver_input_unbuffered(const wsx_driver *d, const uint8_t *p,
                                 size_t n);

#endif
