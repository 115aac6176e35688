/* tools/wsx.c: `wsx` entry point: global options and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include <wsx/common.h>

#include "cmds.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"echo", wsx_cmd_echo, "echo server (every message back unchanged)"},
    {"connect", wsx_cmd_connect,
     "client: stdin lines out as messages, messages in to stdout"},
    {"autobahn-client", wsx_cmd_autobahn_client,
     "client for the Autobahn|Testsuite fuzzingserver"},
    {"serve", wsx_cmd_serve,
     "demo server: page with chat, EventSource clock, echo"},
    {"bench", wsx_cmd_bench,
     "load generator (messages/s against an echo "
     "server)"},
};

#define NUM_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fprintf(f, "usage: wsx COMMAND [OPTIONS]\n"
             "       wsx --help | --version\n\n"
             "WebSocket tools built on libwsx.\n\ncommands:\n");
  for (size_t i = 0; i < NUM_COMMANDS; i++)
    fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'wsx COMMAND --help' describes a command's options.\n"
             "Exit status: 0 success, 1 failure, 2 bad arguments.\n");
}

static const command *find(const char *name) {
  for (size_t i = 0; i < NUM_COMMANDS; i++)
    if (!strcmp(commands[i].name, name))
      return &commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *a = argv[1];
  if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(a, "-V") || !strcmp(a, "--version") || !strcmp(a, "version")) {
    const char *lib = wsx_version(0);
    printf("wsx %s (libwsx %s, libuv %s)\n", WSX_VERSION_STR, lib ? lib : "?",
           uv_version_string());
    return 0;
  }
  if (!strcmp(a, "help")) {
    if (argc < 3) {
      usage(stdout);
      return 0;
    }
    const command *c = find(argv[2]);
    if (!c) {
      fprintf(stderr, "wsx: unknown command '%s'\nTry 'wsx --help'.\n",
              argv[2]);
      return 2;
    }
    char help[] = "--help";
    char *hargv[] = {argv[2], help, NULL};
    return c->run(2, hargv);
  }
  const command *c = find(a);
  if (!c) {
    if (a[0] == '-')
      fprintf(stderr, "wsx: unknown option '%s'\n", a);
    else
      fprintf(stderr, "wsx: unknown command '%s'\n", a);
    fprintf(stderr, "Try 'wsx --help'.\n");
    return 2;
  }
  return c->run(argc - 1, argv + 1);
}
