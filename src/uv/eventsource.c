/*
 * EventSource server on the libuv transport: over a wsx_http_res of the
 * server front, or over a stream adopted from the application's own server.
 */
#include <string.h>

#include "common/abi.h"
#include "common/alloc.h"
#include "es/es.h"
#include "uv/writer.h"
#include "uv/uvbuf.h"
#include "wsx/eventsource.h"

#define ADOPT_CLOSE_GRACE_MS 5000u /* close(): flush this long at most */

struct wsx_eventsource {
  wsx_allocator alloc;
  uv_loop_t *loop;
  uv_timer_t timer; /* pings; in adopted close(): the flush bound */
  wsx_eventsource_callbacks cb;
  void *ud;
  wsx_http_res *res;   /* front: until its close callback */
  uv_stream_t *stream; /* adopted: until its close callback */
  wsx__out *out;       /* adopted: the output queue (uv/writer.h) */
  uv_shutdown_t sreq;
  wsx__buf scratch; /* one formatted event, reused */
  char *url;
  char *last_id;
  uint64_t ping_ms; /* 0 = no pings */
  size_t hwm, max_buffered;
  unsigned closing : 1;        /* close() called or client dropped: no sends */
  unsigned stream_closing : 1; /* adopted: uv_close issued */
  unsigned shutting : 1;       /* adopted: uv_shutdown issued */
  unsigned above_hwm : 1;      /* adopted: drain is owed */
  unsigned finalizing : 1;     /* the transport is gone; timer closing */
  char rbuf[256];              /* adopted: the client's bytes are discarded */
};

/* ---- request inspection ---- */

static int is_es(const char *method, size_t mlen, const wsx_header *h,
                 size_t n) {
  size_t alen;
  const char *accept = wsx_header_find(h, n, "accept", &alen);
  return mlen == 3 && !memcmp(method, "GET", 3) && accept &&
         wsx__es_accepts(accept, alen);
}

int wsx_eventsource_is_eventsource(const wsx_request *req) {
  const char *m, *accept;
  if (!req)
    return 0;
  m = wsx_request_method(req);
  accept = wsx_request_header(req, "accept");
  return m && !strcmp(m, "GET") && accept &&
         wsx__es_accepts(accept, strlen(accept));
}

int wsx_eventsource_is_eventsource_http(const wsx_http_request *req) {
  return req &&
         is_es(req->method, req->method_len, req->headers, req->num_headers);
}

/* ---- lifecycle ---- */

static void on_timer_closed(uv_handle_t *h) {
  wsx_eventsource *es = h->data;
  if (es->cb.close)
    es->cb.close(es, es->ud);
  wsx__out_free(&es->out, &es->alloc);
  wsx__buf_free(&es->scratch, &es->alloc);
  wsx__free(&es->alloc, es->url);
  wsx__free(&es->alloc, es->last_id);
  wsx__free(&es->alloc, es);
}

/* The transport is closed: the last step is closing the timer. */
static void finalize(wsx_eventsource *es) {
  if (es->finalizing)
    return;
  es->finalizing = 1;
  es->closing = 1;
  uv_close((uv_handle_t *)&es->timer, on_timer_closed);
}

static void on_res_close(wsx_http_res *res, void *ud) {
  wsx_eventsource *es = ud;
  (void)res;
  es->res = NULL; /* freed by the transport when this returns */
  finalize(es);
}

static void on_res_drain(wsx_http_res *res, void *ud) {
  wsx_eventsource *es = ud;
  (void)res;
  if (!es->closing && es->cb.drain)
    es->cb.drain(es, es->ud);
}

static void on_stream_closed(uv_handle_t *h) {
  wsx_eventsource *es = h->data;
  es->stream = NULL; /* the memory is the application's again */
  finalize(es);
}

static void close_stream(wsx_eventsource *es) {
  if (es->stream_closing)
    return;
  es->stream_closing = 1;
  es->closing = 1;
  uv_read_stop(es->stream);
  uv_close((uv_handle_t *)es->stream, on_stream_closed);
}

