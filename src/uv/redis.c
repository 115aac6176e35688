/*
 * The Redis backplane (wsx/backplane.h) on hiredis and its libuv adapter:
 * one connection SUBSCRIBEd to the channel, one for PUBLISH. Either one
 * failing takes both down; a timer reconnects with a doubling backoff.
 * Built only with hiredis (CMake WSX_REDIS); without it the constructor
 * says WSX_E_UNSUPPORTED.
 */
#include <stdlib.h>
#include <string.h>

#include "uv/backplane.h"

#ifndef WSX_HAVE_REDIS

int wsx_redis_available(void) { return 0; }

wsx_backplane *wsx_redis_backplane_new(uv_loop_t *loop,
                                       const wsx_redis_options *opts,
                                       const wsx_backplane_callbacks *cbs,
                                       void *user_data, int *err) {
  (void)loop, (void)opts, (void)cbs, (void)user_data;
  if (err)
    *err = WSX_E_UNSUPPORTED;
  return NULL;
}

#else

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#include <hiredis/adapters/libuv.h>
#pragma GCC diagnostic pop

typedef struct redis_bp {
  wsx_backplane *bp;   /* NULL once the backplane was freed */
  wsx_allocator alloc;
  uv_loop_t *loop;
  char *host, *password, *channel;
  int port;
  redisAsyncContext *sub, *pub; /* current connections, or NULL */
  unsigned live;       /* hiredis contexts not yet freed (old ones too) */
  uv_timer_t retry;    /* reconnect, or connect watchdog; closed last,
                          its close callback frees this */
  uint32_t backoff, min_ms, max_ms;
  int up;              /* subscribed: the bus is reachable */
  int reported_down;   /* `status` 0 was reported for this outage */
  int closing;         /* wsx_backplane_free: no reconnect */
} redis_bp;

int wsx_redis_available(void) { return 1; }

static void final_free(uv_handle_t *h) {
  redis_bp *r = h->data;
  wsx__free(&r->alloc, r->host);
  wsx__free(&r->alloc, r->password);
  wsx__free(&r->alloc, r->channel);
  wsx__free(&r->alloc, r);
}

static void connect_all(redis_bp *r);

static void on_retry(uv_timer_t *t) { connect_all(t->data); }

static void arm_retry(redis_bp *r) {
  if (r->live || r->closing || uv_is_active((uv_handle_t *)&r->retry))
    return;
  (void)uv_timer_start(&r->retry, on_retry, r->backoff, 0);
  r->backoff = r->backoff > r->max_ms / 2 ? r->max_ms : r->backoff * 2;
}

/* The adapter's cleanup runs when hiredis frees a context, whichever the
 * path (a failed connect, a disconnect, redisAsyncFree). */
static void ctx_cleanup(void *privdata) {
  redisLibuvEvents *p = privdata;
  redis_bp *r = p->context ? p->context->data : NULL;
  redisLibuvCleanup(privdata);
  if (!r)
    return;
  r->live--;
  if (r->live == 0 && r->closing)
    uv_close((uv_handle_t *)&r->retry, final_free); /* after hiredis */
  else
    arm_retry(r);
}

/* hiredis 0.14's libuv adapter ignores poll errors (libuv reports a
 * refused connect as a poll error and stops the handle), so a connect can
 * hang: a watchdog frees connections that did not subscribe in time. */
#define CONNECT_WATCHDOG_MS 1000u

static void kill_now(redisAsyncContext **p) {
  redisAsyncContext *ac = *p;
  *p = NULL;
  if (ac)
    redisAsyncFree(ac); /* cleanup (ctx_cleanup) runs inside */
}

static void on_watchdog(uv_timer_t *t) {
  redis_bp *r = t->data;
  if (r->up || r->closing)
    return;
  if (r->bp && !r->reported_down) {
    r->reported_down = 1;
    wsx__bp_status(r->bp, 0, "Redis did not answer in time");
  }
  kill_now(&r->sub);
  kill_now(&r->pub);
  arm_retry(r);
}

/* Leaves a connection: a connected one says goodbye (its disconnect
 * callback follows), one still connecting is freed now (with the
 * adapter's bug it might never finish). Not the context of the running
 * callback. */
