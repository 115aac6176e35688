/*
 * wsx/router.h: route upgrade requests to handlers by path and subprotocol
 * (WebSocket-Node's WebSocketRouter).
 *
 * A router is a table of mounts. Each mount names a path pattern, a
 * subprotocol rule and a handler. wsx_router_route() picks the handler for
 * a request (from the server front's `request` callback, or any other
 * wsx_request) and calls it; a request no mount takes is rejected with 404
 * and the reason "no route for <path>" (or "... with protocol ..."). The
 * router only reads the request; the handler accepts or rejects it as usual
 * (wsx_request_accept / wsx_request_reject), now or later.
 *
 * Path patterns (compared with the request path, query excluded, byte for
 * byte; "/\*" below stands for slash-star, which a C comment cannot hold):
 *   "/chat"      exact: only "/chat";
 *   "/rooms/\*"  prefix: "/rooms/" and every path below it ("/rooms/1",
 *                "/rooms/a/b"), and "/rooms" itself; `route->rest` is the
 *                part after "/rooms/" ("" for "/rooms" and "/rooms/");
 *   "*"          every path.
 * Precedence: an exact mount beats any prefix mount, a longer prefix beats a
 * shorter one, "*" comes last.
 *
 * Subprotocol rules, for a given path pattern:
 *   "name"   the client offered "name" (subprotocols are case-sensitive);
 *   NULL     the client offered no subprotocol at all;
 *   "*"      anything, including no subprotocol.
 * Within the best path pattern, the client's offers are tried in the
 * client's order; the first offer with a "name" mount wins (`route->protocol`
 * is that offer: accept with it); then a NULL mount if the client offered
 * nothing; then the "*" mount (route->protocol = the client's first offer, or
 * NULL). If the best path pattern has no mount for the request's protocols,
 * shorter patterns are tried in precedence order, so "/a/\*" with protocol
 * "x" and "*" with "*" together route "/a/1" offering "y" to the "*" mount.
 *
 * Routers are not thread-safe; use one per loop. Mounting and unmounting
 * from inside a handler are allowed (the change applies to the next
 * request).
 */
#ifndef WSX_ROUTER_H
#define WSX_ROUTER_H

#include "uv.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsx_router wsx_router;

/* What the router matched, for the handler. Every pointer is valid only
 * during the handler call. */
typedef struct wsx_route {
  const char *pattern;  /* the mount's path pattern, as mounted */
  const char *path;     /* the request's path, without the query */
  size_t path_len;
  const char *rest;     /* prefix mounts: the path after the prefix and
                           its '/'; "" otherwise */
  size_t rest_len;
  const char *protocol; /* the subprotocol to accept with, or NULL */
} wsx_route;

/* The handler must resolve `req` (accept or reject, now or later) like a
 * server's `request` callback. */
typedef void (*wsx_route_cb)(wsx_request *req, const wsx_route *route,
                             void *user_data);

/* Creates an empty router. `alloc` may be NULL (libc); it is copied.
 * Returns NULL when out of memory. */
WSX_EXTERN wsx_router *wsx_router_new(const wsx_allocator *alloc);

/* Frees the router and its mounts. NULL is a no-op. Not from inside one of
 * its handlers. */
WSX_EXTERN void wsx_router_free(wsx_router *r);

/*
 * Mounts `cb` (with `user_data`) for `path` and `protocol` (both copied;
 * see the rules above).
 * Returns WSX_OK; WSX_E_INVALID (r, path or cb NULL; a path that is not
 * "*", and does not start with '/', or has '*' anywhere but in a final
 * "/\*"; a protocol that is not "*" and not an RFC 7230 token);
 * WSX_E_BUSY (the same path and protocol are mounted already);
 * WSX_E_NOMEM.
 */
WSX_EXTERN int wsx_router_mount(wsx_router *r, const char *path,
                                const char *protocol, wsx_route_cb cb,
                                void *user_data);

/* Removes the mount with exactly this path and protocol (NULL matches a
 * NULL mount). Returns WSX_OK, or WSX_E_INVALID when there is none. */
WSX_EXTERN int wsx_router_unmount(wsx_router *r, const char *path,
                                  const char *protocol);

/* Number of mounts. */
WSX_EXTERN size_t wsx_router_count(const wsx_router *r);

/*
 * Routes `req`: calls the matching handler and returns 1, or rejects the
 * request with 404 and returns 0 (`req` is invalid afterwards either way,
 * unless the handler kept it pending). WSX_E_INVALID when r or req is NULL
 * (nothing is done to req).
 */
WSX_EXTERN int wsx_router_route(wsx_router *r, wsx_request *req);

/*
 * A ready-made server `request` callback: set wsx_server_callbacks.request
 * to this and the server's user_data to the router.
 */
WSX_EXTERN void wsx_router_server_request(wsx_server *srv, wsx_request *req,
                                          void *router);

#ifdef __cplusplus
}
#endif
#endif /* WSX_ROUTER_H */
