/*
 * The socket core's interface (conn.c, loopctx.c, config.c): the socket
 * and its resolved options, the per-loop context, the phase and role
 * tables through which the core reaches everything else, and the core's
 * own calls. This header names no server, request, client, proxy or
 * driver function: the core knows those only through wsx__phases and
 * wsx__roles (phases.c). scripts/check-layers.sh keeps conn.c and this
 * header to it. Role code includes uv/internal.h, which adds the rest.
 */
#ifndef WSX_SRC_UV_CORE_H
#define WSX_SRC_UV_CORE_H

#include "common/abi.h"
#include "common/alloc.h"
#include "common/util.h"
#include "uv/stream.h"
#include "uv/writer.h"
#include "uv/uvbuf.h"
#include "wsx/uv.h"

#define WSX__RBUF_SIZE 65536u /* loop-wide receive buffer */
#define WSX__CORK_SIZE 16384u /* loop-wide cork buffer */
#define WSX__MAX_HEADERS 256u /* cap on max_headers (scratch array size) */
#define WSX__LINGER_MS 2000u  /* wait for the peer's FIN after ours */

/* Resolved, deep-copied socket options (shared by a server's sockets). */
typedef struct wsx__loopctx wsx__loopctx;

typedef struct wsx__cfg {
  wsx__loopctx *ctx; /* the loop's context (sockets share it) */
  wsx_allocator alloc;
  wsx_driver_options dopts; /* protocols/origin/allocator point below */
  char **protocols;         /* NULL-terminated copy, or NULL */
  char *origin;
  wsx_extension **exts; /* NULL-terminated copy, or NULL */
  wsx_header *headers;  /* names/values are copied strings */
  size_t num_headers;
  uint32_t close_timeout, connect_timeout;
  uint32_t ping_interval; /* ms, 0 = no pings */
  uint32_t send_timeout;  /* ms, 0 = off */
  /* Memory budget for incoming messages (budget.c): the limit (SIZE_MAX =
   * none), one connection's share of it, and what this cfg's connections
   * hold now (mutable: counted through const cfg pointers); the
   * connections holding more than 64 KiB (messages in progress) with a
   * scratch array one longer; how long one may stay parked (ms). */
  size_t budget, budget_share, budget_used, budget_peak;
  wsx_socket **budget_big;
  size_t *budget_scratch;
  size_t budget_nbig, budget_capbig;
  uint32_t budget_wait;
  int budget_hot; /* budget_used > budget / 2: counted in ctx->pages_hot */
  uint32_t ka_grace;      /* ms, 0 = no dead-peer detection */
  size_t hwm, max_buffered, ext_size;
  /* Room reserved after each socket for an embedded server driver
   * (driver/embed.h; set by server.c), 0 = the driver is allocated apart.
   * The app's ext_size bytes follow it. */
  size_t drv_room;
  /* Server sockets: ms without input or output after which an open plain
   * connection sleeps (uv/hibernate.c), 0 = never. Nonzero: the socket's
   * handle and driver live in a block apart (wsx__sock_act). */
  uint32_t hibernate_after;
  /* Where its sockets' blocks come from (slab.c): a slab of the
   * loop's, so that sleeping sockets sit together in few pages; NULL =
   * the allocator. Set with hibernate_after and the default allocator. */
  struct wsx__slab *slab;
  int nagle;
  struct wsx__tls_ctx *tls; /* TLS contexts (uv/tls.h), owned; NULL = plain */
  struct wsx__proxy_cfg *proxy; /* client: CONNECT proxy settings (uv/proxy_client.h),
                                   NULL = none */
} wsx__cfg;

int wsx__cfg_init(wsx__cfg *c, const wsx_socket_options *o);
void wsx__cfg_free(wsx__cfg *c);

