/*
 * wsx/group.h: one WebSocket server on N loops, one thread each (multi-core
 * serving in one process), with topics (wsx/pubsub.h) that span the loops.
 *
 * Each loop has its own wsx_server with its own listener on the same
 * address and port (SO_REUSEPORT: the kernel spreads new connections over
 * the loops). Where SO_REUSEPORT cannot be set (or with the `acceptor`
 * option), the group listens instead on ONE socket polled by loop 0, which
 * accepts every connection and deals them out round-robin to the loops
 * (itself included): a per-loop queue woken by uv_async_send carries the
 * descriptor, and the target loop serves it exactly like a connection its
 * own listener accepted (same options, callbacks, limits; max_connections
 * counts per loop's server). Loop 0 then also spends the CPU of the
 * accept() calls. A connection stays on the loop that got it: its
 * callbacks run on that loop's thread, and every call on it must be made
 * there (wsx/uv.h). The group has no locks around connections.
 *
 * Thread-safe calls: wsx_server_group_publish() and
 * wsx_server_group_stop() may be called from any thread, including a
 * thread that is not one of the group's. wsx_server_publish() on a
 * group's server (on that loop's thread) publishes to the whole group.
 * Everything else: on the thread that created the group (new, listen,
 * start, free) or on the loop's own thread (the servers and sockets).
 *
 * A publication is framed once and the same reference-counted frame is
 * handed to every loop through a per-loop queue woken by uv_async_send
 * (the payload is copied once, into the frame, never per loop). Per loop,
 * deflate subscribers share one compressed frame as on a single loop.
 * Publications from one thread reach each loop in the order they were
 * made. Memory of frames crossing loops comes from the group's allocator,
 * which must then be thread-safe (libc's is).
 */
#ifndef WSX_GROUP_H
#define WSX_GROUP_H

#include "pubsub.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsx_server_group wsx_server_group;

typedef struct wsx_server_group_callbacks {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Callbacks of every loop's server (the user_data they receive is the
   * group's). Copied. They run on the thread of the server's loop. */
  const wsx_server_callbacks *server;
  /* On loop `index`'s thread when it starts, before it runs: set up
   * per-loop state (timers, routers) here. May be NULL. */
  void (*loop_start)(wsx_server_group *g, unsigned index, uv_loop_t *loop,
                     wsx_server *srv, void *user_data);
  /* On loop `index`'s thread after wsx_server_group_stop(): its server is
   * being freed (graceful close); close the handles you added to the loop
   * so that it can end. May be NULL. */
  void (*loop_stop)(wsx_server_group *g, unsigned index, uv_loop_t *loop,
                    void *user_data);
} wsx_server_group_callbacks;
#define WSX_SERVER_GROUP_CALLBACKS_INIT                                        \
  { .struct_size = sizeof(wsx_server_group_callbacks) }

typedef struct wsx_server_group_options {
  /* sizeof the struct; set by the _INIT macro below (common.h). */
  size_t struct_size;
  /* Loops, one thread each (0 = 1; at most 256). */
  unsigned threads;
  /* Options of every loop's server (NULL = defaults); copied. With more
   * than one thread, reuse_port is turned on. */
  const wsx_server_options *server;
  /* For the group's own memory and the frames of publications (NULL =
   * libc); must be thread-safe. Copied. */
  const wsx_allocator *allocator;
  /* 1: listen through the acceptor (one listening socket on loop 0 that
   * hands connections to the loops) even where SO_REUSEPORT works; 0 (the
   * default): the acceptor only where SO_REUSEPORT cannot be set. Ignored
   * with one thread. */
  int acceptor;
} wsx_server_group_options;
#define WSX_SERVER_GROUP_OPTIONS_INIT                                          \
  { .struct_size = sizeof(wsx_server_group_options) }

/*
 * Creates the loops (uv_loop_init, owned by the group) and a server on
 * each; nothing runs yet. Returns NULL with *err (if non-NULL) set to
 * WSX_E_STRUCT_SIZE, WSX_E_INVALID (threads > 256), WSX_E_NOMEM, a libuv
 * error, or an error of wsx_server_new().
 */
WSX_EXTERN wsx_server_group *
wsx_server_group_new(const wsx_server_group_options *opts,
                     const wsx_server_group_callbacks *cbs, void *user_data,
                     int *err);
/* Every loop's server listens on host:port (see wsx_server_listen; port 0:
 * the first picks a port and the others take the same), or the acceptor
 * listens there (above; once per group). Before start. Returns WSX_OK,
 * WSX_E_STATE (already started), WSX_E_INVALID (host or port), WSX_E_BUSY
 * (the acceptor already listens), the first server's error or a libuv
 * error of socket/bind/listen. */
WSX_EXTERN int wsx_server_group_listen(wsx_server_group *g, const char *host,
                                       int port);
/* The listening port (see wsx_server_port); a negative error before
 * listen. */
WSX_EXTERN int wsx_server_group_port(const wsx_server_group *g);
/* 1 if wsx_server_group_listen() chose the acceptor (see above), else 0.
 * From the thread that created the group. */
WSX_EXTERN int wsx_server_group_uses_acceptor(const wsx_server_group *g);
/* Starts one thread per loop. Returns WSX_OK, WSX_E_STATE (already
 * started) or a libuv error (threads started before it are stopped). */
WSX_EXTERN int wsx_server_group_start(wsx_server_group *g);
/*
 * Thread-safe. Publishes to the subscribers of `topic` on every loop of the
 * group (see wsx_loop_publish for the arguments). Called on one of the
 * group's loop threads, that loop's subscribers get the message before
 * this returns and the return value is their number; the other loops get
 * it asynchronously. From any other thread every loop gets it
 * asynchronously and the return value is 0. Negative: WSX_E_INVALID,
 * WSX_E_NOMEM, WSX_E_STATE (the group is stopping).
 */
WSX_EXTERN long wsx_server_group_publish(wsx_server_group *g,
                                         const void *topic, size_t topic_len,
                                         const void *data, size_t len,
                                         int opcode, unsigned flags);
/* Thread-safe: asks every loop to free its server (gracefully, see
 * wsx_server_free) and end; loop_stop fires on each. Idempotent. */
WSX_EXTERN void wsx_server_group_stop(wsx_server_group *g);
/* Stops (if needed), waits for every thread to end, closes the loops and
 * frees the group. On the thread that created it. */
WSX_EXTERN void wsx_server_group_free(wsx_server_group *g);
/* Number of loops; loop i and its server (i < size; the server is NULL
 * once it was freed). */
WSX_EXTERN unsigned wsx_server_group_size(const wsx_server_group *g);
WSX_EXTERN uv_loop_t *wsx_server_group_loop(wsx_server_group *g, unsigned i);
WSX_EXTERN wsx_server *wsx_server_group_server(wsx_server_group *g,
                                               unsigned i);
/* The group of a server (NULL for a server made with wsx_server_new). */
WSX_EXTERN wsx_server_group *wsx_server_group_of(const wsx_server *srv);
WSX_EXTERN void *wsx_server_group_user_data(const wsx_server_group *g);

#ifdef __cplusplus
}
#endif
#endif /* WSX_GROUP_H */
