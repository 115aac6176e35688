/*
 * examples/eventsource_server.c: faye-websocket's EventSource example in C.
 * GET / serves a page whose EventSource listens on /events; /events sends
 * three events with ids following the client's Last-Event-ID, then ends the
 * stream so the client reconnects (retry: 100 ms). After id 6 it answers
 * 204, which tells clients to stop.
 *
 *   ./eventsource_server [PORT]    (default 8000; 0 = any free port)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsx/eventsource.h>

static const char page[] =
    "<!doctype html><meta charset=utf-8><title>wsx EventSource</title>\n"
    "<pre id=log></pre><script>\n"
    "window.events = []; window.errors = 0;\n"
    "const es = new EventSource('/events');\n"
    "function log(e) { window.events.push(e.type + ':' + e.lastEventId + ':'"
    " + e.data);\n"
    "  document.getElementById('log').textContent += e.data + '\\n'; }\n"
    "es.onmessage = log; es.addEventListener('custom', log);\n"
    "es.onerror = () => { window.errors++; window.state = es.readyState; };\n"
    "</script>\n";

static void on_close(wsx_eventsource *es, void *ud) {
  (void)ud;
  /* The EventSource is freed when this returns. */
  printf("close %s\n", wsx_eventsource_url(es));
  fflush(stdout);
}

static void serve_events(wsx_request *req, wsx_http_res *res) {
  static const wsx_eventsource_callbacks cbs = {.struct_size = sizeof(wsx_eventsource_callbacks), .close = on_close};
  static const wsx_header cors = {"Access-Control-Allow-Origin", 27, "*", 1};
  wsx_eventsource_options opts = {
      .struct_size = sizeof(wsx_eventsource_options), .retry_ms = 100,
      .ping_interval = 15000, .headers = &cors, .num_headers = 1};
  int err, last, i;
  const char *lei = wsx_request_header(req, "last-event-id");
  if (lei && atoi(lei) >= 6) {
    wsx_http_res_status(res, 204, NULL);
    wsx_http_res_end(res, NULL, 0);
    printf("stop %s\n", lei);
    fflush(stdout);
    return;
  }
  wsx_eventsource *es = wsx_eventsource_new(req, res, &opts, &cbs, NULL, &err);
  if (!es) {
    fprintf(stderr, "eventsource: %s\n", wsx_uv_strerror(err));
    return;
  }
  printf("open %s last=%s\n", wsx_eventsource_url(es),
         wsx_eventsource_last_event_id(es));
  fflush(stdout);
  last = atoi(wsx_eventsource_last_event_id(es));
  for (i = 1; i <= 3; i++) {
    char id[16], data[64];
    int n = snprintf(data, sizeof(data), "event %d", last + i);
    snprintf(id, sizeof(id), "%d", last + i);
    if (wsx_eventsource_send(es, data, (size_t)n, i == 2 ? "custom" : NULL,
                             id) < 0)
      return;
  }
  wsx_eventsource_close(es);
}

static void on_http(wsx_server *srv, wsx_request *req, wsx_http_res *res,
                    void *ud) {
  (void)srv;
  (void)ud;
  if (wsx_eventsource_is_eventsource(req)) {
    serve_events(req, res);
  } else if (!strcmp(wsx_request_resource(req), "/")) {
    wsx_http_res_header(res, "Content-Type", "text/html; charset=utf-8");
    wsx_http_res_end(res, page, sizeof(page) - 1);
  } else {
    wsx_http_res_status(res, 404, NULL);
    wsx_http_res_header(res, "Content-Type", "text/plain");
    wsx_http_res_end(res, "not found\n", 10);
  }
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8000;
  uv_loop_t *loop = uv_default_loop();
  static const wsx_server_callbacks cbs = {.struct_size = sizeof(wsx_server_callbacks), .http_request = on_http};
  int err;
  wsx_server *srv = wsx_server_new(loop, NULL, &cbs, NULL, &err);
  if (!srv) {
    fprintf(stderr, "wsx_server_new: %s\n", wsx_uv_strerror(err));
    return 1;
  }
  if ((err = wsx_server_listen(srv, "127.0.0.1", port)) < 0) {
    fprintf(stderr, "listen: %s\n", wsx_uv_strerror(err));
    wsx_server_free(srv);
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }
  printf("listening on http://127.0.0.1:%d/\n", wsx_server_port(srv));
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT) < 0;
}