/* Per-loop state, shared by every socket and server on that loop. */
struct wsx__loopctx {
  uv_loop_t *loop;
  wsx_allocator alloc; /* of the object that created it (see wsx__loopctx_get) */
  struct wsx__loopctx *next; /* global registry */
  size_t refs;
  uv_timer_t timer;   /* fires at heap[0]->deadline */
  uint64_t timer_due; /* deadline the timer is armed for (0: none) */
  wsx_socket **heap;  /* min-heap on deadline */
  uint32_t heap_len, heap_cap;
  wsx_socket *cork_owner;      /* socket whose output is being corked */
  uv_idle_t idle;              /* yield.c: runs while yq is not empty */
  uv_idle_t pub_idle;          /* pubflush.c: runs while sockets hold
                                  queued publications */
  wsx_socket *yq, *yq_tail;    /* yield.c: sockets waiting for a turn */
  int handles_closed;          /* timer, idle, pub_idle, btimer: freed after all */
  uint64_t work_ms;            /* yield.c: the loop tick `work` counts in */
  wsx__buf *resume_in;         /* yield.c: the input resume() feeds, */
  wsx_socket *resume_sock;     /* and its socket */
  uv_timer_t btimer;           /* budget.c: the earliest parked deadline */
  struct wsx__waiter *waiters; /* budget.c: parked sockets, in park order */
  uint32_t nwait, capwait;
  size_t work;                 /* yield.c: decoded bytes in that tick */
  const char *chosen_protocol; /* accept(): during the driver's start() */
  struct wsx__cbtab *cbtabs;   /* interned socket callback tables */
  size_t cork_len;
  struct wsx__topics *topics; /* uv/pubsub.h: topic table, NULL = none */
  struct wsx__h2 *h2_pool; /* h2_client.c: shareable HTTP/2 connections */
  wsx__zc *zc; /* wsx_socket_send_zc: the payload being sent, NULL = none */
  struct wsx__hib *hib; /* hibernate.c: the sleepers' epoll, NULL = none */
  struct wsx__slab *slabs; /* slab.c: socket slabs, by slot size */
  /* budget.c: message buffers of sockets with the default allocator
   * (common/alloc.h; initialized by the first such socket), and when a
   * freed mapping last entered its cache (uv_now() ms): the cache is
   * released WSX__PAGES_QUIET_MS after that. */
  wsx__pages pages;
  uint64_t pages_stamp;
  size_t pages_cap;   /* the cache's bound: the least of its cfgs' */
  uint32_t pages_hot; /* cfgs with budget_hot set: no cache meanwhile */
  wsx_header hdrs[WSX__MAX_HEADERS]; /* head parsing scratch */
  /* The receive buffer is rx: WSX__RBUF_SIZE bytes from the first
   * 64-aligned byte of rbuf (set by wsx__loopctx_get). The kernel copies
   * every read into it; a copy to a destination off a cache-line boundary
   * costs about a third more (16 KiB: 0.16 against 0.12 us, Zen 4). */
  char *rx;
  char rbuf[WSX__RBUF_SIZE + 64];
  char cork[WSX__CORK_SIZE];
};

/* Socket callback tables are interned per loop, so a socket holds one
 * pointer instead of a 72-byte copy. */
typedef struct wsx__cbtab {
  struct wsx__cbtab *next;
  wsx_socket_callbacks cb;
} wsx__cbtab;
extern const wsx_socket_callbacks wsx__no_cbs;
/* Returns a stable copy of *cb (NULL cb = no callbacks), or NULL on OOM. */
/* Interns a copy of `cb` (NULL = none) in this library's layout; the
 * caller has checked its struct_size (WSX__STRUCT_OK). NULL: out of
 * memory. */
const wsx_socket_callbacks *wsx__cb_intern(wsx__loopctx *c,
                                           const wsx_socket_callbacks *cb);

/* Returns the loop's context with a new reference (NULL on OOM). A new
 * context is allocated with `a` (the creating object's resolved allocator),
 * which then serves the context's tables and is used to free it. */
wsx__loopctx *wsx__loopctx_get(uv_loop_t *loop, const wsx_allocator *a);
void wsx__loopctx_unref(wsx__loopctx *c);
/* The loop's context without a new reference (NULL: no wsx object on it).
 * Call on the loop's thread. */
wsx__loopctx *wsx__loopctx_find(uv_loop_t *loop);
/* Sets (0 = clears) the socket's deadline, in uv_now() milliseconds. */
void wsx__timer_set(wsx_socket *s, uint64_t deadline);
/* Sets (0 = clears) the socket's send_timeout deadline (uv_now() ms); when
 * it passes, wsx__sock_on_send_timeout() runs. */
void wsx__send_due_set(wsx_socket *s, uint64_t due);

