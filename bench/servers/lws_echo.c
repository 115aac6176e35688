/*
 * lws_echo: a minimal libwebsockets echo server, the reference point of the
 * benchmark table. Every message goes back unchanged (text as text, binary
 * as binary), assembled from however many RECEIVE callbacks it arrived in.
 *
 * usage: lws_echo PORT   (binds 127.0.0.1; prints "listening on PORT")
 * Built by bench/run.sh against Debian's libwebsockets-dev (4.1); not part of
 * the library build.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

/* Per connection, allocated by lws: the message being assembled/echoed.
 * The buffer grows to the largest message seen and is then reused. */
struct session {
  unsigned char *buf; /* LWS_PRE bytes of headroom, then the payload */
  size_t len;         /* payload bytes in buf */
  size_t cap;         /* payload capacity of buf */
  int binary;         /* the message was binary */
  int ready;          /* a complete message waits to be echoed */
};

static volatile sig_atomic_t stop;

static int append(struct session *s, const void *in, size_t len) {
  if (s->len + len > s->cap) {
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + len)
      cap *= 2;
    unsigned char *nb = realloc(s->buf, LWS_PRE + cap);
    if (!nb)
      return -1;
    s->buf = nb;
    s->cap = cap;
  }
  memcpy(s->buf + LWS_PRE + s->len, in, len);
  s->len += len;
  return 0;
}

static int echo_cb(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len) {
  struct session *s = user;
  switch (reason) {
  case LWS_CALLBACK_RECEIVE:
    if (lws_is_first_fragment(wsi)) {
      s->len = 0;
      s->binary = lws_frame_is_binary(wsi);
    }
    if (append(s, in, len) < 0)
      return -1;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
      s->ready = 1;
      /* The clients wait for the echo before sending again, so nothing
       * else is received until this message is written. */
      lws_rx_flow_control(wsi, 0);
      lws_callback_on_writable(wsi);
    }
    break;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (!s->ready)
      break;
    if (lws_write(wsi, s->buf + LWS_PRE, s->len,
                  s->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)s->len)
      return -1;
    s->ready = 0;
    s->len = 0;
    lws_rx_flow_control(wsi, 1);
    break;
  case LWS_CALLBACK_CLOSED:
    free(s->buf);
    s->buf = NULL;
    break;
  default:
    break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {
    {"echo", echo_cb, sizeof(struct session), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
    fprintf(stderr, "usage: lws_echo PORT\n");
    return 2;
  }
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = atoi(argv[1]);
  info.iface = "127.0.0.1";
  info.protocols = protocols;
  info.pt_serv_buf_size = 65536;
  lws_set_log_level(LLL_ERR, NULL);
  struct lws_context *ctx = lws_create_context(&info);
  if (!ctx) {
    fprintf(stderr, "lws_echo: cannot listen on port %d\n", info.port);
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  printf("listening on %d\n", info.port);
  fflush(stdout);
  while (!stop && lws_service(ctx, 0) >= 0)
    ;
  lws_context_destroy(ctx);
  return 0;
}
