/*
 * Internal layout of wsx_driver, shared by the driver's source files:
 * driver.c (lifecycle, accessors, sending, close), handshake.c (HTTP
 * handshakes), frame.c and frame_out.c (hybi framing: parsing; encoding
 * and sending), extglue.c (the calls into the extension framework,
 * ext/framework.h) and hixie.c (the drafts).
 */
#ifndef WSX_SRC_DRIVER_INT_H
#define WSX_SRC_DRIVER_INT_H

#include "common/abi.h"
#include "common/alloc.h"
#include "common/util.h"
#include "ext/framework.h"
#include "wsx/driver.h"
#include "wsx/extension.h"

enum wsx__role {
  WSX__SERVER_RAW, /* parses the HTTP request itself */
  WSX__SERVER_REQ, /* built from an already-parsed request */
  WSX__CLIENT
};

/* Internal state machine; ready_state is derived from it. */
enum wsx__state {
  WSX__S_HEAD,    /* reading the HTTP head (raw server, client) */
  WSX__S_REQUEST, /* server: request known, start() not yet called */
  WSX__S_BODY76,  /* hixie-76 server: waiting for the 8-byte key3 */
  WSX__S_OPEN,
  WSX__S_CLOSING, /* we sent a close frame, waiting for the peer's */
  WSX__S_CLOSED
};

enum wsx__version { WSX__HYBI = 0, WSX__HIXIE75 = 75, WSX__HIXIE76 = 76 };

typedef struct wsx__ping {
  uint8_t data[125];
  uint8_t len;
  wsx_ping_cb cb;
  void *arg;
} wsx__ping;

/* A driver's rarely used state (wsx_driver.x). */
typedef struct wsx__drx {
  /* Handshake. `head` holds the raw head bytes (raw server, client); the
   * parsed request/response spans point into it. Servers release it (and
   * the request) when the connection opens; clients keep the response. */
  wsx__buf head;
  wsx_header *headers; /* request headers (server) or response (client) */
  size_t num_headers;
  int status_code;
  /* Sending. */
  wsx__buf scratch; /* client: masked copy of an outgoing payload */
  wsx__buf ext_out; /* extension output for an outgoing message */
  wsx__ping *pings; /* outstanding ping callbacks, oldest first */
  size_t num_pings;
  size_t cap_pings; /* grows by doubling up to WSX_MAX_PING_CALLBACKS */
  /* options.random (NULL = the platform CSPRNG, random.c). */
  int (*random)(void *buf, size_t len, void *ud);
  void *random_ud;
} wsx__drx;

/* State needed only until the handshake completes; freed at open so that
 * an idle connection holds none of it. */
typedef struct wsx__hs {
  char **protocols; /* NULL-terminated copy of options.protocols, or NULL */
  char *origin;
  wsx__buf extra_headers; /* "Name: value\r\n" lines from set_header */
  wsx_http_state hstate;
  char client_key[25];   /* base64 of 16 random bytes (client) */
  char *url_host_header; /* client: Host header value */
  char *url_path;        /* client: request target */
  char *url_auth;        /* client: base64 userinfo for Basic auth, or NULL */
  wsx_http_request req;  /* server: spans into d->head */
  int have_req;
  /* hixie-76: the numbers of Sec-WebSocket-Key1/Key2 (input of the MD5
   * challenge). */
  uint32_t hixie_k1, hixie_k2;
  wsx__buf body;        /* bytes after the head not yet consumed as frames */
  wsx__buf queue;       /* messages sent before open: [op u8][len u64][data] */
  wsx_extension **exts; /* registered with add_extension */
  size_t num_exts;
} wsx__hs;

struct wsx_driver {
  /* A driver made by wsx_driver_new_* points both at copies in its own
   * allocation (wsx__driver_box); an embedded one (driver/embed.h) at its
   * embedder's, which outlive it. */
  const wsx_allocator *alloc;
  const wsx_driver_callbacks *cb;
  void *ud;