/* Ends the stream: front: end the response; adopted: flush then FIN (or
 * close at once when `drop`). */
static void end_stream(wsx_eventsource *es, int drop);
static void on_timer(uv_timer_t *t);

/* ---- adopted stream I/O (the transport's write path, uv/writer.h) ---- */

static void on_shutdown(uv_shutdown_t *req, int status) {
  wsx_eventsource *es = req->data;
  (void)status;
  close_stream(es);
}

static void maybe_shutdown(wsx_eventsource *es) {
  if (!es->closing || (es->out && (es->out->writing || es->out->pending.len)) ||
      es->shutting || es->stream_closing)
    return;
  es->shutting = 1;
  es->sreq.data = es;
  if (uv_shutdown(&es->sreq, es->stream, on_shutdown) < 0)
    close_stream(es);
}

static size_t adopt_buffered(const wsx_eventsource *es) {
  return wsx__out_queued(es->out);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void on_write(uv_write_t *req, int status) {
  wsx_eventsource *es = req->data;
  int uv_err = 0;
  wsx__out_completed(es->out);
  if (es->stream_closing)
    return;
  if (status < 0 || wsx__out_next(es->out, es->stream, on_write, &uv_err) < 0) {
    close_stream(es);
    return;
  }
  if (es->above_hwm && adopt_buffered(es) <= es->hwm) {
    es->above_hwm = 0;
    /* Reading resumes with the drain (stopped in write_out). */
    if (uv_read_start(es->stream, on_alloc, on_read) < 0) {
      close_stream(es);
      return;
    }
    if (!es->closing && es->cb.drain)
      es->cb.drain(es, es->ud);
  }
  maybe_shutdown(es);
}

static int adopt_write(wsx_eventsource *es, const void *data, size_t len) {
  uv_buf_t b[16]; /* up to 64 GiB in one call */
  unsigned k = 0;
  int uv_err = 0;
  if (wsx__uv_bufs(b, 16, &k, data, len) < len)
    return WSX_E_TOO_BIG;
  int rc = wsx__out_write(&es->out, es->stream, &es->alloc, es, on_write, b,
                          k, &uv_err);
  if (rc == WSX_E_IO) {
    close_stream(es);
    return WSX_E_CLOSED;
  }
  return rc;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  wsx_eventsource *es = h->data;
  (void)suggested;
  *b = uv_buf_init(es->rbuf, sizeof(es->rbuf));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  wsx_eventsource *es = st->data;
  (void)b;
  if (n < 0) /* EOF or error: the client went away */
    close_stream(es);
}

/* ---- writing events ---- */

static size_t buffered(const wsx_eventsource *es) {
  if (es->res)
    return wsx_http_res_buffered_amount(es->res);
  return es->stream ? adopt_buffered(es) : 0;
}

static int write_out(wsx_eventsource *es, const void *p, size_t n) {
  int rc;
  size_t b;
  if (es->closing || (!es->res && !es->stream))
    return WSX_E_CLOSED;
  if (es->res) {
    rc = wsx_http_res_write(es->res, p, n);
    if (rc == WSX_E_POLICY) { /* the server's own max_buffered dropped it */
      es->closing = 1;
      return WSX_E_POLICY;
    }
    if (rc < 0)
      return rc;
  } else {
    rc = adopt_write(es, p, n);
    if (rc < 0)
      return rc;
  }
  b = buffered(es);
  if (b > es->max_buffered) {
    end_stream(es, 1); /* a slow client is dropped, not buffered forever */
    return WSX_E_POLICY;
  }
  if (es->res)
    return rc;
  if (b > es->hwm) {
    /* The backlog rule (wsx/uv.h high_water_mark): no reading while our
     * output waits. */
    if (!es->above_hwm)
      (void)uv_read_stop(es->stream);
    es->above_hwm = 1;
    return 1;
  }
  return 0;
}

static void end_stream(wsx_eventsource *es, int drop) {
  if (es->res) {
    es->closing = 1;
    if (drop)
      (void)wsx_http_res_drop(es->res);
    else
      (void)wsx_http_res_end(es->res, NULL, 0);
    return;
  }
  if (!es->stream || es->stream_closing)
    return;
  es->closing = 1;
  if (drop) {
    close_stream(es);
    return;
  }
  maybe_shutdown(es);
  if (!es->stream_closing && !es->shutting) {
    /* Pending bytes to a client that does not read: bounded wait. */
    uv_timer_stop(&es->timer);
    uv_timer_start(&es->timer, on_timer, ADOPT_CLOSE_GRACE_MS, 0);
  }
}

int wsx_eventsource_send(wsx_eventsource *es, const char *data, size_t len,
                         const char *event, const char *id) {
  int rc;
  if (!es)
    return WSX_E_INVALID;
  if (es->closing)
    return WSX_E_CLOSED;
  es->scratch.len = 0;
  rc = wsx__es_format_event(&es->scratch, &es->alloc, data, len, event, id);
  if (rc < 0)
    return rc;
  return write_out(es, es->scratch.data, es->scratch.len);
}

int wsx_eventsource_ping(wsx_eventsource *es) {
  if (!es)
    return WSX_E_INVALID;
  return write_out(es, ":\n\n", 3);
}

int wsx_eventsource_close(wsx_eventsource *es) {
  if (!es)
    return WSX_E_INVALID;
  if (es->closing)
    return WSX_E_CLOSED;
  end_stream(es, 0);
  return WSX_OK;
}

static void on_timer(uv_timer_t *t) {
  wsx_eventsource *es = t->data;
  if (es->closing) { /* adopted close(): the flush took too long */
    if (es->stream)
      close_stream(es);
    return;
  }
  (void)wsx_eventsource_ping(es);
}

/* ---- construction ---- */

/* Copies the caller's options into *o (this library's layout) and checks
 * them and the callbacks' struct_size. */
static int check_opts(const wsx_eventsource_options *in,
                      const wsx_eventsource_callbacks *cbs,
                      wsx_eventsource_options *o) {
  size_t i;
  if (WSX__STRUCT_IN(wsx_eventsource_options, o, in) != WSX_OK ||
      WSX__STRUCT_OK(wsx_eventsource_callbacks, cbs) != WSX_OK)
    return WSX_E_STRUCT_SIZE;
  if (o->num_headers && !o->headers)
    return WSX_E_INVALID;
  for (i = 0; i < o->num_headers; i++) {
    const wsx_header *h = &o->headers[i];
    if (!wsx_http_valid_name(h->name, h->name_len) ||
        !wsx_http_valid_value(h->value, h->value_len))
      return WSX_E_HEADER_VALUE;
  }
  return WSX_OK;
}

static wsx_eventsource *es_alloc(uv_loop_t *loop,
                                 const wsx_eventsource_options *o,
                                 const wsx_eventsource_callbacks *cbs, void *ud,
                                 const char *target, size_t tlen,
                                 const char *lei, size_t lei_len,
                                 const char *query, size_t qlen, int *err) {
  wsx_allocator a;
  wsx_eventsource *es;
  wsx__alloc_init(&a, o->allocator);
  es = wsx__malloc(&a, sizeof(*es));
  if (!es) {
    *err = WSX_E_NOMEM;
    return NULL;
  }
  memset(es, 0, sizeof(*es));
  es->alloc = a;
  es->loop = loop;
  (void)WSX__STRUCT_IN(wsx_eventsource_callbacks, &es->cb, cbs); /* checked */
  es->ud = ud;
  es->ping_ms = o->ping_interval;
  es->hwm =
      o->high_water_mark ? o->high_water_mark : WSX_DEFAULT_HIGH_WATER_MARK;
  es->max_buffered =
      o->max_buffered ? o->max_buffered : WSX_DEFAULT_MAX_BUFFERED;
  es->url = wsx__strndup(&a, target, tlen);
  if (lei)
    es->last_id = wsx__strndup(&a, lei, lei_len);
  else if (wsx__es_query_last_id(&a, query, qlen, &es->last_id) == WSX_OK &&
           !es->last_id)
    es->last_id = wsx__strndup(&a, "", 0);
  if (!es->url || !es->last_id) {
    wsx__free(&a, es->url);
    wsx__free(&a, es->last_id);
    wsx__free(&a, es);
    *err = WSX_E_NOMEM;
    return NULL;
  }
  return es;
}

static void es_discard(wsx_eventsource *es) {
  wsx__buf_free(&es->scratch, &es->alloc);
  wsx__free(&es->alloc, es->url);
  wsx__free(&es->alloc, es->last_id);
  wsx__free(&es->alloc, es);
}

/* The first bytes of the body: the retry line, if any. */
static int preamble(wsx_eventsource *es, const wsx_eventsource_options *o) {
  es->scratch.len = 0;
  if (o->retry_ms > 0)
    return wsx__es_format_retry(&es->scratch, &es->alloc, o->retry_ms);
  return WSX_OK;
}

static void start_timer(wsx_eventsource *es) {
  uv_timer_init(es->loop, &es->timer);
  es->timer.data = es;
  if (es->ping_ms)
    uv_timer_start(&es->timer, on_timer, es->ping_ms, es->ping_ms);
}

wsx_eventsource *wsx_eventsource_new(wsx_request *req, wsx_http_res *res,
                                     const wsx_eventsource_options *opts,
                                     const wsx_eventsource_callbacks *cbs,
                                     void *user_data, int *err) {
  static const wsx_http_res_callbacks rcb = {
      sizeof(wsx_http_res_callbacks), on_res_drain, on_res_close};
  wsx_eventsource_options oc;
  const wsx_eventsource_options *o = &oc;
  wsx_eventsource *es;
  const char *lei, *query;
  int e, dummy;
  size_t i;
  if (!err)
    err = &dummy;
  if (!req || !res || !wsx_eventsource_is_eventsource(req)) {
    *err = WSX_E_INVALID;
    return NULL;
  }
  if ((e = check_opts(opts, cbs, &oc)) < 0) {
    *err = e;
    return NULL;
  }
  lei = wsx_request_header(req, "last-event-id");
  query = wsx_request_query(req);
  es = es_alloc(wsx_server_loop(wsx_request_server(req)), o, cbs, user_data,
                wsx_request_resource(req), strlen(wsx_request_resource(req)),
                lei, lei ? strlen(lei) : 0, query, query ? strlen(query) : 0,
                err);
  if (!es)
    return NULL;
  e = wsx_http_res_status(res, 200, NULL);
  if (e == WSX_OK)
    e = wsx_http_res_header(res, "Content-Type", "text/event-stream");
  if (e == WSX_OK)
    e = wsx_http_res_header(res, "Cache-Control", "no-cache, no-store");
  for (i = 0; e == WSX_OK && i < o->num_headers; i++) {
    const wsx_header *h = &o->headers[i];
    char *n = wsx__strndup(&es->alloc, h->name, h->name_len);
    char *v = wsx__strndup(&es->alloc, h->value, h->value_len);
    e = n && v ? wsx_http_res_header(res, n, v) : WSX_E_NOMEM;
    wsx__free(&es->alloc, n);
    wsx__free(&es->alloc, v);
  }
  if (e == WSX_OK)
    e = preamble(es, o);
  if (e == WSX_OK) /* sends the head now, so the client sees `open` */
    e = wsx_http_res_write(res, es->scratch.data, es->scratch.len);
  if (e < 0) {
    es_discard(es);
    *err = e;
    return NULL;
  }
  es->res = res;
  if (o->high_water_mark)
    wsx_http_res_set_high_water_mark(res, o->high_water_mark);
  (void)wsx_http_res_set_callbacks(res, &rcb, es); /* cannot fail */
  start_timer(es);
  return es;
}

/* The response head and the preamble into `b`. */
static int adopt_head(wsx_eventsource *es, const wsx_eventsource_options *o,
                      wsx__buf *b) {
  static const char head[] = "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/event-stream\r\n"
                             "Cache-Control: no-cache, no-store\r\n"
                             "Connection: close\r\n";
  size_t i;
  if (wsx__buf_append(b, &es->alloc, head, sizeof(head) - 1) < 0)
    return WSX_E_NOMEM;
  for (i = 0; i < o->num_headers; i++) {
    const wsx_header *h = &o->headers[i];
    if (wsx__buf_append(b, &es->alloc, h->name, h->name_len) < 0 ||
        wsx__buf_append(b, &es->alloc, ": ", 2) < 0 ||
        wsx__buf_append(b, &es->alloc, h->value, h->value_len) < 0 ||
        wsx__buf_append(b, &es->alloc, "\r\n", 2) < 0)
      return WSX_E_NOMEM;
  }
  if (wsx__buf_append(b, &es->alloc, "\r\n", 2) < 0)
    return WSX_E_NOMEM;
  if (preamble(es, o) < 0 ||
      wsx__buf_append(b, &es->alloc, es->scratch.data, es->scratch.len) < 0)
    return WSX_E_NOMEM;
  return WSX_OK;
}

wsx_eventsource *wsx_eventsource_adopt(uv_loop_t *loop, uv_stream_t *stream,
                                       const wsx_http_request *req,
                                       const wsx_eventsource_options *opts,
                                       const wsx_eventsource_callbacks *cbs,
                                       void *user_data, int *err) {
  wsx_eventsource_options oc;
  const wsx_eventsource_options *o = &oc;
  wsx_eventsource *es;
  wsx__buf head = {0};
  const char *lei, *q;
  size_t lei_len = 0, plen, qlen = 0;
  int e, dummy;
  if (!err)
    err = &dummy;
  if (!loop || !stream || !wsx_eventsource_is_eventsource_http(req)) {
    *err = WSX_E_INVALID;
    return NULL;
  }
  if ((e = check_opts(opts, cbs, &oc)) < 0) {
    *err = e;
    return NULL;
  }
  wsx__sigpipe_guard();
  lei = wsx_header_find(req->headers, req->num_headers, "last-event-id",
                        &lei_len);
  q = memchr(req->target, '?', req->target_len);
  plen = q ? (size_t)(q - req->target) : req->target_len;
  if (q) {
    q++;
    qlen = req->target_len - plen - 1;
  }
  es = es_alloc(loop, o, cbs, user_data, req->target, req->target_len, lei,
                lei_len, q ? q : "", qlen, err);
  if (!es)
    return NULL;
  if ((e = adopt_head(es, o, &head)) < 0) {
    wsx__buf_free(&head, &es->alloc);
    es_discard(es);
    *err = e;
    return NULL;
  }
  stream->data = es;
  es->stream = stream;
  /* Our callbacks replace the application's (libuv keeps the old ones if
   * the stream is already reading). */
  uv_read_stop(stream);
  if ((e = uv_read_start(stream, on_alloc, on_read)) < 0 && e != UV_EALREADY) {
    stream->data = NULL;
    wsx__buf_free(&head, &es->alloc);
    es_discard(es);
    *err = e;
    return NULL;
  }
  start_timer(es);
  /* A failure closes the stream: `close` reports it. */
  if (adopt_write(es, head.data, head.len) == WSX_E_NOMEM)
    close_stream(es);
  wsx__buf_free(&head, &es->alloc);
  return es;
}

/* ---- accessors ---- */

const char *wsx_eventsource_url(const wsx_eventsource *es) { return es->url; }
const char *wsx_eventsource_last_event_id(const wsx_eventsource *es) {
  return es->last_id;
}
size_t wsx_eventsource_buffered_amount(const wsx_eventsource *es) {
  return buffered(es);
}
void *wsx_eventsource_user_data(const wsx_eventsource *es) { return es->ud; }
void wsx_eventsource_set_user_data(wsx_eventsource *es, void *user_data) {
  es->ud = user_data;
}
uv_loop_t *wsx_eventsource_loop(const wsx_eventsource *es) { return es->loop; }