static void drop(redisAsyncContext **p) {
  redisAsyncContext *ac = *p;
  *p = NULL; /* hiredis may free it at once */
  if (!ac || (ac->c.flags & REDIS_DISCONNECTING))
    return;
  if (ac->c.flags & REDIS_CONNECTED)
    redisAsyncDisconnect(ac);
  else
    redisAsyncFree(ac);
}

static void went_down(redis_bp *r, const char *why) {
  int was_up = r->up;
  r->up = 0;
  if (!r->closing && r->bp && (was_up || !r->reported_down)) {
    r->reported_down = 1;
    wsx__bp_status(r->bp, 0, why);
  }
  /* One down takes the other down: they come back together. */
  (void)uv_timer_stop(&r->retry); /* the watchdog */
  drop(&r->sub);
  drop(&r->pub);
  arm_retry(r);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  redis_bp *r = ac->data;
  if (status == REDIS_OK)
    return;
  if (ac == r->sub)
    r->sub = NULL; /* hiredis frees it after this callback */
  else if (ac == r->pub)
    r->pub = NULL;
  else
    return;
  went_down(r, ac->errstr[0] ? ac->errstr : "cannot connect to Redis");
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  redis_bp *r = ac->data;
  (void)status;
  if (ac == r->sub)
    r->sub = NULL;
  else if (ac == r->pub)
    r->pub = NULL;
  else
    return; /* an old connection we dropped */
  went_down(r, ac->errstr[0] ? ac->errstr : "the Redis connection closed");
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *priv) {
  redis_bp *r = priv;
  redisReply *m = reply;
  (void)ac;
  if (!m || r->closing || m->type != REDIS_REPLY_ARRAY || m->elements < 3 ||
      m->element[0]->type != REDIS_REPLY_STRING)
    return;
  if (strcmp(m->element[0]->str, "message") == 0 &&
      m->element[2]->type == REDIS_REPLY_STRING) {
    if (r->bp)
      wsx__bp_receive(r->bp, (const uint8_t *)m->element[2]->str,
                      (size_t)m->element[2]->len);
  } else if (strcmp(m->element[0]->str, "subscribe") == 0 && !r->up) {
    (void)uv_timer_stop(&r->retry); /* the watchdog */
    r->up = 1;
    r->reported_down = 0;
    r->backoff = r->min_ms;
    if (r->bp)
      wsx__bp_status(r->bp, 1, "subscribed");
  }
}

static void on_auth_reply(redisAsyncContext *ac, void *reply, void *priv) {
  redis_bp *r = priv;
  redisReply *m = reply;
  if (m && m->type == REDIS_REPLY_ERROR && !r->closing) {
    if (r->bp && !r->reported_down) {
      r->reported_down = 1;
      wsx__bp_status(r->bp, 0, m->str);
    }
    redisAsyncDisconnect(ac);
  }
}

