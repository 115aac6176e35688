/*
 * examples/eventsource_client.c: the wsx EventSource client. Prints every
 * event as "message TYPE ID DATA" and every error; exits after COUNT events
 * (default: never) or when the server stops the client. Honours the
 * http_proxy / https_proxy / no_proxy environment (a CONNECT tunnel
 * through the proxy), like curl.
 *
 *   ./eventsource_client http://127.0.0.1:8000/events [COUNT]
 */
#include <stdio.h>
#include <stdlib.h>

#include <wsx/eventsource.h>

static int count, limit;

static void on_open(wsx_eventsource_client *c, void *ud) {
  (void)ud;
  printf("open last_event_id=%s\n", wsx_eventsource_client_last_event_id(c));
  fflush(stdout);
}

static void on_message(wsx_eventsource_client *c,
                       const wsx_eventsource_event *e, void *ud) {
  (void)ud;
  printf("message %s %s %.*s\n", e->type, e->last_event_id, (int)e->data_len,
         e->data);
  fflush(stdout);
  if (++count == limit)
    wsx_eventsource_client_close(c);
}

static void on_error(wsx_eventsource_client *c, const wsx_eventsource_error *e,
                     void *ud) {
  (void)c;
  (void)ud;
  printf("error %s (status %d)%s\n", e->message, e->status_code,
         e->will_reconnect ? ", reconnecting" : "");
  fflush(stdout);
}

static void on_close(wsx_eventsource_client *c, void *ud) {
  (void)c;
  (void)ud;
  printf("closed\n"); /* the client is freed when this returns */
  fflush(stdout);
}

int main(int argc, char **argv) {
  static const wsx_eventsource_client_callbacks cbs = {sizeof(wsx_eventsource_client_callbacks), on_open, on_message,
                                                       on_error, on_close};
  wsx_socket_proxy proxy = WSX_SOCKET_PROXY_INIT;
  wsx_eventsource_client_options opts = WSX_EVENTSOURCE_CLIENT_OPTIONS_INIT;
  int err;
  proxy.use_env = 1; /* direct when the environment names no proxy */
  opts.proxy = &proxy;
  if (argc < 2) {
    fprintf(stderr, "usage: %s URL [COUNT]\n", argv[0]);
    return 2;
  }
  limit = argc > 2 ? atoi(argv[2]) : 0;
  if (!wsx_eventsource_client_new(uv_default_loop(), argv[1], &opts, &cbs,
                                  NULL, &err)) {
    fprintf(stderr, "%s: %s\n", argv[1], wsx_uv_strerror(err));
    return 1;
  }
  return uv_run(uv_default_loop(), UV_RUN_DEFAULT) < 0;
}