  /* Configuration (limits resolved to their defaults at creation). */
  uint64_t max_length;
  uint64_t max_frame_size;
  uint32_t max_fragments;
  uint32_t max_head;
  uint32_t max_headers;
  uint32_t frag_threshold;
  /* (Small members sit together: an idle connection pays for padding.) */
  uint16_t close_code;  /* code reported by the close event */
  uint16_t budget_code; /* the budget hook's refusal (a close code) */
  wsx__utf8 utf8;       /* receiving: the text message's UTF-8 state */
  int last_error;
  uint32_t msg_frames;  /* receiving: frames of the open message */
  uint8_t out_ext_rsv;  /* sending: RSV bits of the extension output */
  uint8_t role;         /* enum wsx__role */
  uint8_t frame_events; /* deliver frames instead of messages */
  uint8_t fragment_out; /* split outgoing messages at frag_threshold */
  uint8_t allow_drafts;
  uint8_t secure;
  uint8_t version;          /* enum wsx__version */
  uint8_t state;            /* enum wsx__state */
  uint8_t started;          /* start() was called */
  uint8_t in_callback_fail; /* fail() is running: no recursion */
  uint8_t close_fired;      /* the close event has fired */
  uint8_t close_sent;       /* a close frame left */
  uint8_t in_parse;         /* parse() is running: nested parse refused */
  uint8_t in_write;         /* the write callback is running */
  uint8_t embedded;         /* lives in its embedder's memory (embed.h) */
  /* Bytes before deliver_p that a send of exactly that payload may
   * overwrite with its frame header (the consumed header of the frame
   * being delivered from the input; 0 when none): see wsx__frame_send. */
  uint8_t deliver_room;

  wsx__hs *hs; /* handshake-only state; NULL once open */

  /* The rarely used state (wsx__drx): allocated with the driver, released
   * by a server at open when nothing in it is in use, and allocated again
   * (wsx__drx_get) when a ping callback, a masked or extension-processed
   * send needs it. NULL only on an open server driver. */
  struct wsx__drx *x;
  char *url;
  char *protocol;  /* negotiated, "" if none */
  char *ext_value; /* negotiated Sec-WebSocket-Extensions, "" if none */

  /* Receiving: frame header accumulation. On draft drivers hixie.c reuses
   * hdr/hdr_len (key3), f_op (its parse stage), f_len, f_got, msg and
   * utf8. */
  uint8_t hdr[14];
  uint8_t hdr_len;    /* bytes of hdr[] filled */
  uint8_t in_payload; /* header parsed, reading payload */
  uint8_t f_op;       /* current frame opcode */
  uint8_t f_fin;
  uint8_t f_rsv;
  uint8_t f_masked;
  uint8_t mask[4];
  uint64_t f_len; /* payload length of the current frame */
  uint64_t f_got; /* payload bytes of the current frame seen so far */

  /* Receiving: message assembly. msg_op == 0 when no message is open. */
  uint8_t msg_op;
  uint8_t msg_rsv; /* RSV bits of the first frame (for extensions) */
  uint8_t msg_ext; /* the message goes through the extension pipeline */
  uint8_t msg_ext_first; /* the pipeline has not seen this message yet */
  uint64_t msg_len;      /* payload bytes of the message after extensions */
  uint64_t msg_wire;     /* payload bytes of the message as received */
  wsx__buf msg;
  /* msg's allocator: d->alloc, or the transport's page allocator
   * (wsx__driver_set_msg_alloc); outlives the driver. */
  const wsx_allocator *msg_alloc;
  const uint8_t *deliver_p; /* data of the message being delivered */
  /* wsx_driver_set_budget: the hook, and the bytes of msg's capacity it
   * granted (refunded when msg is freed). */
  wsx_budget_cb budget_cb;
  void *budget_ud;
  size_t budget_held;
  uint64_t rx_decoded;  /* wsx_driver_decoded_bytes */
  uint8_t *ctrl;         /* control payload split across reads (lazy, 125) */
  const uint8_t *ctrl_p; /* the current control frame's payload */