static redisAsyncContext *open_one(redis_bp *r) {
  redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
  if (!ac)
    return NULL;
  if (ac->err || redisLibuvAttach(ac, r->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = r;
  ac->ev.cleanup = ctx_cleanup;
  r->live++;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  if (r->password)
    (void)redisAsyncCommand(ac, on_auth_reply, r, "AUTH %s", r->password);
  return ac;
}

static void connect_all(redis_bp *r) {
  if (r->closing)
    return;
  r->sub = open_one(r);
  r->pub = r->sub ? open_one(r) : NULL;
  if (!r->sub || !r->pub) {
    went_down(r, "cannot start a Redis connection");
    return;
  }
  (void)redisAsyncCommand(r->sub, on_sub_reply, r, "SUBSCRIBE %b", r->channel,
                          strlen(r->channel));
  (void)uv_timer_start(&r->retry, on_watchdog, CONNECT_WATCHDOG_MS, 0);
}

static void rb_send(void *impl, const uint8_t *msg, size_t len) {
  redis_bp *r = impl;
  if (!r->up || !r->pub)
    return; /* at most once: dropped during an outage */
  (void)redisAsyncCommand(r->pub, NULL, NULL, "PUBLISH %b %b", r->channel,
                          strlen(r->channel), msg, len);
}

/* Closing runs from the loop, not inside whatever hiredis callback the
 * application may have called wsx_backplane_free() from. */
static void on_close_now(uv_timer_t *t) {
  redis_bp *r = t->data;
  kill_now(&r->sub);
  kill_now(&r->pub);
  if (r->live == 0 && !uv_is_closing((uv_handle_t *)&r->retry))
    uv_close((uv_handle_t *)&r->retry, final_free);
}

static void rb_close(void *impl) {
  redis_bp *r = impl;
  r->closing = 1;
  r->bp = NULL;
  (void)uv_timer_start(&r->retry, on_close_now, 0, 0);
}

static const wsx__bp_ops redis_ops = {rb_send, rb_close};

/* redis://[:password@]host[:port][/db] */
static int parse_url(redis_bp *r, const char *url) {
  const char *p, *at, *hs, *he, *slash;
  size_t hl;
  if (strncmp(url, "redis://", 8) != 0)
    return WSX_E_URL;
  p = url + 8;
  slash = strchr(p, '/');
  at = memchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
  if (at) {
    const char *pw = memchr(p, ':', (size_t)(at - p));
    pw = pw ? pw + 1 : p;
    if (at > pw &&
        !(r->password = wsx__strndup(&r->alloc, pw, (size_t)(at - pw))))
      return WSX_E_NOMEM;
    p = at + 1;
  }
  he = slash ? slash : p + strlen(p);
  if (*p == '[') {
    hs = p + 1;
    if (!(p = memchr(hs, ']', (size_t)(he - hs))))
      return WSX_E_URL;
    hl = (size_t)(p - hs);
    p++;
  } else {
    const char *colon = memchr(p, ':', (size_t)(he - p));
    hs = p;
    hl = (size_t)((colon ? colon : he) - p);
    p = colon ? colon : he;
  }
  r->port = 6379;
  if (p < he && *p == ':') {
    char *end;
    long v = strtol(p + 1, &end, 10);
    if (end != he || v <= 0 || v > 65535)
      return WSX_E_URL;
    r->port = (int)v;
  }
  if (hl == 0 || !(r->host = wsx__strndup(&r->alloc, hs, hl)))
    return hl == 0 ? WSX_E_URL : WSX_E_NOMEM;
  return WSX_OK; /* a /db does not scope pub/sub: accepted, unused */
}

wsx_backplane *wsx_redis_backplane_new(uv_loop_t *loop,
                                       const wsx_redis_options *opts,
                                       const wsx_backplane_callbacks *cbs,
                                       void *user_data, int *err) {
  wsx_redis_options o;
  wsx_allocator al;
  wsx_backplane *bp;
  redis_bp *r;
  int rc = WSX_OK;
  if (!err)
    err = &rc;
  if (!loop) {
    *err = WSX_E_INVALID;
    return NULL;
  }
  if (WSX__STRUCT_IN(wsx_redis_options, &o, opts) != WSX_OK) {
    *err = WSX_E_STRUCT_SIZE;
    return NULL;
  }
  if (!(bp = wsx__bp_new(loop, o.allocator, cbs, user_data, err)))
    return NULL;
  wsx__alloc_init(&al, o.allocator);
  if (!(r = wsx__malloc(&al, sizeof(*r)))) {
    wsx_backplane_free(bp);
    *err = WSX_E_NOMEM;
    return NULL;
  }
  memset(r, 0, sizeof(*r));
  r->alloc = al;
  r->bp = bp;
  r->loop = loop;
  r->min_ms = o.reconnect_min_ms ? o.reconnect_min_ms : 100;
  r->max_ms = o.reconnect_max_ms ? o.reconnect_max_ms : 5000;
  if (r->max_ms < r->min_ms)
    r->max_ms = r->min_ms;
  r->backoff = r->min_ms;
  (void)uv_timer_init(loop, &r->retry);
  r->retry.data = r;
  *err = parse_url(r, o.url ? o.url : "redis://127.0.0.1:6379");
  if (*err == WSX_OK &&
      !(r->channel = wsx__strndup(&r->alloc, o.channel ? o.channel : "wsx",
                                  strlen(o.channel ? o.channel : "wsx"))))
    *err = WSX_E_NOMEM;
  wsx__bp_set_impl(bp, &redis_ops, r);
  if (*err != WSX_OK) {
    wsx_backplane_free(bp); /* closes r too */
    return NULL;
  }
  connect_all(r);
  return bp;
}

#endif /* WSX_HAVE_REDIS */
