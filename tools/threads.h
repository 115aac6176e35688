/*
 * tools/threads.h: `--threads N` for the CLI servers: one server on N loops
 * (wsx/group.h), one thread each, SO_REUSEPORT listeners on one port
 * (or one acceptor dealing connections where SO_REUSEPORT is missing). The
 * process's main thread only waits for SIGINT / SIGTERM, then stops the
 * group gracefully (bounded by a grace time) and joins the threads.
 */
#ifndef WSX_TOOLS_THREADS_H
#define WSX_TOOLS_THREADS_H

#include <wsx/group.h>

typedef struct cli_group_spec {
  const char *cmd;                   /* "echo", "serve": for messages */
  unsigned threads;                  /* >= 1 */
  const wsx_server_options *opts;    /* every loop's server */
  const wsx_server_callbacks *cbs;   /* `closed` is the runner's */
  /* Per-loop set-up / tear-down on the loop's thread (may be NULL). */
  void (*loop_start)(wsx_server_group *g, unsigned index, uv_loop_t *loop,
                     wsx_server *srv, void *ud);
  void (*loop_stop)(wsx_server_group *g, unsigned index, uv_loop_t *loop,
                    void *ud);
  /* After the group listens and before it starts (may be NULL): e.g. to
   * attach a backplane. Returns 0 or 1 (exit status 1). */
  int (*ready)(wsx_server_group *g);
  /* On the main thread once every loop's server closed (may be NULL):
   * e.g. to free a backplane, whose connections keep the loop alive. */
  void (*stopped)(void);
  const char *scheme; /* "ws", "wss", "http" for the listening line */
  const char *host;
  int port;
  unsigned grace_ms; /* graceful shutdown bound */
} cli_group_spec;

/* Runs the group until a signal and a graceful shutdown. Prints
 * "listening on SCHEME://HOST:PORT/". Returns the exit status (0, or 1 if
 * it could not start). */
int cli_run_group(const cli_group_spec *spec);

#endif /* WSX_TOOLS_THREADS_H */