  /* Extensions negotiated (the framework's state). */
  wsx__exts ext;

  char *errmsg; /* detail of the last error (lazy, WSX__ERRMSG_LEN) */
};

#define WSX__ERRMSG_LEN 160

/* A driver of its own (wsx_driver_new_*): one allocation holding it and
 * the copies of its allocator and callbacks. */
typedef struct wsx__driver_box {
  wsx_driver d;
  wsx_allocator alloc;
  wsx_driver_callbacks cb;
} wsx__driver_box;

/* frame.c: returns the message buffer's budget (wsx_driver_set_budget). */
void wsx__budget_refund(wsx_driver *d);

/* driver.c */
/* Fills a zeroed driver from resolved options `o` (their allocator is not
 * read); `a` and `cb` are kept by pointer and must outlive the driver.
 * Then allocates the handshake state. WSX_OK or WSX_E_NOMEM (free the
 * driver with wsx_driver_free). */
int wsx__driver_init(wsx_driver *d, const wsx_driver_options *o,
                     const wsx_allocator *a, const wsx_driver_callbacks *cb,
                     void *ud);
/* The configuration part of wsx__driver_init (limits, flags, allocator,
 * callbacks; nothing allocated): also what a hibernated embedded driver
 * is rebuilt from (embed.c). */
void wsx__driver_config(wsx_driver *d, const wsx_driver_options *o,
                        const wsx_allocator *a, const wsx_driver_callbacks *cb,
                        void *ud);
