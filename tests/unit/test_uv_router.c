/* The request router (wsx/router.h) on a real loopback server: exact,
 * prefix and catch-all paths, named / no / any subprotocol mounts,
 * precedence, 404 rejection with a reason, unmount (also from inside a
 * handler), argument checks. */
#include <stdlib.h>

#include "test_uv_util.h"
#include "wsx/router.h"

static struct {
  int hits[8];         /* per handler id */
  int last;            /* id of the last handler called */
  char pattern[32], path[64], rest[64], proto[32];
  int proto_null;
  wsx_router *router;
  int unmount_self;    /* handler 6 unmounts its own mount */
} RT;

static char reject_reason[96];
static char client_proto[32]; /* protocol the client saw accepted */

static void handler(wsx_request *req, const wsx_route *r, void *ud) {
  int id = (int)(intptr_t)ud, err;
  RT.hits[id]++;
  RT.last = id;
  snprintf(RT.pattern, sizeof RT.pattern, "%s", r->pattern);
  snprintf(RT.path, sizeof RT.path, "%.*s", (int)r->path_len, r->path);
  snprintf(RT.rest, sizeof RT.rest, "%.*s", (int)r->rest_len, r->rest);
  RT.proto_null = r->protocol == NULL;
  snprintf(RT.proto, sizeof RT.proto, "%s", r->protocol ? r->protocol : "");
  if (RT.unmount_self && id == 6) {
    CHECK_INT(wsx_router_unmount(RT.router, "/once", NULL), WSX_OK);
    /* The pattern is still readable during the handler. */
    CHECK_STR(r->pattern, "/once");
    CHECK_INT(wsx_router_mount(RT.router, "/later", NULL, handler,
                               (void *)(intptr_t)7),
              WSX_OK);
  }
  T.s.sock = wsx_request_accept(req, r->protocol, NULL, &rec_cbs, &T.s, &err);
  CHECK(T.s.sock != NULL);
}

static void on_route_failed(wsx_socket *s, const wsx_connect_failure *f, void *ud) {
  size_t n, len;
  const wsx_header *h = wsx_socket_headers(s, &n);
  const char *v =
      h ? wsx_header_find(h, n, "x-websocket-reject-reason", &len) : NULL;
  reject_reason[0] = 0;
  if (v)
    snprintf(reject_reason, sizeof reject_reason, "%.*s", (int)len, v);
  T.c.failed++;
  T.c.fail_status = f->status_code;
  (void)ud;
}

static int start(void) {
  wsx_server_callbacks cb = WSX_SERVER_CALLBACKS_INIT;
  int err;
  cb.request = wsx_router_server_request;
  cb.closed = srv_on_closed;
  T.srv = wsx_server_new(&T.loop, NULL, &cb, RT.router, &err);
  if (!T.srv)
    return err;
  err = wsx_server_listen(T.srv, "127.0.0.1", 0);
  if (err < 0)
    return err;
  T.port = wsx_server_port(T.srv);
  return 0;
}

/* Connects with `offers` (NULL-terminated, or NULL); returns the handler id
 * that took the request, or 0 when the client failed (status in
 * T.c.fail_status). */
static int try_route(const char *path, const char *const *offers) {
  wsx_socket_options co = WSX_SOCKET_OPTIONS_INIT;
  wsx_driver_options dopts = WSX_DRIVER_OPTIONS_INIT;
  wsx_socket_callbacks cbs = rec_cbs;
  char url[160];
  int err;
  dopts.protocols = offers;
  co.driver = &dopts;
  cbs.connect_failed = on_route_failed;
  memset(&T.c, 0, sizeof T.c);
  memset(&T.s, 0, sizeof T.s);
  RT.last = 0;
  snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", T.port, path);
  T.c.sock = wsx_socket_connect(&T.loop, url, &co, &cbs, &T.c, &err);
  if (!T.c.sock)
    return -1;
  RUN_UNTIL(T.c.open || T.c.close, 3000);
  int id = T.c.open ? RT.last : 0;
  client_proto[0] = 0;
  if (T.c.open) {
    snprintf(client_proto, sizeof client_proto, "%s",
             wsx_socket_protocol(T.c.sock));
    wsx_socket_close(T.c.sock, 1000, NULL);
    RUN_UNTIL(T.c.close && T.s.close, 3000);
  }
  return id;
}

