/*
 * tools/cmds.h: the subcommands of the `wsx` CLI.
 *
 * Each takes the arguments from the subcommand name on: argv[0] is the
 * name ("echo", "connect", ...), options follow. Each returns the process
 * exit status: 0 success, 1 runtime failure (connection failed, port in
 * use, ...), 2 usage error (message and hint already printed on stderr).
 */
#ifndef WSX_TOOLS_CMDS_H
#define WSX_TOOLS_CMDS_H

/* wsx echo: the echo server (tools/cmd_echo.c). */
int wsx_cmd_echo(int argc, char **argv);
/* wsx connect: the line-oriented client (tools/cmd_connect.c). */
int wsx_cmd_connect(int argc, char **argv);
/* wsx autobahn-client: Autobahn|Testsuite fuzzingserver client
 * (tools/cmd_autobahn.c). */
int wsx_cmd_autobahn_client(int argc, char **argv);
/* wsx serve: the demo server with an embedded page (tools/cmd_serve.c). */
int wsx_cmd_serve(int argc, char **argv);
/* wsx bench: the load generator (tools/cmd_bench.c). */
int wsx_cmd_bench(int argc, char **argv);

#endif /* WSX_TOOLS_CMDS_H */