/* Connection phases. */
enum wsx__phase {
  WSX__P_HEAD,      /* server: reading the request head */
  WSX__P_REQUEST,   /* server: upgrade request waiting for accept/reject */
  WSX__P_HTTP,      /* server: plain HTTP request being answered */
  WSX__P_DIAL,      /* client: DNS / TCP connect */
  WSX__P_PROXY,     /* client: CONNECT sent, waiting for the proxy's 2xx */
  WSX__P_CLIENT_HS, /* client: handshake sent, waiting for the 101 */
  WSX__P_WS,        /* WebSocket (open or closing) */
  WSX__P_TEARDOWN,  /* our FIN is queued/sent, waiting for the peer's */
  WSX__P_H2,        /* server: an HTTP/2 connection (uv/h2.h) */
  WSX__P_COUNT
};

/*
 * What a phase does with the socket core's events. The core (conn.c) calls
 * wsx__phases[s->phase]; a NULL entry takes the default in brackets.
 */
typedef struct wsx__phase_ops {
  /* Plaintext bytes from the peer (after the stream layer) [ignored]. */
  void (*on_data)(wsx_socket *s, char *data, size_t len);
  /* End of the peer's stream: UV_EOF or a read error [close the handle]. */
  void (*on_eof)(wsx_socket *s, ssize_t err);
  /* The socket's deadline passed [close the handle]. */
  void (*on_timer)(wsx_socket *s);
  /* Buffered output fell back to the high-water mark [the app's drain]. */
  void (*on_drain)(wsx_socket *s);
  /* The high-water mark that applies now [options.high_water_mark]. */
  size_t (*hwm)(const wsx_socket *s);
} wsx__phase_ops;

/* Zero-copy reads on a plain stream, for the phases that have them (else
 * the loop's receive buffer): rx_span says where the next bytes may be
 * read to when at least `min` of them belong to one payload (NULL: the
 * receive buffer); rx_commit is called instead of on_data for a read
 * into that span. */
typedef struct wsx__rx_ops {
  char *(*rx_span)(wsx_socket *s, size_t min, size_t *len);
  void (*rx_commit)(wsx_socket *s, size_t n);
} wsx__rx_ops;

/* phases.c: the table, indexed by enum wsx__phase. */
extern const wsx__phase_ops *const wsx__phases[WSX__P_COUNT];
/* phases.c: the phases' zero-copy reads (NULL entries: none). */
extern const wsx__rx_ops *const wsx__phase_rx[WSX__P_COUNT];
extern const wsx__rx_ops wsx__ws_rx; /* ws.c: WS */
extern const wsx__phase_ops wsx__front_phase;     /* front.c: HEAD, REQUEST */
extern const wsx__phase_ops wsx__http_phase;      /* front.c: HTTP */
extern const wsx__phase_ops wsx__dial_phase;      /* client.c: DIAL */
extern const wsx__phase_ops wsx__client_hs_phase; /* client.c: CLIENT_HS */
extern const wsx__phase_ops wsx__proxy_phase;     /* proxy_client.c: PROXY */
extern const wsx__phase_ops wsx__ws_phase;        /* ws.c: WS */
extern const wsx__phase_ops wsx__h2_phase;        /* h2_conn.c: H2 */

/*
 * What each role that can hang on a socket does when the core ends it. A
 * socket plays several roles over its life (a server-side socket has a
 * request, then a driver; a client socket has a dialer, maybe a proxy
 * handshake, then a driver); each op checks its own state in the socket
 * and does nothing when the role is not (or no longer) there. The core
 * calls every role in wsx__roles order; a NULL entry does nothing.
 */
typedef struct wsx__role_ops {
  /* The core drops the connection without a close handshake (I/O or
   * stream layer error, max_buffered exceeded, lost deadline): `code` and
   * `reason` (0 / NULL = none) are the close the role reports. */
  void (*drop)(wsx_socket *s, uint16_t code, const char *reason);
  /* The handle closed. Nonzero: the role still owns the socket (e.g. a
   * resolver thread holds it) and calls wsx__sock_finalize itself. */
  int (*handle_closed)(wsx_socket *s);
  /* Finalizing, before the socket's close event. */
  void (*closing)(wsx_socket *s);
  /* Finalizing, after the close event: unlink and free the role's state. */
  void (*gone)(wsx_socket *s);
} wsx__role_ops;

