/* tools/threads.c: running a server group from the CLI (see threads.h). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "args.h"
#include "listen.h"
#include "threads.h"

static struct {
  const cli_group_spec *spec;
  uv_loop_t *loop;
  uv_signal_t sigint, sigterm;
  uv_timer_t grace;
  uv_async_t done; /* a loop's server closed */
  wsx_server_group *g;
  atomic_uint closed;
  int stopping;
} R;

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void close_handles(void) {
  uv_close((uv_handle_t *)&R.sigint, on_handle_closed);
  uv_close((uv_handle_t *)&R.sigterm, on_handle_closed);
  uv_close((uv_handle_t *)&R.grace, on_handle_closed);
  uv_close((uv_handle_t *)&R.done, on_handle_closed);
}

/* On a loop's thread. */
static void on_server_closed(wsx_server *srv, void *ud) {
  (void)srv, (void)ud;
  atomic_fetch_add(&R.closed, 1);
  uv_async_send(&R.done);
}

static void on_done(uv_async_t *a) {
  (void)a;
  if (atomic_load(&R.closed) == R.spec->threads) {
    if (R.spec->stopped)
      R.spec->stopped();
    close_handles();
  }
}

static void on_grace_expired(uv_timer_t *t) {
  (void)t;
  fprintf(stderr, "wsx %s: connections still closing after %u ms; exiting\n",
          R.spec->cmd, R.spec->grace_ms);
  fflush(stdout);
  exit(0);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  if (R.stopping) {
    fprintf(stderr, "wsx %s: signal %d during shutdown; exiting now\n",
            R.spec->cmd, signum);
    fflush(stdout);
    exit(1);
  }
  R.stopping = 1;
  if (uv_timer_start(&R.grace, on_grace_expired, R.spec->grace_ms, 0) == 0)
    uv_unref((uv_handle_t *)&R.grace);
  wsx_server_group_stop(R.g);
}

static int listen_all(const cli_group_spec *sp) {
  unsigned i;
  int port = sp->port;
  for (i = 0; i < sp->threads; i++) {
    wsx_server *srv = wsx_server_group_server(R.g, i);
    if (cli_listen(srv, sp->cmd, sp->host, port))
      return 1;
    port = wsx_server_port(srv);
  }
  return 0;
}

int cli_run_group(const cli_group_spec *sp) {
  wsx_server_group_options go = WSX_SERVER_GROUP_OPTIONS_INIT;
  wsx_server_group_callbacks gc = WSX_SERVER_GROUP_CALLBACKS_INIT;
  wsx_server_callbacks sc = *sp->cbs;
  char where[300];
  int err = 0, r = 0;
  R.spec = sp;
  R.loop = uv_default_loop();
  atomic_init(&R.closed, 0);
  sc.closed = on_server_closed;
  go.threads = sp->threads;
  go.server = sp->opts;
  gc.server = &sc;
  gc.loop_start = sp->loop_start;
  gc.loop_stop = sp->loop_stop;
  signal(SIGPIPE, SIG_IGN);
  if (uv_signal_init(R.loop, &R.sigint) || uv_signal_init(R.loop, &R.sigterm) ||
      uv_timer_init(R.loop, &R.grace) ||
      uv_async_init(R.loop, &R.done, on_done) ||
      uv_signal_start(&R.sigint, on_signal, SIGINT) ||
      uv_signal_start(&R.sigterm, on_signal, SIGTERM)) {
    fprintf(stderr, "wsx %s: cannot set up signal handling\n", sp->cmd);
    return 1;
  }
  /* The async handle keeps this loop running until every server closed. */
  uv_unref((uv_handle_t *)&R.sigint);
  uv_unref((uv_handle_t *)&R.sigterm);
  R.g = wsx_server_group_new(&go, &gc, NULL, &err);
  if (!R.g) {
    fprintf(stderr, "wsx %s: cannot create the servers: %s\n", sp->cmd,
            wsx_uv_strerror(err));
    r = 1;
  } else if (listen_all(sp) || (sp->ready && sp->ready(R.g))) {
    r = 1;
  } else if ((err = wsx_server_group_start(R.g)) < 0) {
    fprintf(stderr, "wsx %s: cannot start the threads: %s\n", sp->cmd,
            wsx_uv_strerror(err));
    r = 1;
  } else {
    cli_hostport(where, sizeof where, sp->host,
                 wsx_server_group_port(R.g));
    printf("listening on %s://%s/ (%u threads)\n", sp->scheme, where,
           sp->threads);
    fflush(stdout);
  }
  if (r) {
    wsx_server_group_free(R.g); /* servers close: `done` closes the rest */
    R.g = NULL;
    if (atomic_load(&R.closed) != sp->threads) {
      if (sp->stopped)
        sp->stopped();
      close_handles();
    }
  }
  uv_run(R.loop, UV_RUN_DEFAULT);
  if (R.g)
    wsx_server_group_free(R.g);
  if (uv_loop_close(R.loop))
    fprintf(stderr, "wsx %s: loop closed with handles open\n", sp->cmd);
  return r;
}