/* Formats the error detail into d->errmsg (allocated on first use). */
void wsx__set_error(wsx_driver *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The error detail, "" if none. */
const char *wsx__errmsg(const wsx_driver *d);
/* d->x, allocated (zeroed) if NULL; NULL: out of memory. */
wsx__drx *wsx__drx_get(wsx_driver *d);
/* Frees the handshake-only state (at open). */
void wsx__hs_free(wsx_driver *d);
/* wsx_driver_parse without the re-entry check, for the driver's own
 * buffered bytes (after the head); marks the driver as parsing. */
int wsx__parse_input(wsx_driver *d, uint8_t *data, size_t len);
/* Hands bytes to the write callback; records WSX_E_IO on failure. */
int wsx__write(wsx_driver *d, const wsx_iovec *iov, size_t n);
int wsx__write1(wsx_driver *d, const void *p, size_t n);
/* Protocol failure: error event, close frame with `close_code` (if the
 * handshake completed and none was sent yet), close event. Returns `err`. */
int wsx__fail(wsx_driver *d, int err, uint16_t close_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Fires the close event once and moves to CLOSED. */
void wsx__fire_close(wsx_driver *d, uint16_t code, const char *reason,
                     size_t reason_len, int clean);
/* Handshake done: state OPEN, open event, flush the pre-open queue. */
int wsx__open(wsx_driver *d);
/* Sends a message through the extension pipeline and fragmentation. */
int wsx__send_message(wsx_driver *d, int opcode, const void *data, size_t len,
                      unsigned flags);

/* Random bytes for masks and the client key: options.random, else
 * wsx__random(). 0 or -1. */
int wsx__driver_random(wsx_driver *d, void *buf, size_t n);


/* Message and scratch buffers larger than this are released after use,
 * so that an idle connection does not keep the memory of its largest
 * message (frame.c, frame_out.c). */
#define KEEP_BUFFER_MAX 65536

/* frame.c (receiving) and frame_out.c (sending) */
int wsx__frame_parse(wsx_driver *d, uint8_t *p, size_t len);
/* Zero-copy receive and message taking (wsx_driver_recv_buffer,
 * wsx_driver_recv_commit, wsx_driver_take_message; driver.h). */
uint8_t *wsx__frame_rx_span(wsx_driver *d, size_t min, size_t *len);
int wsx__frame_rx_commit(wsx_driver *d, size_t n);
/* Encodes and writes one frame (masking for clients). */
int wsx__frame_send(wsx_driver *d, int opcode, int fin, unsigned rsv,
                    const void *data, size_t len);
/* Builds a frame header into out[14]; returns its length. */
size_t wsx__frame_header(uint8_t *out, int opcode, int fin, unsigned rsv,
                         int masked, const uint8_t mask[4], uint64_t len);
/* wsx__unmask(): common/util.h (common/unmask.c). */
/* Non-zero if data[0..len) is the whole text message being delivered (its
 * own data, or the buffer taken from it, sent back from its message
 * callback): validated as it arrived, so a send need not check it again.
 * A part of it might cut a character, and a frame (frame_events) of a
 * fragmented message is no message: neither qualifies. */
int wsx__delivered_text(const wsx_driver *d, const void *data, size_t len);
/* Close code valid on the wire (RFC 6455 7.4)? */
int wsx__close_code_valid(unsigned code);

/* handshake.c */
int wsx__server_head(wsx_driver *d, uint8_t *p, size_t len, size_t *used);
int wsx__client_head(wsx_driver *d, uint8_t *p, size_t len, size_t *used);
int wsx__server_start(wsx_driver *d);
int wsx__client_start(wsx_driver *d);
/* Copies a parsed request into driver-owned storage. */
int wsx__store_request(wsx_driver *d, const wsx_http_request *req);
/* Finishes a handshake head in `b` (the set_header lines and the blank
 * line), writes it and frees `b`. `bad` non-zero: building `b` ran out of
 * memory. Returns WSX_OK or the failure (error and close events fired). */
int wsx__send_head(wsx_driver *d, wsx__buf *b, int bad);
/* Writes an HTTP error response with a text body. */
void wsx__http_error(wsx_driver *d, int status, const char *reason,
                     const char *extra_headers, const char *body);

/* extglue.c: the driver's calls into the extension framework; failures
 * set the error detail (wsx__set_error). */
/* Client: appends offers of every registered extension to `b`. */
int wsx__ext_client_offer(wsx_driver *d, wsx__buf *b);
/* Client: validates and activates the server's response value. */
int wsx__ext_client_activate(wsx_driver *d, const char *value, size_t len);
/* Server: negotiates the client's offers; sets d->ext_value. Returns WSX_OK,
 * or WSX_E_EXTENSION with d->errmsg set. */
int wsx__ext_server_negotiate(wsx_driver *d, const char *value, size_t len);
/* Incoming data chunk of the current message through the pipeline; output
 * goes to the message sink (limits, UTF-8). */
int wsx__ext_incoming(wsx_driver *d, const uint8_t *p, size_t n,
                      unsigned flags);
/* Outgoing message through the pipeline into d->ext_out; *rsv gets bits. */
int wsx__ext_outgoing(wsx_driver *d, int opcode, const uint8_t *p, size_t n,
                      unsigned flags, unsigned *rsv);
void wsx__ext_free(wsx_driver *d);
/* Appends output of the pipeline to the message: limit + UTF-8 checks. */
int wsx__msg_append(wsx_driver *d, const uint8_t *p, size_t n);

/* hixie.c (drafts) */
/* Which draft a request speaks: WSX__HIXIE75, WSX__HIXIE76, or 0 (hybi or
 * not a draft request). */
int wsx__hixie_detect(const wsx_http_request *req);
/* Validates the draft request and writes the response (hixie-76 may wait
 * for the key3 body: state WSX__S_BODY76). */
int wsx__hixie_start(wsx_driver *d);
/* Parses draft frames (and the key3 body in WSX__S_BODY76). */
int wsx__hixie_parse(wsx_driver *d, uint8_t *p, size_t len);
/* Sends a text message in draft framing. */
int wsx__hixie_send_text(wsx_driver *d, const void *data, size_t len);
/* Starts the draft closing (0xFF 0x00 for -76; plain close for -75); the
 * close event reports `code` and `reason` (the drafts carry neither). */
int wsx__hixie_close(wsx_driver *d, uint16_t code, const char *reason,
                     size_t reason_len);

#endif