enum wsx__role {
  WSX__R_SERVER, /* server.c, request.c: accepted socket, request, list */
  WSX__R_DIAL,   /* client.c: DNS and connect */
  WSX__R_WS,     /* ws.c, socket.c: the driver and its ping table */
  WSX__R_PROXY,  /* proxy_client.c: the CONNECT handshake's state */
  WSX__R_H2,     /* h2_conn.c: the HTTP/2 session carried by the socket */
  WSX__R_COUNT
};

/* phases.c: the table, indexed by enum wsx__role. */
extern const wsx__role_ops *const wsx__roles[WSX__R_COUNT];

/* Flags. */
#define WSX__F_HANDLE_CLOSING 0x0001u  /* uv_close called */
#define WSX__F_PAUSED 0x0002u          /* reading stopped by the app */
#define WSX__F_CLOSE_SENT 0x0004u      /* wsx_socket_close called: deadline */
#define WSX__F_ABOVE_HWM 0x0008u       /* drain is owed */
#define WSX__F_KA_WAITING 0x0010u      /* keepalive ping sent, pong pending */
#define WSX__F_RX_SEEN 0x0020u         /* bytes arrived since the last ping */
#define WSX__F_ADOPTED 0x0040u         /* stream memory owned by the app */
#define WSX__F_COUNTED 0x0080u         /* counts toward max_connections */
#define WSX__F_OWN_CFG 0x0100u         /* cfg allocated for this socket */
#define WSX__F_CLOSED_SET 0x0200u      /* close_code/reason recorded */
#define WSX__F_OVER_LIMIT 0x0400u      /* buffered amount over max_buffered */
#define WSX__F_SHUTDOWN 0x0800u        /* uv_shutdown issued */
#define WSX__F_WANT_FREE 0x1000u       /* handle closed, waiting for dial */
#define WSX__F_FAILED_REPORTED 0x2000u /* connect_failed fired */
#define WSX__F_FLUSH_CLOSE 0x4000u     /* our FIN was requested */
#define WSX__F_EOF 0x8000u             /* handle closes now: no teardown */
#define WSX__F_STARTING 0x10000u       /* server driver start() running */
#define WSX__F_SERVER                                                          \
  0x20000u                     /* on its server's list; cfg is the             \
                                  server's (see wsx__sock_srv) */
#define WSX__F_CLIENT 0x40000u /* made by wsx_socket_connect */
#define WSX__F_NO_LINGER                                                       \
  0x80000u /* close without waiting for the                                    \
              peer's FIN (see drv_close) */
#define WSX__F_BACKLOG 0x100000u /* reading stopped: output above the hwm */
#define WSX__F_YIELD 0x200000u   /* input set aside in rare->pend (yield.c) */
#define WSX__F_PARKED 0x400000u  /* waiting for message budget (budget.c) */
#define WSX__F_AWAIT_FIN                                                       \
  0x800000u /* no FIN of ours before the peer's: its EOF or the linger      \
               deadline closes the handle (see drv_close) */
/* Hibernation (uv/hibernate.c). */
#define WSX__F_ASLEEP 0x1000000u   /* no handle, no driver: see wsx__sock_wake */
#define WSX__F_NO_SLEEP 0x2000000u /* never sleeps (the app holds the driver) */
#define WSX__F_ACTIVE 0x4000000u   /* input or output since the last sweep */
#define WSX__F_IDLE1 0x8000000u    /* one sweep already found it idle */
#define WSX__F_ACT_APART 0x10000000u /* s->act is a block of its own */
#define WSX__F_ZHEAP 0x20000000u /* asleep: the saved driver is on the heap */
#define WSX__F_SLAB 0x40000000u  /* the socket's block is from cfg->slab */

/* A socket that may sleep has this many bytes after its ext area for its
 * driver's saved url and protocol (a pointer to them if longer). */
#define WSX__ZSAVE 32u

typedef struct wsx__dial wsx__dial; /* uv/dial.h */
typedef struct wsx__ping_rec wsx__ping_rec;

/* A socket's rarely used state (wsx_socket.rare), allocated on first use
 * (wsx__sock_rare_get) and freed with the socket, so an idle connection
 * that never pinged, never closed, carries no HTTP/2 session and holds no
 * message budget pays one pointer for all of it. */
