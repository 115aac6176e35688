/*
 * wsx/backplane.h: topics across processes and machines through a message
 * bus. One implementation: Redis pub/sub (hiredis on libuv).
 *
 * A backplane belongs to one node: a wsx_server, or a wsx_server_group
 * (wsx/group.h). Once attached, every publication of that node
 * (wsx_server_publish, wsx_server_group_publish) is delivered to the
 * node's own subscribers at once AND sent to the bus; publications other
 * nodes sent to the bus reach this node's subscribers. Each message on
 * the bus carries its node's random 128-bit id, and a node ignores its
 * own messages coming back (loop-back suppression): every subscriber
 * gets a publication once. wsx_loop_publish() and WSX_PUBLISH_LOCAL stay
 * on the node.
 *
 * Delivery over the bus is at most once, like Redis pub/sub itself: while
 * the bus is unreachable, local delivery goes on, publications of this
 * node are not sent (they are dropped, not queued) and publications of
 * other nodes are not received. The backplane reconnects by itself, with
 * a backoff from reconnect_min_ms doubling to reconnect_max_ms, and
 * reports every change through `status`. Redis pub/sub is global to the
 * Redis server (a /db in the URL does not scope it): nodes meet on the
 * `channel` (default "wsx"); every node receives every message of the
 * channel and keeps those whose topic has local subscribers.
 *
 * Threads: a backplane runs on the loop given to its constructor, where
 * its callbacks fire; wsx_backplane_free() and the attach calls run on
 * that thread. Publications reach it from any thread of its node (a
 * thread-safe queue woken by uv_async). A server's backplane runs on the
 * server's loop; a group's on any loop (e.g. the main thread's).
 */
#ifndef WSX_BACKPLANE_H
#define WSX_BACKPLANE_H

#include "group.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsx_backplane wsx_backplane;

typedef struct wsx_backplane_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* The bus became reachable (connected = 1) or was lost / could not be
   * reached (0; `message` says why, borrowed for the call). Reported on
   * every change, and for the first failure to connect. */
  void (*status)(wsx_backplane *bp, int connected, const char *message,
                 void *user_data);
} wsx_backplane_callbacks;
#define WSX_BACKPLANE_CALLBACKS_INIT                                           \
  { .struct_size = sizeof(wsx_backplane_callbacks) }

typedef struct wsx_redis_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* redis://[:password@]host[:port][/db] (host: a name, IPv4 or [IPv6];
   * port 6379). NULL = "redis://127.0.0.1:6379". Copied. */
  const char *url;
  /* Pub/sub channel the nodes share (NULL = "wsx"). Copied. */
  const char *channel;
  /* Reconnect backoff, ms (0 = 100 and 5000). */
  uint32_t reconnect_min_ms, reconnect_max_ms;
  /* NULL = libc. Copied. Must be thread-safe (publications are queued
   * from the node's threads). */
  const wsx_allocator *allocator;
} wsx_redis_options;
#define WSX_REDIS_OPTIONS_INIT                                                 \
  { .struct_size = sizeof(wsx_redis_options) }

/* 1 if this build has the Redis backplane (built with hiredis), else 0. */
WSX_EXTERN int wsx_redis_available(void);

/*
 * A Redis backplane on `loop`: connects at once (in the background: the
 * first `status` says how it went). Returns NULL with *err (if non-NULL)
 * set to WSX_E_UNSUPPORTED (built without hiredis), WSX_E_STRUCT_SIZE,
 * WSX_E_URL (url not redis://...), WSX_E_NOMEM or a libuv error.
 */
WSX_EXTERN wsx_backplane *
wsx_redis_backplane_new(uv_loop_t *loop, const wsx_redis_options *opts,
                        const wsx_backplane_callbacks *cbs, void *user_data,
                        int *err);

/* Attaches the backplane to a server on the backplane's loop, or to a
 * group (before wsx_server_group_start). Once per backplane, one backplane
 * per node. Returns WSX_OK, WSX_E_INVALID (another loop's server),
 * WSX_E_BUSY (already attached, or the node has one). The backplane must
 * be freed after the server / group. */
WSX_EXTERN int wsx_backplane_attach_server(wsx_backplane *bp,
                                           wsx_server *srv);
WSX_EXTERN int wsx_backplane_attach_group(wsx_backplane *bp,
                                          wsx_server_group *g);
/* 1 while the bus is reachable. */
WSX_EXTERN int wsx_backplane_connected(const wsx_backplane *bp);
/* Disconnects and frees (the loop must run on for the connections to
 * close; no callback fires after this). After the node it serves was
 * freed. */
WSX_EXTERN void wsx_backplane_free(wsx_backplane *bp);

#ifdef __cplusplus
}
#endif
#endif /* WSX_BACKPLANE_H */
