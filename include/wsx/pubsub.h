/*
 * wsx/pubsub.h: topics (publish/subscribe) over the libuv transport.
 *
 * A socket subscribes to any number of topics; a topic has any number of
 * subscribers. wsx_loop_publish() sends one message to every open
 * subscriber on a loop and returns how many it reached.
 *
 * Topics are byte strings of 1 to WSX_TOPIC_MAX bytes (any bytes, NUL
 * included; compared byte for byte). They live per loop: a socket's
 * subscriptions are entries of its loop's topic table, so publishing on a
 * loop reaches the subscribers on that loop (wsx_server_group_publish() in
 * wsx/group.h reaches every loop of a multi-core server). A socket leaves
 * all its topics when its connection starts closing (close handshake
 * finished, drop, error, or EOF): a closing socket receives no more
 * publications.
 *
 * Cost: a publication is framed once: the frame header and payload are
 * one reference-counted buffer that is written to every subscriber. A
 * publish does not write at once: each subscriber queues a reference to
 * the buffer, and once per loop turn (an idle handle of the loop, active
 * only while queues are not empty) every subscriber's queued publications
 * leave in ONE writev; what the kernel does not take stays queued in libuv
 * as references, not copies. k publishes in one loop turn so cost one
 * system call per subscriber instead of k. Every write of the socket's
 * own (sends, pongs, close) writes its queue first: a send never overtakes
 * a publication made before it. A queue past the socket's high-water mark
 * (or 64 messages) is written at once. Exceptions, each one a per-socket
 * copy like an ordinary send: TLS subscribers (encrypted per connection),
 * client-side sockets (masked per connection), hixie drafts, the socket
 * whose read callback is running (its output is corked into the loop's
 * cork buffer), and a subscriber whose own sends are already queued
 * behind a write in flight (the message joins that queue to keep order).
 *
 * permessage-deflate: a subscriber that negotiated permessage-deflate with
 * server_no_context_takeover gets a copy-free share of ONE compressed frame
 * per window size (server_max_window_bits 9..15) per publication. A
 * subscriber whose server compressor keeps its context (or has an 8-bit
 * window) compresses the message with its own context, through the
 * driver, like wsx_socket_send(). WSX_PUBLISH_UNCOMPRESSED sends the
 * message uncompressed to everyone (valid with deflate negotiated).
 *
 * Flow control stays per socket: the message counts in each subscriber's
 * buffered_amount from the publish on (queued or in the kernel's way); a
 * subscriber that goes above its max_buffered is dropped
 * (error WSX_E_POLICY, close 1008: a slow consumer) and never holds back
 * the others; one above its high_water_mark gets `drain` later as usual.
 *
 * Only open WebSocket connections receive publications: a socket that
 * subscribed before `open` starts receiving when it opens. A published
 * message is one frame (fragment_outgoing_messages does not apply). Do not
 * publish to a socket while a message of its own sent frame by frame with
 * wsx_socket_send_frame(fin = 0) is unfinished.
 *
 * Threads: every function here runs on the thread of the socket's /
 * loop's loop (see wsx/uv.h). The thread-safe publish is
 * wsx_server_group_publish() (wsx/group.h).
 */
#ifndef WSX_PUBSUB_H
#define WSX_PUBSUB_H

#include "uv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest topic, in bytes. */
#define WSX_TOPIC_MAX 255u

/* Flags of the publish functions. */
#define WSX_PUBLISH_UNCOMPRESSED                                               \
  1u /* no permessage-deflate for this message                                 \
        (same value as WSX_SEND_UNCOMPRESSED) */
#define WSX_PUBLISH_LOCAL                                                      \
  2u /* this loop only: not to the other loops of a server group,             \
        nor to a backplane (wsx/backplane.h) */

/*
 * Subscribes `s` to `topic` (len bytes, copied into the loop's table).
 * Returns WSX_OK (subscribed now), 1 (already subscribed: nothing
 * changed), WSX_E_INVALID (topic NULL, len 0 or > WSX_TOPIC_MAX),
 * WSX_E_CLOSED (the connection is closing or closed), WSX_E_NOMEM.
 */
WSX_EXTERN int wsx_socket_subscribe(wsx_socket *s, const void *topic,
                                    size_t len);
/* Leaves `topic`. Returns 1 (it was subscribed), 0 (it was not) or
 * WSX_E_INVALID (topic NULL, len 0 or > WSX_TOPIC_MAX). */
WSX_EXTERN int wsx_socket_unsubscribe(wsx_socket *s, const void *topic,
                                      size_t len);
/* 1 if `s` is subscribed to `topic`, else 0. */
WSX_EXTERN int wsx_socket_is_subscribed(const wsx_socket *s,
                                        const void *topic, size_t len);
/* Number of topics `s` is subscribed to. */
WSX_EXTERN size_t wsx_socket_topic_count(const wsx_socket *s);
/* The i-th topic of `s` (0 <= i < wsx_socket_topic_count(s); the order
 * changes when the socket unsubscribes), its length in *len; NULL if i is
 * out of range. The bytes are owned by the loop's topic table and valid
 * until the socket's next subscribe / unsubscribe or its close. */
WSX_EXTERN const void *wsx_socket_topic(const wsx_socket *s, size_t i,
                                        size_t *len);

/*
 * Sends `data` (len bytes, borrowed for the call) as one message of
 * `opcode` (WSX_OP_TEXT or WSX_OP_BINARY) to every open subscriber of
 * `topic` on `loop`. `flags`: 0 or WSX_PUBLISH_UNCOMPRESSED (and
 * WSX_PUBLISH_LOCAL, meaningful for groups and backplanes).
 * Returns the number of sockets the message was handed to (a subscriber
 * dropped as a slow consumer by this message is not counted; 0 when
 * nobody subscribes), or WSX_E_INVALID (bad topic, opcode, flags, or
 * text that is not UTF-8), WSX_E_NOMEM (nobody got it).
 * Errors of single subscribers reach those sockets (error + close), not
 * the caller. Call on the loop's thread.
 */
WSX_EXTERN long wsx_loop_publish(uv_loop_t *loop, const void *topic,
                                 size_t topic_len, const void *data,
                                 size_t len, int opcode, unsigned flags);
/* The same on the server's loop (plus the server's backplane, if one is
 * attached: wsx/backplane.h, unless WSX_PUBLISH_LOCAL). Reaches every
 * subscriber of the loop, whichever server or client made it. */
WSX_EXTERN long wsx_server_publish(wsx_server *srv, const void *topic,
                                   size_t topic_len, const void *data,
                                   size_t len, int opcode, unsigned flags);
/* Number of subscribers of `topic` on `loop` (0 for an unknown topic). */
WSX_EXTERN size_t wsx_loop_subscribers(uv_loop_t *loop, const void *topic,
                                       size_t topic_len);

#ifdef __cplusplus
}
#endif
#endif /* WSX_PUBSUB_H */