typedef struct wsx__sock_rare {
  wsx__ping_rec *pings; /* app pings waiting for pongs */
  char *close_reason;   /* recorded close (heap, NULL = "") */
  struct wsx__h2 *h2;   /* the HTTP/2 session it carries (uv/h2.h): a server
                        * connection, or a client pool connection */
  size_t budget_held;   /* message memory granted from cfg->budget */
  /* yield.c: only for a socket whose driver decodes (extensions). */
  wsx__buf pend;       /* input not yet given to the driver */
  wsx_socket *ynext;   /* the loop's yield queue */
  uint64_t turn_mark;  /* driver's decoded bytes when this turn began */
} wsx__sock_rare;

/* A socket's transport-active part: its libuv handle, then (server) the
 * room for its embedded driver (cfg->drv_room bytes, at wsx__sock_room).
 * Inside the socket's block, or (cfg->hibernate_after) a block of its own
 * that a sleeping socket does not have (uv/hibernate.c). */
typedef struct wsx__sock_act {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
} wsx__sock_act;

struct wsx_socket {
  wsx__sock_act *act;      /* the handle (and driver room); NULL asleep */
  uv_stream_t *stream;     /* &act->h, or the adopted stream; NULL asleep */
  const wsx__cfg *cfg;     /* the server's, or own (WSX__F_OWN_CFG); has ctx */
  wsx_socket *next, *prev; /* server's connection list */
  wsx_driver *d;           /* NULL until the handshake starts */
  wsx_request *req;        /* server: request in progress (HEAD..HTTP) */
  wsx__dial *dial;         /* client: DNS/connect in progress */
  struct wsx_proxy *proxy; /* client: CONNECT handshake until the tunnel is
                              up (kept after a refusal for the accessors) */
  wsx__out *out; /* uv/writer.h: only while the kernel is behind */
  const wsx__layer *layer; /* stream layer (TLS later), NULL = plain */
  void *layer_state;
  wsx__sock_rare *rare; /* NULL until needed (see wsx__sock_rare) */
  void *ud;
  const wsx_socket_callbacks *cb; /* interned in ctx (never NULL) */
  uint64_t deadline;              /* 0 = none */
  uint64_t send_due;              /* send_timeout deadline, 0 = none */
  uint32_t heap_idx; /* position in ctx->heap (if deadline or send_due) */
  uint32_t flags;
  uint16_t close_code;
  uint8_t phase; /* enum wsx__phase */
  uint8_t close_clean;
  int32_t zfd;           /* asleep: the connection's descriptor */
  struct wsx__psock *ps; /* uv/pubsub.h: topics, NULL = none */
};

/* Bytes of a socket's block (without an inline handle): the socket, its
 * ext area, and WSX__ZSAVE if it may sleep. */
static inline size_t wsx__sock_head_size(const wsx__cfg *cfg) {
  return ((sizeof(wsx_socket) + 15u) & ~(size_t)15u) +
         ((cfg->ext_size + 15u) & ~(size_t)15u) +
         (cfg->hibernate_after ? WSX__ZSAVE : 0);
}

/* The WSX__ZSAVE bytes after the ext area of a socket that may sleep. */
static inline char *wsx__sock_zarea(const wsx_socket *s) {
  return (char *)(uintptr_t)s + ((sizeof(wsx_socket) + 15u) & ~(size_t)15u) +
         ((s->cfg->ext_size + 15u) & ~(size_t)15u);
}

/* conn.c */
/* cfg->ctx must be set; the caller holds a ctx reference for the socket.
 * One block: the socket, cfg->drv_room bytes for its driver, then the
 * app's ext_size bytes. */
wsx_socket *wsx__sock_alloc(const wsx__cfg *cfg, int own_cfg);
/* The room for the embedded driver (cfg->drv_room bytes, 16-byte
 * aligned) after the socket's handle. */
static inline void *wsx__sock_room(const wsx_socket *s) {
  return (char *)s->act + ((sizeof(wsx__sock_act) + 15u) & ~(size_t)15u);
}
/* s->rare, allocated (zeroed) if NULL; NULL: out of memory. */
wsx__sock_rare *wsx__sock_rare_get(wsx_socket *s);

/* hibernate.c */
/* Wakes a sleeping socket (WSX__F_ASLEEP): its handle and driver again,
 * reading. 0, or <0 when that failed (out of memory): the connection is
 * then dropped (close 1011, WSX__F_HANDLE_CLOSING set, the close event
 * fires from the loop, not from this call). */
int wsx__sock_wake(wsx_socket *s);
/* 1 if the socket is awake (woken now if it slept), 0 if waking it
 * failed (it is closing). The hot path's cost: one flag test. */
