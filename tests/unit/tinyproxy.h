/*
 * tests/unit/tinyproxy.h: a real tinyproxy (Debian's) on a free loopback
 * port for the proxy tests (test_uv_proxy.c, test_uv_es_proxy.c). The
 * binary is $WSX_TINYPROXY or /usr/bin/tinyproxy; tp_stop() kills it by
 * PID and removes its folder.
 */
#ifndef WSX_TESTS_TINYPROXY_H
#define WSX_TESTS_TINYPROXY_H

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct tproxy {
  pid_t pid;
  int port;
  char dir[64];
} tproxy;

static inline const char *tinyproxy_path(void) {
  const char *p = getenv("WSX_TINYPROXY");
  return p && *p ? p : "/usr/bin/tinyproxy";
}

static inline int free_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

static inline int port_open(int port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  if (fd >= 0)
    close(fd);
  return ok;
}

static inline void tp_stop(tproxy *t) {
  char path[128];
  if (t->pid > 0) {
    kill(t->pid, SIGTERM);
    waitpid(t->pid, NULL, 0);
    t->pid = 0;
  }
  if (t->dir[0]) {
    snprintf(path, sizeof(path), "%s/tinyproxy.conf", t->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/log", t->dir);
    unlink(path);
    rmdir(t->dir);
    t->dir[0] = '\0';
  }
}

/* Starts tinyproxy on an ephemeral loopback port allowing CONNECT to
 * `connect_port` only; `auth` is "user password" or NULL. Returns NULL on
 * success or a reason. */
static inline const char *tp_start(tproxy *t, int connect_port, const char *auth) {
  posix_spawn_file_actions_t fa;
  char conf[128], log[128];
  char *argv[5];
  FILE *f;
  int tries, i;
  memset(t, 0, sizeof(*t));
  if (access(tinyproxy_path(), X_OK) != 0)
    return "tinyproxy not installed";
  snprintf(t->dir, sizeof(t->dir), "/tmp/wsx-tinyproxy-XXXXXX");
  if (!mkdtemp(t->dir)) {
    t->dir[0] = '\0';
    return "mkdtemp failed";
  }
  snprintf(conf, sizeof(conf), "%s/tinyproxy.conf", t->dir);
  snprintf(log, sizeof(log), "%s/log", t->dir);
  for (tries = 0; tries < 5; tries++) {
    t->port = free_port();
    if (!(f = fopen(conf, "w")))
      return "cannot write the tinyproxy config";
    fprintf(f,
            "Port %d\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 10\n"
            "MaxClients 16\nLogLevel Connect\nConnectPort %d\n",
            t->port, connect_port);
    if (auth)
      fprintf(f, "BasicAuth %s\n", auth);
    fclose(f);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    argv[0] = (char *)tinyproxy_path();
    argv[1] = (char *)"-d";
    argv[2] = (char *)"-c";
    argv[3] = conf;
    argv[4] = NULL;
    if (posix_spawn(&t->pid, argv[0], &fa, NULL, argv, environ) != 0) {
      posix_spawn_file_actions_destroy(&fa);
      t->pid = 0;
      return "posix_spawn(tinyproxy) failed";
    }
    posix_spawn_file_actions_destroy(&fa);
    for (i = 0; i < 250; i++) { /* up to 5 s */
      struct timespec ts = {0, 20 * 1000 * 1000};
      if (waitpid(t->pid, NULL, WNOHANG) == t->pid) {
        t->pid = 0; /* exited: the port was taken meanwhile, retry */
        break;
      }
      if (port_open(t->port))
        return NULL;
      nanosleep(&ts, NULL);
    }
    if (t->pid)
      break;
  }
  tp_stop(t);
  return "tinyproxy did not start listening";
}

/* Non-zero if tinyproxy's log mentions `needle`. */
static inline int tp_log_has(const tproxy *t, const char *needle) {
  char path[128], buf[16384];
  size_t n;
  FILE *f;
  snprintf(path, sizeof(path), "%s/log", t->dir);
  if (!(f = fopen(path, "r")))
    return 0;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strstr(buf, needle) != NULL;
}

#endif /* WSX_TESTS_TINYPROXY_H */
