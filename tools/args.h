/*
 * tools/args.h: the small option-parsing helpers shared by the wsx
 * subcommands. Every helper that rejects an argument prints
 * "wsx CMD: <why>" plus a "Try 'wsx CMD --help'." hint on stderr and
 * returns 2, the exit code for usage errors.
 */
#ifndef WSX_TOOLS_ARGS_H
#define WSX_TOOLS_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Matches argv[*i] against the option `name` ("--port"). On a match returns
 * 1 and, if `value` is non-NULL, takes the option's value from "--port=80"
 * or from the next argument (advancing *i); a missing value prints an error
 * and returns 2. Returns 0 when argv[*i] is another option.
 */
int cli_option(const char *cmd, int argc, char **argv, int *i, const char *name,
               const char **value);

/* Prints "wsx CMD: <message>" and the --help hint; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a TCP port 0..65535 (decimal). Returns 0 or 2 (error printed). */
int cli_port(const char *cmd, const char *opt, const char *s, int *port);

/* Parses a positive decimal integer not above `max`. Returns 0 or 2. */
int cli_uint(const char *cmd, const char *opt, const char *s, uint64_t max,
             uint64_t *out);

/* Checks that `host` is an IPv4 or IPv6 literal or a host name (letters,
 * digits, '-' and dots; tools/listen.h resolves it). Returns 0 or 2. */
int cli_host(const char *cmd, const char *host);

/* Non-zero if `a` is "-h" or "--help". */
int cli_is_help(const char *a);

/*
 * Writes `s` (len bytes) to `f` with bytes that could break a one-line log
 * (controls, DEL) written as \xNN, so a peer cannot forge log lines.
 */
void cli_write_escaped(FILE *f, const char *s, size_t len);

/* Formats "host:port", or "[host]:port" for an IPv6 literal, into buf. */
void cli_hostport(char *buf, size_t len, const char *host, int port);

#endif /* WSX_TOOLS_ARGS_H */