static inline int wsx__sock_awake(const wsx_socket *s) {
  return !(s->flags & WSX__F_ASLEEP) ||
         wsx__sock_wake((wsx_socket *)(uintptr_t)s) == 0;
}
/* A sweep of a server's connections (every hibernate_after / 2 ms): a
 * socket idle through two sweeps in a row sleeps if it can. Returns how
 * many it put to sleep. */
size_t wsx__hib_sweep(wsx_socket *first);
/* After many went to sleep and their handles' close callbacks ran: gives
 * whole free pages of the heap back to the system (glibc's malloc_trim;
 * the default allocator only). It blocks the loop: 0.7 ms on average,
 * 2.7 ms at worst with 10,000 connections (docs/performance.md). A
 * server trims at once when the loop's sleepers grew by 64 or more since
 * its last trim; when they only come and go (the same ones wake and sleep
 * again, and reuse what the others freed), at most once per
 * WSX__HIB_TRIM_GAPS x hibernate_after. */
void wsx__hib_trim(void);
/* Sockets asleep on the loop. */
size_t wsx__hib_sleeping(const wsx__loopctx *c);
#define WSX__HIB_TRIM_GAPS 10u
/* How many times wsx__hib_trim ran in this process (for tests). */
unsigned long wsx__hib_trims(void);
/* A publication (a server frame's bytes, p[0..n)) for a sleeping
 * subscriber (publish.c): sent straight to its descriptor when the kernel
 * takes it whole, so a broadcast does not wake idle subscribers. 1: sent
 * (still asleep; or, when the kernel took only part, woken with the rest
 * queued); 0: nothing written (the caller wakes it and goes the usual
 * way); <0: waking it failed (the connection is dropped). */
int wsx__hib_send(wsx_socket *s, const uint8_t *p, size_t n);
/* A sleeping socket's saved driver strings (driver/embed.h's block: read
 * with wsx__driver_embed_saved_str). */
const char *wsx__hib_saved(const wsx_socket *s);
/* A sleeping socket whose wake failed: its deferred finalization. */
void wsx__hib_dead(wsx_socket *s);
/* Closes the loop's sleepers' epoll (the context is freed: no socket is
 * left). */
void wsx__hib_ctx_free(wsx__loopctx *c);
/* Socket slabs (uv/slab.c). The loop's slab of `size`-byte slots (size a
 * multiple of 16; created on first use); NULL: none (out of memory, not
 * Linux, or under AddressSanitizer): use the allocator. */
struct wsx__slab *wsx__slab_for(wsx__loopctx *c, size_t size);
/* A slot (not zeroed), NULL: out of memory. */
void *wsx__slab_get(struct wsx__slab *sl);
/* Gives a slot back; a chunk left empty is unmapped (one empty chunk per
 * slab is kept). */
void wsx__slab_put(struct wsx__slab *sl, void *p);
/* Chunks the slab has mapped (256 KiB each); 0 for NULL. */
size_t wsx__slab_chunks(const struct wsx__slab *sl);
/* Unmaps every slab of the context (it is freed: no socket is left). */
void wsx__slabs_free(wsx__loopctx *c);
/* The socket's HTTP/2 session, NULL = none. */
static inline struct wsx__h2 *wsx__sock_h2(const wsx_socket *s) {
  return s->rare ? s->rare->h2 : NULL;
}
/* Stops reading from the stream (or the transport layer, e.g. HTTP/2). */
void wsx__sock_read_stop(wsx_socket *s);
/* Makes s the cork owner (uncorking the previous one). */
void wsx__sock_cork(wsx_socket *s);
/* Uncorks s, then applies the backlog rule to what this turn wrote
 * (`before`: the buffered amount when the turn began). */
void wsx__sock_uncork_checked(wsx_socket *s, size_t before);

/* A write that bypassed the socket's queue completed (publish.c): drain,
 * teardown. */
void wsx__sock_written(wsx_socket *s);

/* topics.c / publish.c: the loop's topic table and the shared-frame write
 * path beside writer.c (uv/pubsub.h). The core keeps them in step with the
 * socket's life: a closing socket leaves its topics, teardown waits for
 * shared frames still in libuv, the context frees its table. */