#define H(n) handler, (void *)(intptr_t)(n)

TEST(mount_argument_checks) {
  wsx_router *r = wsx_router_new(NULL);
  REQUIRE(r);
  CHECK_INT(wsx_router_mount(NULL, "/a", NULL, H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, NULL, NULL, H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "/a", NULL, NULL, NULL), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "a", NULL, H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "", NULL, H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "/a*", NULL, H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "/*/b", NULL, H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "/a", "bad proto", H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "/a", "", H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "/a", "x*", H(1)), WSX_E_INVALID);
  CHECK_INT(wsx_router_mount(r, "/a", "chat", H(1)), WSX_OK);
  CHECK_INT(wsx_router_mount(r, "/a", "chat", H(2)), WSX_E_BUSY);
  CHECK_INT(wsx_router_mount(r, "/a", NULL, H(2)), WSX_OK);
  CHECK_INT(wsx_router_mount(r, "/a", NULL, H(2)), WSX_E_BUSY);
  CHECK_INT(wsx_router_mount(r, "/a/*", "*", H(3)), WSX_OK);
  CHECK_INT(wsx_router_mount(r, "/*", "*", H(3)), WSX_OK);
  CHECK_INT(wsx_router_mount(r, "*", "*", H(4)), WSX_OK);
  CHECK_INT(wsx_router_count(r), 5);
  CHECK_INT(wsx_router_unmount(r, "/a", NULL), WSX_OK);
  CHECK_INT(wsx_router_unmount(r, "/a", NULL), WSX_E_INVALID);
  CHECK_INT(wsx_router_unmount(r, "/a", "other"), WSX_E_INVALID);
  CHECK_INT(wsx_router_unmount(NULL, "/a", NULL), WSX_E_INVALID);
  CHECK_INT(wsx_router_count(r), 4);
  CHECK_INT(wsx_router_route(r, NULL), WSX_E_INVALID);
  CHECK_INT(wsx_router_route(NULL, NULL), WSX_E_INVALID);
  wsx_router_free(r);
  wsx_router_free(NULL);
}

