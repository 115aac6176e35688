/*
 * tools/bench.h: `wsx bench`'s state, shared by its engine (cmd_bench.c:
 * connections, frames, the timed window, the result line) and its setup
 * (bench_setup.c: options, the prepared request and frames, --threads
 * worker processes). One generator per process: the state is one global.
 */
#ifndef WSX_TOOLS_BENCH_H
#define WSX_TOOLS_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

enum bench_mode { MODE_ECHO, MODE_RAW, MODE_HANDSHAKES, MODE_IDLE };

typedef struct bench_conn bench_conn; /* cmd_bench.c */

typedef struct bench {
  /* options */
  int mode;
  int conns;
  size_t size;
  double seconds;
  int binary;
  int quiet;
  int deflate;   /* --deflate: negotiate permessage-deflate */
  int warm;      /* --warm: idle connections echo once first */
  double rate;   /* --rate: messages per second in all, 0 = unbounded */
  int threads;   /* --threads N: N generator processes */
  int worker;    /* one of them (its parent reports) */
  double t_cpu0; /* our CPU seconds when the run started */
  char host[256];
  char port[8];
  char path[1024];
  /* prepared bytes */
  char *request; /* the upgrade request */
  size_t request_len;
  uint8_t *frame; /* the masked message frame (or raw payload) */
  size_t frame_len;
  uint8_t close_frame[8];
  /* runtime */
  uv_loop_t *loop;
  struct sockaddr_storage addr;
  bench_conn *c;
  int opened;    /* connections that reached ST_OPEN (ever) */
  int next_open; /* index of the next connection to start */
  int pending_opens;
  int measuring; /* the timed window has started */
  int stopping;
  int failed;
  uint64_t t_start;    /* hrtime of the window start */
  uint64_t msgs;       /* messages completed inside the window */
  uint64_t msgs_total; /* messages completed since the first connect */
  uint64_t handshakes; /* completed open->echo->close cycles in the window */
  uint64_t last_count; /* for the per-second progress line */
  uint64_t last_t;
  /* Turns of our loop (a uv_check: once per poll) in the window, and at
   * the last progress line: messages per turn says whether the two ends
   * run batched (many ready connections per poll) or in lockstep (about
   * one, each side waking for each message). */
  uint64_t turns, last_turns;
  uv_check_t turn;
  int ticks;
  uv_timer_t tick;
  uv_timer_t stop;
  char *read_buf;
  /* --rate: connections waiting to send, a ring of indices into c */
  uv_timer_t pace;
  int *ready;
  int ready_head, ready_len;
  double pace_credit; /* messages that may be sent now */
  uint64_t pace_ms;   /* uv_now() when pace_credit was last filled */
} bench;

/* The generator of this process (cmd_bench.c). */
extern bench B;

/* bench_setup.c */
/* Parses argv into B. Returns 0, or 2 after printing a usage error. */
int bench_parse_args(int argc, char **argv);
/* Builds the shared request, message frame and close frame; -1: no memory
 * (or a message zlib could not compress). */
int bench_prepare(void);
/* CPU seconds (user + system) of this process (RUSAGE_SELF) or of its
 * waited-for children (RUSAGE_CHILDREN). */
double bench_cpu_seconds(int who);
/* --threads N: N processes running bench_run_one on a share of the
 * connections; prints their summed result line. Returns the exit code. */
int bench_run_workers(int n);

/* cmd_bench.c: one generator on this process's loop; prints the result
 * line. Returns the exit code. */
int bench_run_one(void);

#endif /* WSX_TOOLS_BENCH_H */