void wsx__pubsub_leave_all(wsx_socket *s); /* the connection closes */
void wsx__pubsub_free(wsx_socket *s);      /* the socket is freed */
void wsx__topics_free(wsx__loopctx *c);    /* the context is freed */
/* Shared frames of `s` queued in libuv or in its publish queue (teardown
 * waits for them). */
uint32_t wsx__pubsub_writes(const wsx_socket *s);
/* Writes s's queued publications now (pubflush.c): every write of the
 * socket's own calls this first, so a send never overtakes a publish. */
void wsx__pubsub_flush(wsx_socket *s);
/* Bytes of s's queued publications (part of the buffered amount). */
size_t wsx__pubsub_queued(const wsx_socket *s);

/* yield.c (the core's sliced input) */
/* Plaintext to the phase's on_data, in slices when the driver decodes
 * (extensions): yields to the loop past the per-turn work. */
void wsx__sock_feed(wsx_socket *s, char *data, size_t len);
/* Takes the socket out of the yield queue, drops its pending input. */
void wsx__yield_forget(wsx_socket *s);
/* budget.c: the cfg's budget allows (1) the socket to parse input that
 * may add `more` decoded bytes to its message, or not yet (0: the caller
 * parks it, input held in pend, reading stopped), or never (-1: the
 * connection was failed with 1013). */
int wsx__budget_admit(wsx_socket *s, size_t more);
/* Enters the socket (WSX__F_PARKED set) in the loop's wait list, or
 * keeps its place there. */
void wsx__budget_park(wsx_socket *s);
/* Takes the socket out of the wait list (it closes). */
void wsx__budget_forget(wsx_socket *s);
/* Frees the context's wait list (the context is freed). */
void wsx__budget_ctx_free(wsx__loopctx *c);
/* yield.c: queues the socket for a turn (its input is in pend). */
void wsx__yield_enqueue(wsx_socket *s);
/* A read turn begins: marks how much the socket's driver has decoded. */
void wsx__sock_turn_begin(wsx_socket *s);
void wsx__sock_start_read(wsx_socket *s);
/* End of the peer's stream (a FIN, a read error `err`, or a TLS
 * close_notify as UV_EOF): what happens depends on the phase. */
void wsx__sock_on_eof(wsx_socket *s, ssize_t err);
/* Sends bytes through the stream layer (if any); copies what the kernel
 * does not take. */
int wsx__sock_write(wsx_socket *s, const uv_buf_t *bufs, unsigned n);
size_t wsx__sock_buffered(const wsx_socket *s);
/* Flush, FIN, wait briefly for the peer's FIN, then close the handle. */
void wsx__sock_teardown(wsx_socket *s);
/* Closes the handle now; `close` fires from the close callback. */
void wsx__sock_close_handle(wsx_socket *s);
/* Records the close event reported when the handle closes (first wins). */
void wsx__sock_set_close(wsx_socket *s, uint16_t code, const char *reason,
                         size_t reason_len, int clean);
void wsx__sock_error(wsx_socket *s, int code, uint16_t close_code,
                     const char *msg);
/* Deadline passed: the phase's on_timer. Keepalive scheduling: ws.c. */
void wsx__sock_on_timer(wsx_socket *s);
/* The buffered amount stayed above the high-water mark for send_timeout
 * ms: the peer is dropped (WSX_E_TIMEOUT, close 1008). */
void wsx__sock_on_send_timeout(wsx_socket *s);
/* The deadline could not be entered in the heap (a bug: room is reserved
 * per context reference): fails the connection rather than leaving it
 * without a timeout. */
void wsx__sock_timer_lost(wsx_socket *s);
/* Drops the connection now without a close handshake: error event `err`
 * (0 = none) with `msg`, every role's drop (close `code`/`reason`), then
 * the handle closes (no teardown). */
void wsx__sock_drop(wsx_socket *s, int err, const char *msg, uint16_t code,
                    const char *reason);
/* After a send: enforce max_buffered, report above-hwm. */
int wsx__sock_after_send(wsx_socket *s, int rc);
/* Fires `close` and frees everything (after the handle closed). */
void wsx__sock_finalize(wsx_socket *s);
/* uv_close callback of a socket's stream. */
void wsx__sock_handle_closed(uv_handle_t *h);
/* The high-water mark that applies to the socket now (the phase's hwm op,
 * e.g. a plain HTTP response's own). */
size_t wsx__sock_hwm(const wsx_socket *s);

#endif
