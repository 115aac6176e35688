/*
 * wslay_echo: a WebSocket echo server on Debian's libwslay (the event API)
 * and a plain epoll loop, one more peer for bench/run.sh. Written for the
 * benchmark: no TLS, no extensions, no HTTP beyond the upgrade.
 *
 *   - the handshake: read until the end of the request head, answer 101
 *     with Sec-WebSocket-Accept (SHA-1 from OpenSSL's libcrypto); bytes
 *     after the head are handed to wslay first;
 *   - then wslay_event_recv / wslay_event_send on a non-blocking socket,
 *     level-triggered epoll, EPOLLOUT only while wslay wants to write;
 *   - every data message is queued back unchanged (wslay copies it);
 *     wslay answers pings and close frames itself; the socket closes when
 *     wslay wants neither to read nor to write.
 *
 * usage: wslay_echo PORT   (binds 127.0.0.1; prints "listening on PORT")
 * Built by bench/run.sh; not part of the library build.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#define HEAD_MAX 8192

typedef struct conn {
  int fd;
  int open; /* handshake done */
  uint32_t events;
  wslay_event_context_ptr ctx;
  size_t head_len, early_off; /* head bytes; early = what followed it */
  char *head; /* HEAD_MAX bytes, only until the head and early bytes are
                 consumed (an idle connection holds only wslay's context) */
} conn;

static int ep;

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                       int flags, void *ud) {
  conn *c = ud;
  ssize_t n;
  (void)flags;
  if (c->early_off < c->head_len) { /* bytes that came with the head */
    size_t k = c->head_len - c->early_off;
    if (k > len)
      k = len;
    memcpy(buf, c->head + c->early_off, k);
    c->early_off += k;
    if (c->early_off == c->head_len) {
      free(c->head);
      c->head = NULL;
    }
    return (ssize_t)k;
  }
  n = recv(c->fd, buf, len, 0);
  if (n > 0)
    return n;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
  else
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
  return -1;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *ud) {
  conn *c = ud;
  ssize_t n;
  /* wslay sends a frame's header and payload in two calls: MSG_MORE keeps
   * them in one segment under TCP_NODELAY. */
  n = send(c->fd, data, len,
           MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0));
  if (n >= 0)
    return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
  else
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
  return -1;
}

static void on_msg(wslay_event_context_ptr ctx,
                   const struct wslay_event_on_msg_recv_arg *arg, void *ud) {
  struct wslay_event_msg m;
  (void)ud;
  if (wslay_is_ctrl_frame(arg->opcode))
    return;
  m.opcode = arg->opcode;
  m.msg = arg->msg;
  m.msg_length = arg->msg_length;
  (void)wslay_event_queue_msg(ctx, &m);
}

static const struct wslay_event_callbacks cbs = {on_recv, on_send, NULL,  NULL,
                                                 NULL,    NULL,    on_msg};

static void conn_free(conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->ctx)
    wslay_event_context_free(c->ctx);
  free(c->head);
  free(c);
}

static void set_events(conn *c, uint32_t ev) {
  struct epoll_event e;
  if (ev == c->events)
    return;
  c->events = ev;
  e.events = ev;
  e.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* The Sec-WebSocket-Key value of a complete head, NUL-terminated in place. */
static char *find_key(char *head) {
  static const char name[] = "\r\nsec-websocket-key:";
  char *p = head, *v, *e;
  for (; (p = strchr(p, '\r')) != NULL; p++) {
    if (strncasecmp(p, name, sizeof(name) - 1) != 0)
      continue;
    v = p + sizeof(name) - 1;
    while (*v == ' ' || *v == '\t')
      v++;
    e = strchr(v, '\r');
    if (!e)
      return NULL;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    *e = '\0';
    return v;
  }
  return NULL;
}

/* Reads head bytes; answers 101 once the head is complete. 0: keep going,
 * -1: close. */
static int handshake(conn *c) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char resp[256], cat[128], *end, *key;
  unsigned char md[SHA_DIGEST_LENGTH];
  unsigned char acc[64];
  size_t head_end;
  ssize_t n;
  int len;
  if (!c->head && !(c->head = malloc(HEAD_MAX)))
    return -1;
  n = recv(c->fd, c->head + c->head_len, HEAD_MAX - 1 - c->head_len, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
    return -1;
  if (n < 0)
    return 0;
  c->head_len += (size_t)n;
  c->head[c->head_len] = '\0';
  end = strstr(c->head, "\r\n\r\n");
  if (!end)
    return c->head_len >= HEAD_MAX - 1 ? -1 : 0;
  head_end = (size_t)(end - c->head) + 4;
  end[2] = '\0'; /* keep the last header's CRLF for find_key */
  key = find_key(c->head);
  if (!key || strlen(key) > 64)
    return -1;
  snprintf(cat, sizeof(cat), "%s%s", key, guid);
  SHA1((const unsigned char *)cat, strlen(cat), md);
  EVP_EncodeBlock(acc, md, SHA_DIGEST_LENGTH);
  len = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 (const char *)acc);
  if (send(c->fd, resp, (size_t)len, MSG_NOSIGNAL) != len)
    return -1; /* a fresh socket takes 129 bytes */
  if (wslay_event_context_server_init(&c->ctx, &cbs, c) != 0)
    return -1;
  c->open = 1;
  c->early_off = head_end; /* [head_end, head_len) go to wslay first */
  if (c->early_off == c->head_len) {
    free(c->head);
    c->head = NULL;
    c->head_len = c->early_off = 0;
  }
  return 0;
}

/* One readiness event. 0: keep, -1: close. */
static int service(conn *c, uint32_t ev) {
  if (!c->open) {
    if (handshake(c) < 0)
      return -1;
    if (!c->open || !c->head)
      return 0;
    ev |= EPOLLIN; /* early frames */
  }
  if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && wslay_event_recv(c->ctx) != 0)
    return -1;
  if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0)
    return -1;
  if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx))
    return -1;
  set_events(c, (wslay_event_want_read(c->ctx) ? EPOLLIN : 0u) |
                    (wslay_event_want_write(c->ctx) ? EPOLLOUT : 0u));
  return 0;
}

int main(int argc, char **argv) {
  struct sockaddr_in a;
  struct epoll_event e, evs[256];
  int lfd, one = 1, port, i, n;
  if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
    fprintf(stderr, "usage: wslay_echo PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      listen(lfd, 4096) < 0) {
    perror("wslay_echo: bind/listen");
    return 1;
  }
  ep = epoll_create1(0);
  e.events = EPOLLIN;
  e.data.ptr = NULL; /* the listener */
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
  printf("listening on %d\n", port);
  fflush(stdout);
  for (;;) {
    n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno != EINTR)
      return 1;
    for (i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          c = calloc(1, sizeof(*c));
          if (!c) {
            close(fd);
            continue;
          }
          c->fd = fd;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          c->events = EPOLLIN;
          e.events = EPOLLIN;
          e.data.ptr = c;
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
            close(fd);
            free(c);
          }
        }
        continue;
      }
      if (service(c, evs[i].events) < 0)
        conn_free(c);
    }
  }
}