TEST(routes_by_path_and_protocol) {
  static const char *const chat[] = {"chat", NULL};
  static const char *const other_then_chat[] = {"other", "chat", NULL};
  static const char *const other[] = {"other", NULL};
  static const char *const echo[] = {"echo", NULL};
  ev_reset();
  memset(&RT, 0, sizeof RT);
  RT.router = wsx_router_new(NULL);
  REQUIRE(RT.router);
  REQUIRE(wsx_router_mount(RT.router, "/chat", "chat", H(1)) == WSX_OK);
  REQUIRE(wsx_router_mount(RT.router, "/chat", NULL, H(2)) == WSX_OK);
  REQUIRE(wsx_router_mount(RT.router, "/rooms/*", "*", H(3)) == WSX_OK);
  REQUIRE(wsx_router_mount(RT.router, "/rooms/vip/*", "chat", H(5)) ==
          WSX_OK);
  REQUIRE(wsx_router_mount(RT.router, "*", "echo", H(4)) == WSX_OK);
  REQUIRE(start() == 0);

  /* Exact path, named protocol: accepted with it. */
  CHECK_INT(try_route("/chat", chat), 1);
  CHECK_STR(RT.proto, "chat");
  CHECK_STR(client_proto, "chat"); /* the 101 carried it */
  /* The client's order decides among its offers: "other" has no mount. */
  CHECK_INT(try_route("/chat", other_then_chat), 1);
  CHECK_STR(RT.proto, "chat");
  /* No protocol offered: the NULL mount. The query is not part of it. */
  CHECK_INT(try_route("/chat?x=1", NULL), 2);
  CHECK_INT(RT.proto_null, 1);
  CHECK_STR(RT.path, "/chat");
  /* Protocol nobody mounted on /chat, nor anywhere else: 404. */
  CHECK_INT(try_route("/chat", other), 0);
  CHECK_INT(T.c.fail_status, 404);
  CHECK_STR(reject_reason, "no route for /chat with protocol other");
  /* Prefix with "*" protocol: any offers, the first is accepted. */
  CHECK_INT(try_route("/rooms/42", other), 3);
  CHECK_STR(RT.rest, "42");
  CHECK_STR(RT.proto, "other");
  CHECK_STR(RT.pattern, "/rooms/*");
  CHECK_INT(try_route("/rooms", NULL), 3);
  CHECK_STR(RT.rest, "");
  CHECK_INT(RT.proto_null, 1);
  CHECK_INT(try_route("/rooms/a/b", NULL), 3);
  CHECK_STR(RT.rest, "a/b");
  /* "/roomsX" is not under "/rooms/". */
  CHECK_INT(try_route("/roomsX", NULL), 0);
  CHECK_INT(T.c.fail_status, 404);
  CHECK_STR(reject_reason, "no route for /roomsX");
  /* Longer prefix wins when its protocol matches ... */
  CHECK_INT(try_route("/rooms/vip/1", chat), 5);
  CHECK_STR(RT.rest, "1");
  /* ... and falls back to the shorter one when it does not. */
  CHECK_INT(try_route("/rooms/vip/1", other), 3);
  CHECK_STR(RT.rest, "vip/1");
  /* Catch-all path with a named protocol. */
  CHECK_INT(try_route("/anything/at/all", echo), 4);
  CHECK_INT(try_route("/chat", echo), 4); /* /chat has no "echo" mount */
  CHECK_INT(try_route("/anything", NULL), 0);
  CHECK_INT(T.c.fail_status, 404);
  /* Unmount: the route disappears. */
  CHECK_INT(wsx_router_unmount(RT.router, "/chat", "chat"), WSX_OK);
  CHECK_INT(try_route("/chat", chat), 0);
  CHECK_INT(T.c.fail_status, 404);
  CHECK_INT(RT.hits[1], 2);
  SHUTDOWN_AND_CHECK();
  wsx_router_free(RT.router);
}

TEST(unmount_and_mount_from_a_handler) {
  ev_reset();
  memset(&RT, 0, sizeof RT);
  RT.router = wsx_router_new(NULL);
  REQUIRE(RT.router);
  RT.unmount_self = 1;
  REQUIRE(wsx_router_mount(RT.router, "/once", NULL, H(6)) == WSX_OK);
  REQUIRE(start() == 0);
  CHECK_INT(try_route("/once", NULL), 6);
  CHECK_INT(wsx_router_count(RT.router), 1); /* "/later" only */
  CHECK_INT(try_route("/once", NULL), 0);
  CHECK_INT(T.c.fail_status, 404);
  CHECK_INT(try_route("/later", NULL), 7);
  SHUTDOWN_AND_CHECK();
  wsx_router_free(RT.router);
}

TEST(empty_router_rejects_everything) {
  ev_reset();
  memset(&RT, 0, sizeof RT);
  RT.router = wsx_router_new(NULL);
  REQUIRE(RT.router);
  REQUIRE(start() == 0);
  CHECK_INT(try_route("/", NULL), 0);
  CHECK_INT(T.c.fail_status, 404);
  CHECK_STR(reject_reason, "no route for /");
  SHUTDOWN_AND_CHECK();
  wsx_router_free(RT.router);
}

TEST_MAIN(RUN(mount_argument_checks); RUN(routes_by_path_and_protocol);
          RUN(unmount_and_mount_from_a_handler);
          RUN(empty_router_rejects_everything))
